"""Invitation e-mails over SMTP with the standard library (``smtplib``, ``email``).

Configured by the ``smtp_*`` settings of hub.toml; without ``smtp_host`` nothing is sent
and the invitations are handed out as a printed list or CSV instead. One connection per
batch, STARTTLS unless turned off, and a bounded timeout, so a dead mail server costs a
page at most ``smtp_timeout`` seconds and says so.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from html import escape

from hub.config import HubSettings
from hub.errors import DeskpulseError

log = logging.getLogger(__name__)


class MailFailed(DeskpulseError):
    """The mail server could not be reached or refused the message."""


@dataclass(frozen=True)
class Letter:
    to: str
    name: str
    link: str
    expires: str  # already in words and the site's time zone


def enabled(settings: HubSettings) -> bool:
    return bool(settings.smtp_host)


def invitation_message(letter: Letter, sender: str) -> EmailMessage:
    """A plain-text and HTML invitation naming the link and when it stops working."""
    message = EmailMessage()
    message["Subject"] = "Your Deskpulse sign-in link"
    message["From"] = sender
    message["To"] = letter.to
    greeting = f"Hello {letter.name}," if letter.name else "Hello,"
    message.set_content(
        f"{greeting}\n\nopen this link to choose your Deskpulse password and sign in:\n\n"
        f"{letter.link}\n\nThe link works once and until {letter.expires}. If you did not "
        "expect it, ignore this e-mail: nothing happens until the link is opened.\n")
    message.add_alternative(
        f"<p>{escape(greeting)}</p><p><a href=\"{escape(letter.link)}\" id=\"invite-link\">"
        "Choose your password and sign in</a></p>"
        f"<p>The link works once and until {escape(letter.expires)}. If you did not expect "
        "it, ignore this e-mail.</p>", subtype="html")
    return message


def send(settings: HubSettings, letters: Sequence[Letter]) -> list[str]:
    """Send each letter over one SMTP connection; the addresses the server refused.

    MailFailed (one line, what to check) when the server cannot be used at all.
    """
    if not letters:
        return []
    host = settings.smtp_host
    if not host:
        raise MailFailed("no smtp_host in hub.toml: e-mail is not configured")
    refused: list[str] = []
    try:
        with smtplib.SMTP(host, settings.smtp_port, timeout=settings.smtp_timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            for letter in letters:
                try:
                    smtp.send_message(invitation_message(letter, settings.smtp_from))
                except smtplib.SMTPRecipientsRefused:
                    refused.append(letter.to)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailFailed(f"cannot send e-mail through {host}:{settings.smtp_port} ({exc}): "
                         "check smtp_host, smtp_port, smtp_starttls and the credentials "
                         "in hub.toml") from None
    log.info("sent %d invitation e-mails (%d refused)", len(letters) - len(refused),
             len(refused))
    return refused
