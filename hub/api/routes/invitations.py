"""Sign-in links (hub/auth/invitations.py) over HTTP.

- ``/invite/<token>``: the person chooses a password and is signed in, then lands where
  they were going (the desk whose label they scanned) or on their home ``/me``.
- ``/signin-link``: "no password yet, or forgot it?" A person types their e-mail address
  and, if an account has it and e-mail is set up, gets a link (1 hour) that returns to
  where they were going. The answer is the same whether or not the address is known.
- ``/admin/invitations``: an administrator makes links for one person or for everyone who
  never signed in, as a printable list, a CSV file, or e-mails.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, Response

from hub.api.deps import SettingsDep, StoreDep
from hub.api.next_path import safe_next
from hub.api.routes.admin_pages import admin_or_refusal, admin_render
from hub.api.routes.me import site_zone
from hub.api.routes.web import (
    CSRF_FAILED,
    NextForm,
    NextQuery,
    _csrf_ok,
    _render,
    start_session,
)
from hub.auth import accounts, invitations, mailer, ratelimit
from hub.auth.accounts import Principal
from hub.checkin import labels
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.privacy import audit
from hub.privacy.readable import local_datetime

log = logging.getLogger(__name__)
router = APIRouter(tags=["invitations"], include_in_schema=False)
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
LINK_REQUESTS_PER_HOUR = 3  # per address: nobody floods a mailbox through the hub
LINK_SENT = ("If an account has this address, a sign-in link is on its way to it. It works "
             "once, for one hour. Check your inbox (and the spam folder).")
NO_MAIL = ("E-mail is not set up on this hub, so it cannot send you a link. Ask your office "
           "team for an invitation.")


def base_url(request: Request, settings: HubSettings) -> str:
    return settings.public_url or str(request.base_url)


def _expires_words(store: Store, at: float) -> str:
    zone = site_zone(store, None)
    return f"{local_datetime(zone, at)} ({zone})"


def _letters(store: Store, request: Request, settings: HubSettings,
             made: list[invitations.Invitation]) -> list[mailer.Letter]:
    return [mailer.Letter(to=i.email, name=i.name or "", link=i.url(base_url(request, settings)),
                          expires=_expires_words(store, i.expires))
            for i in made if i.email]


# -- the person's side -------------------------------------------------------------------------

def _invite_page(request: Request, store: Store, token: str, *, error: str | None = None,
                 code: int = 200) -> Response:
    try:
        row: dict[str, Any] | None = invitations.peek(store.db, token)
    except invitations.InvitationInvalid as exc:
        row, error, code = None, str(exc), status.HTTP_410_GONE
    return _render(request, "invite.html", {
        "invitation": row, "token": token, "error": error,
        "min_length": accounts.MIN_PASSWORD_LENGTH}, status_code=code)


@router.get(invitations.PATH + "{token}", response_class=HTMLResponse)
def invite_form(request: Request, store: StoreDep, token: Token) -> Response:
    """Choose a password for the account the link belongs to (the link is not used yet)."""
    return _invite_page(request, store, token)


@router.post(invitations.PATH + "{token}", response_class=HTMLResponse)
def invite_redeem(
    request: Request, store: StoreDep, token: Token,
    new: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Set the password, use the link up, sign in and go where the person was going."""
    if not _csrf_ok(request, csrf_token):
        return _invite_page(request, store, token, error=CSRF_FAILED, code=403)
    try:
        row = invitations.redeem(store.db, token, new, confirm)
    except accounts.PasswordRejected as exc:
        return _invite_page(request, store, token, error=str(exc), code=400)
    except invitations.InvitationInvalid:
        return _invite_page(request, store, token)
    # The password was just chosen, so it is no longer a one-time one.
    principal = Principal(kind="session", name=row["username"], role=row["role"],
                          user_id=int(row["user_id"]), must_change_password=False)
    return start_session(request, store, principal, safe_next(row["next"], "/me"))


@router.get("/signin-link", response_class=HTMLResponse)
def link_form(request: Request, settings: SettingsDep, next_path: NextQuery = "") -> Response:
    return _render(request, "signin_link.html", {
        "next": safe_next(next_path, ""), "mail": mailer.enabled(settings), "sent": None,
        "error": None, "email": ""})


