"""Browser pages beside the dashboard: the live floor map and the analytics report.

Both are shells: their scripts (static/floor.js, static/analytics.js) read the JSON API
with the browser's session, so a page shows exactly what the API would answer.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.api.deps import StoreDep
from hub.api.routes.web import PASSWORD_PAGE, _render, _signed_in, sign_in_first

router = APIRouter(tags=["web"], include_in_schema=False)


def _page(request: Request, store: StoreDep, template: str, **context: str) -> Response:
    principal = _signed_in(request, store)
    if principal is None:
        return sign_in_first(request)
    if principal.must_change_password:
        return RedirectResponse(PASSWORD_PAGE, status_code=status.HTTP_303_SEE_OTHER)
    return _render(request, template,
                   {"username": principal.name, "role": principal.role, **context})


@router.get("/floors", response_class=HTMLResponse)
def floor_map_first(request: Request, store: StoreDep) -> Response:
    """The floor map of the chosen (or first) site's lowest floor."""
    return _page(request, store, "floor.html", floor="")


@router.get("/floors/{floor}", response_class=HTMLResponse)
def floor_map(request: Request, store: StoreDep, floor: str) -> Response:
    """One floor's desks at their plan positions, live over Server-Sent Events."""
    return _page(request, store, "floor.html", floor=floor[:64])


@router.get("/analytics", response_class=HTMLResponse)
def analytics(request: Request, store: StoreDep) -> Response:
    """KPIs, time series, heatmap and tables for a window; filters live in the URL."""
    return _page(request, store, "analytics.html")
