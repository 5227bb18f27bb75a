"""``/me``: the employee's home, phone first. What they have open (the current check-in,
with check-out), and one tap to everything that is theirs: the personal QR, the badge,
finding a colleague (where the company allows it), their data and privacy settings, the
password. Every page's navigation links here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.api.deps import SettingsDep, StoreDep
from hub.api.limits import limit_checkins
from hub.api.routes.me import local_hhmm, site_zone
from hub.api.routes.web import CSRF_FAILED, _csrf_ok, _render, _signed_in, sign_in_first
from hub.checkin import service
from hub.privacy import rights

router = APIRouter(tags=["me"], include_in_schema=False)
HOME = "/me"


@router.get(HOME, response_class=HTMLResponse)
def home(request: Request, store: StoreDep, settings: SettingsDep,
         done: str = "") -> Response:
    principal = _signed_in(request, store)
    if principal is None or principal.user_id is None:
        return sign_in_first(request)
    mine = service.current(store, principal.user_id)
    desk = service.desk_row(store, mine.desk) if mine else None
    profile = rights.profile(store.db, principal.user_id)
    return _render(request, "me_home.html", {
        "username": principal.name, "role": principal.role,
        "display_name": profile["name"] or principal.name,
        "current": mine, "desk": desk,
        "since": local_hhmm(store, mine.site, mine.start) if mine else "",
        "zone": str(site_zone(store, mine.site if mine else None)),
        "colleagues": settings.colleague_visibility,
        "done": "You are checked out." if done == "checkout" else None})


@router.post(HOME + "/checkout", response_class=HTMLResponse)
def checkout(request: Request, store: StoreDep, settings: SettingsDep,
             csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the open check-in from the home page (no desk label needed)."""
    principal = _signed_in(request, store)
    if principal is None or principal.user_id is None:
        return sign_in_first(request)
    if not _csrf_ok(request, csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    limit_checkins(store, settings, f"user:{principal.user_id}")
    service.check_out(store, principal.user_id, reason="checkout")
    return RedirectResponse(HOME + "?done=checkout", status_code=status.HTTP_303_SEE_OTHER)
