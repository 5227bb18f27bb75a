"""Browser pages beside the dashboard: the live floor map and the analytics report.

Both are shells: their scripts (static/floor.js, static/analytics.js) read the JSON API
with the browser's session, so a page shows exactly what the API would answer. A floor
that does not exist is a 404 page (never another floor's map); analytics is for managers
and administrators (docs/dashboard.md "Roles").
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.api.deps import StoreDep
from hub.api.routes.page_layout import error_page
from hub.api.routes.web import PASSWORD_PAGE, _render, _signed_in, sign_in_first

router = APIRouter(tags=["web"], include_in_schema=False)
ANALYTICS_ROLES = ("admin", "manager")
ANALYTICS_REFUSED = ("Analytics per desk and zone is for managers and administrators. "
                     "The live floor map and your own pages (My desk) are open to you.")


def _page(request: Request, store: StoreDep, template: str, **context: str) -> Response:
    principal = _signed_in(request, store)
    if principal is None:
        return sign_in_first(request)
    if principal.must_change_password:
        return RedirectResponse(PASSWORD_PAGE, status_code=status.HTTP_303_SEE_OTHER)
    return _render(request, template,
                   {"username": principal.name, "role": principal.role, **context})


def unknown_floor(store: StoreDep, floor: str, site: str | None) -> str | None:
    """Why ``floor`` (of ``site``, when named) cannot be shown, or None when it can."""
    sites = {s["id"]: s for s in store.sites()}
    if site is not None and site not in sites:
        return None  # the page names the unknown site itself and offers the others
    where = [site] if site is not None else list(sites)
    if any(f["id"] == floor for s in where for f in store.floors(s)):
        return None
    if site is not None:
        return f"Site {sites[site]['name']} has no floor {floor!r}."
    return f"There is no floor {floor!r}."


@router.get("/floors", response_class=HTMLResponse)
def floor_map_first(request: Request, store: StoreDep) -> Response:
    """The floor map of the chosen (or first) site's lowest floor."""
    return _page(request, store, "floor.html", floor="")


@router.get("/floors/{floor}", response_class=HTMLResponse)
def floor_map(request: Request, store: StoreDep, floor: str) -> Response:
    """One floor's desks at their plan positions, live over Server-Sent Events."""
    principal = _signed_in(request, store)
    if principal is not None and not principal.must_change_password:
        problem = unknown_floor(store, floor[:64], request.query_params.get("site"))
        if problem:
            return error_page(request, _render, status.HTTP_404_NOT_FOUND,
                              problem, (("/floors", "Open the floor map"),))
    return _page(request, store, "floor.html", floor=floor[:64])


@router.get("/analytics", response_class=HTMLResponse)
def analytics(request: Request, store: StoreDep) -> Response:
    """KPIs, time series, heatmap and tables for a window; filters live in the URL."""
    principal = _signed_in(request, store)
    if principal is not None and principal.role not in ANALYTICS_ROLES \
            and not principal.must_change_password:
        return error_page(request, _render, status.HTTP_403_FORBIDDEN, ANALYTICS_REFUSED)
    return _page(request, store, "analytics.html")
