"""'Find a colleague': opt-in, policy-gated visibility of who is checked in where.

The personal switch is only offered when the company policy allows it; with the policy
off, the list is empty and the API answers 404 (the feature does not exist here).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from hub.api.deps import SettingsDep, StoreDep
from hub.api.routes.me import PersonDep, local_hhmm
from hub.api.routes.web import CSRF_FAILED, _csrf_ok, _render, _signed_in, sign_in_first
from hub.checkin import colleagues
from hub.errors import NotFound

pages = APIRouter(tags=["checkin"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["checkin"])
PRIVACY_PAGE = "/me/privacy"


class Colleague(BaseModel):
    name: str
    desk: str
    floor: str
    site: str
    since: float


@api.get("/colleagues", response_model=list[Colleague],
         responses={404: {"description": "colleague visibility is off for this company"}})
def list_colleagues(store: StoreDep, settings: SettingsDep, person: PersonDep) -> list[Colleague]:
    """People who opted in and are checked in now (company policy permitting)."""
    if not settings.colleague_visibility:
        raise NotFound("colleague visibility is not enabled for this company")
    return [Colleague(**row) for row in colleagues.findable(store, policy=True)]


@pages.get(PRIVACY_PAGE, response_class=HTMLResponse)
def privacy_page(request: Request, store: StoreDep, settings: SettingsDep,
                 saved: str = "") -> Response:
    principal = _signed_in(request, store)
    if principal is None or principal.user_id is None:
        return sign_in_first(request)
    visible = colleagues.is_visible(store, principal.user_id)
    done = None
    if saved:  # the confirmation after a change, in words
        done = ("Saved: colleagues can find you while you are checked in." if visible
                else "Saved: nobody can find you.")
    return _render(request, "me_privacy.html", {
        "username": principal.name, "policy": settings.colleague_visibility,
        "visible": visible, "done": done})


@pages.post(PRIVACY_PAGE, response_class=HTMLResponse)
def privacy_save(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    visible: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    principal = _signed_in(request, store)
    if principal is None or principal.user_id is None:
        return sign_in_first(request)
    if not _csrf_ok(request, csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    # Switching off is always possible; switching on only where the policy allows it.
    wanted = visible == "on" and settings.colleague_visibility
    colleagues.set_visible(store, principal.user_id, wanted)
    return RedirectResponse(PRIVACY_PAGE + "?saved=1", status_code=status.HTTP_303_SEE_OTHER)


@pages.get("/colleagues", response_class=HTMLResponse)
def colleagues_page(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    principal = _signed_in(request, store)
    if principal is None:
        return sign_in_first(request)
    rows = colleagues.findable(store, policy=settings.colleague_visibility)
    for row in rows:
        row["since_text"] = local_hhmm(store, row["site"], row["since"])
    return _render(request, "colleagues.html", {
        "username": principal.name, "policy": settings.colleague_visibility, "people": rows},
        status_code=200 if settings.colleague_visibility else 404)


router = APIRouter()
router.include_router(pages)
router.include_router(api)
