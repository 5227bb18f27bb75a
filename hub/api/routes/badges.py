"""The employee's own beacon badges: enrol, list, withdraw (API and the /me/badges page).

Opt-in and revocable (PRIVACY.md item 5): only the signed-in person can enrol a badge for
themselves, and withdrawing works at once. Another person's badge id answers 404, exactly
like one that does not exist. The page uses plain forms with the signed CSRF token, so it
needs no script at all (CSP).
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from hub.api.deps import SettingsDep, StoreDep
from hub.api.routes.me import PersonDep
from hub.api.routes.web import CSRF_FAILED, _csrf_ok, _render, _signed_in, sign_in_first
from hub.checkin import badges
from hub.checkin.badges import Badge, BadgeTaken
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.errors import NotFound

pages = APIRouter(tags=["checkin"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["checkin"])
BADGES_PAGE = "/me/badges"
_ID = Annotated[int, Path(ge=1, le=2**63 - 1)]


class BadgeCreate(BaseModel):
    """An iBeacon's identifiers; hashed at once and never stored."""

    uuid: uuid.UUID
    major: int = Field(ge=0, le=65535)
    minor: int = Field(ge=0, le=65535)


class BadgePublic(BaseModel):
    id: int
    hint: str = Field(description="first 8 hex characters of the badge's keyed hash")
    enrolled: float
    withdrawn: float | None
    active: bool

    @classmethod
    def of(cls, badge: Badge) -> BadgePublic:
        return cls(id=badge.id, hint=badge.hint, enrolled=badge.enrolled,
                   withdrawn=badge.withdrawn, active=badge.withdrawn is None)


def _enrol(store: Store, settings: HubSettings, person: int, body: BadgeCreate) -> Badge:
    try:
        return badges.enrol(store, settings, person, body.uuid, body.major, body.minor)
    except BadgeTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None


@api.get("/me/badges", response_model=list[BadgePublic])
def my_badges(store: StoreDep, person: PersonDep) -> list[BadgePublic]:
    """The caller's own badge enrolments, withdrawn ones included."""
    return [BadgePublic.of(b) for b in badges.mine(store, person)]


@api.post("/me/badges", response_model=BadgePublic, status_code=status.HTTP_201_CREATED,
          responses={409: {"description": "this badge is already enrolled"}})
def enrol_badge(
    store: StoreDep, settings: SettingsDep, person: PersonDep, body: BadgeCreate
) -> BadgePublic:
    """Enrol one's own iBeacon badge for check-in at desks (opt-in)."""
    return BadgePublic.of(_enrol(store, settings, person, body))


@api.delete("/me/badges/{badge_id}", response_model=BadgePublic,
            responses={404: {"description": "no such badge of yours"}})
def withdraw_badge(store: StoreDep, person: PersonDep, badge_id: _ID) -> BadgePublic:
    """Withdraw one's badge: it stops checking in at once; its hash is erased."""
    return BadgePublic.of(badges.withdraw(store, person, badge_id))


# -- the page ---------------------------------------------------------------------------------

def _page(
    request: Request, store: Store, person: int, name: str, *,
    error: str | None = None, status_code: int = 200,
) -> Response:
    rows = [{"id": b.id, "hint": b.hint, "active": b.withdrawn is None,
             "enrolled": _when(b.enrolled), "withdrawn": _when(b.withdrawn)}
            for b in badges.mine(store, person)]
    return _render(request, "me_badges.html", {"username": name, "badges": rows,
                                               "error": error}, status_code=status_code)


def _when(at: float | None) -> str:
    return "" if at is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


@pages.get(BADGES_PAGE, response_class=HTMLResponse)
def badges_page(request: Request, store: StoreDep) -> Response:
    principal = _signed_in(request, store)
    if principal is None or principal.user_id is None:
        return sign_in_first(request)
    return _page(request, store, principal.user_id, principal.name)


def _form_person(request: Request, store: Store, csrf_token: str) -> tuple[int, str]:
    if not _csrf_ok(request, csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    principal = _signed_in(request, store)
    if principal is None or principal.user_id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="sign in first")
    return principal.user_id, principal.name


@pages.post(BADGES_PAGE, response_class=HTMLResponse)
def badges_enrol_form(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    beacon_uuid: Annotated[str, Form(max_length=64)] = "",
    major: Annotated[str, Form(max_length=10)] = "",
    minor: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    person, name = _form_person(request, store, csrf_token)
    try:
        body = BadgeCreate(uuid=uuid.UUID(beacon_uuid.strip()), major=int(major),
                           minor=int(minor))
    except ValueError:
        return _page(request, store, person, name, status_code=422,
                     error="Enter the badge's UUID and its major and minor (0-65535).")
    try:
        badges.enrol(store, settings, person, body.uuid, body.major, body.minor)
    except BadgeTaken as exc:
        return _page(request, store, person, name, error=str(exc), status_code=409)
    return RedirectResponse(BADGES_PAGE, status_code=status.HTTP_303_SEE_OTHER)


@pages.post(BADGES_PAGE + "/{badge_id}/withdraw", response_class=HTMLResponse)
def badges_withdraw_form(
    request: Request,
    store: StoreDep,
    badge_id: _ID,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    person, _ = _form_person(request, store, csrf_token)
    try:
        badges.withdraw(store, person, badge_id)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such badge") from None
    return RedirectResponse(BADGES_PAGE, status_code=status.HTTP_303_SEE_OTHER)


router = APIRouter()
router.include_router(pages)
router.include_router(api)