@router.post("/signin-link", response_class=HTMLResponse)
def link_request(
    request: Request, store: StoreDep, settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next_path: NextForm = "",
) -> Response:
    """Mail a one-hour link to the account with this address (same answer if there is none)."""
    context: dict[str, Any] = {"next": safe_next(next_path, ""), "mail": mailer.enabled(settings),
                               "sent": None, "error": None, "email": email}
    if not _csrf_ok(request, csrf_token):
        return _render(request, "signin_link.html", {**context, "error": CSRF_FAILED},
                       status_code=403)
    if not mailer.enabled(settings):
        return _render(request, "signin_link.html", {**context, "error": NO_MAIL},
                       status_code=503)
    wait = ratelimit.take(store, "signin-link:" + email.strip().lower(),
                          limit=LINK_REQUESTS_PER_HOUR, window=3600)
    if wait is not None:
        return _render(request, "signin_link.html", {
            **context, "error": f"a link was asked for this address {LINK_REQUESTS_PER_HOUR} "
            f"times in the last hour; try again in {int(wait // 60) + 1} minutes"},
            status_code=429)
    person = invitations.account_for_email(store.db, email)
    if person is not None:
        made = invitations.create(store.db, person, ttl=invitations.SELF_SERVICE_TTL_SECONDS,
                                  next_path=safe_next(next_path, "") or None)
        # Sent after the answer, in the background: a known address must not answer more
        # slowly than an unknown one (that would tell who works here).
        letters = _letters(store, request, settings, [made])
        threading.Thread(target=_send_quietly, args=(settings, letters),
                         name="signin-link-mail", daemon=True).start()
    return _render(request, "signin_link.html", {**context, "sent": LINK_SENT})


def _send_quietly(settings: HubSettings, letters: list[mailer.Letter]) -> None:
    try:
        mailer.send(settings, letters)
    except mailer.MailFailed as exc:
        log.warning("a requested sign-in link was not sent: %s", exc)


# -- the administrator's side ------------------------------------------------------------------

def make_invitations(store: Store, request: Request, actor: Principal,
                     people: list[int]) -> list[invitations.Invitation]:
    """One fresh link per account, each audited (the person sees it on My data)."""
    secret: str = request.app.state.secret_key
    made = []
    for person in people:
        invitation = invitations.create(store.db, person)
        audit.append(store.db, actor, "invite", audit.subject_for(store.db, secret, person),
                     "sign-in link created (expires in 7 days)")
        made.append(invitation)
    return made


def invitations_response(store: Store, request: Request, settings: HubSettings,
                         principal: Principal, made: list[invitations.Invitation],
                         how: str) -> Response:
    """The links as a printable page, a CSV download, or e-mails (with what was sent)."""
    base = base_url(request, settings)
    if how == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["username", "name", "email", "link", "expires"])
        for i in made:
            writer.writerow([i.username, i.name or "", i.email or "", i.url(base),
                             _expires_words(store, i.expires)])
        return Response(out.getvalue(), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="deskpulse-invitations.csv"',
            "Cache-Control": "no-store"})
    sent: list[str] = []
    error = None
    if how == "email":
        letters = _letters(store, request, settings, made)
        try:
            refused = mailer.send(settings, letters)
            sent = [letter.to for letter in letters if letter.to not in refused]
        except mailer.MailFailed as exc:
            error = str(exc)
    rows = [{"username": i.username, "name": i.name, "email": i.email, "link": i.url(base),
             "expires": _expires_words(store, i.expires), "sent": i.email in sent}
            for i in made]
    return admin_render(request, principal, "admin_invitations.html", "people", {
        "rows": rows, "sent": len(sent), "error": error, "how": how,
        "mail": mailer.enabled(settings),
        "loopback": labels.loopback_warning(base, "the sign-in links")})


@router.post("/admin/invitations", response_class=HTMLResponse)
def admin_invite(
    request: Request, store: StoreDep, settings: SettingsDep,
    who: Annotated[str, Form(max_length=40)] = "never-signed-in",
    how: Annotated[str, Form(max_length=10)] = "print",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """``who``: an account id or ``never-signed-in``; ``how``: print, csv or email."""
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    if how not in ("print", "csv", "email"):
        raise HTTPException(422, detail="how must be print, csv or email")
    if how == "email" and not mailer.enabled(settings):
        raise HTTPException(409, detail="e-mail is not set up: add smtp_host to hub.toml, "
                                        "or print the links")
    if who == "never-signed-in":
        people = invitations.never_signed_in(store.db)
    elif who.isdigit():
        people = [int(who)]
    else:
        raise HTTPException(422, detail="who must be an account id or never-signed-in")
    made = make_invitations(store, request, principal, people)
    return invitations_response(store, request, settings, principal, made, how)
