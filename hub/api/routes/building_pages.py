"""The floor constructor page for administrators: ``/admin/floors[/{floor}]?site=``.

A shell like the other pages: static/constructor.js does everything through the JSON API
(routes.building_admin, routes.floor_plans) with the session, sending the CSRF token the
page carries in ``<main data-csrf>``.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.api.deps import StoreDep
from hub.api.routes.building_admin import ADMIN_ONLY
from hub.api.routes.web import PASSWORD_PAGE, _render, _signed_in, sign_in_first

router = APIRouter(tags=["web"], include_in_schema=False)


def _page(request: Request, store: StoreDep, floor: str) -> Response:
    principal = _signed_in(request, store)
    if principal is None:
        return sign_in_first(request)
    if principal.must_change_password:
        return RedirectResponse(PASSWORD_PAGE, status_code=status.HTTP_303_SEE_OTHER)
    if principal.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=ADMIN_ONLY)
    return _render(request, "constructor.html",
                   {"username": principal.name, "role": principal.role, "floor": floor})


@router.get("/admin/floors", response_class=HTMLResponse)
def constructor_first(request: Request, store: StoreDep) -> Response:
    """The constructor on the chosen (or first) site's lowest floor."""
    return _page(request, store, "")


@router.get("/admin/floors/{floor}", response_class=HTMLResponse)
def constructor(request: Request, store: StoreDep, floor: str) -> Response:
    """Edit one floor: its zones and desks, its plan, desk positions by drag or keyboard."""
    return _page(request, store, floor[:64])
