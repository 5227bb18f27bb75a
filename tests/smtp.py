"""A real SMTP server for tests: aiosmtpd on a free port, keeping every message it accepts.

The hub's mailer (hub/auth/mailer.py) talks to it with smtplib exactly as to a company's mail
relay; tests read what arrived from :attr:`SmtpServer.messages`.
"""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.broker import free_port


class _Keep:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, port: int, keep: _Keep) -> None:
        self.host, self.port, self._keep = "127.0.0.1", port, keep

    @property
    def messages(self) -> list[EmailMessage]:
        return self._keep.messages

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once at least ``count`` have arrived (AssertionError after timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"{len(self.messages)} of {count} e-mails arrived"
        return self.messages


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    keep = _Keep()
    port = free_port()
    controller = Controller(keep, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, keep)
    finally:
        controller.stop()
