"""What the one page layout (templates/base.html) needs on every page: who is signed in,
which main view and which admin page the URL belongs to.

A Jinja2 context processor, so every page gets the same header and navigation without
each route having to pass them (a route that forgets cannot drop the navigation).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.api.deps import request_session_principal

# (path prefix, view key), longest first: the first match marks the current view.
_VIEWS = (
    ("/admin/floors", "constructor"), ("/admin", "admin"), ("/analytics", "analytics"),
    ("/floors", "floor"), ("/me", "me"), ("/colleagues", "me"), ("/account", "me"),
    ("/d/", "me"),
)
# The second row of /admin pages: (href, label); managers see the ones they may use.
ADMIN_PAGES = (
    ("/admin", "Overview"), ("/admin/agents", "Agents"),
    ("/admin/provisioning", "Provisioning"), ("/admin/labels", "QR labels"),
    ("/admin/people", "People"), ("/admin/people/import", "Import people"),
    ("/admin/privacy", "Privacy and retention"), ("/admin/floors", "Floor constructor"),
)
MANAGER_ADMIN_PAGES = ("/admin/labels",)


def view_of(path: str) -> str:
    """The main view a path belongs to ("dashboard" for / and anything unlisted)."""
    for prefix, view in _VIEWS:
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return view
    return "dashboard" if path == "/" else ""


def admin_links(path: str, role: str) -> list[dict[str, Any]]:
    """The admin row for an /admin page, or [] elsewhere (and for employees)."""
    if not path.startswith("/admin") or role not in ("admin", "manager"):
        return []
    pages = [p for p in ADMIN_PAGES if role == "admin" or p[0] in MANAGER_ADMIN_PAGES]
    current = max((href for href, _ in pages if path == href or path.startswith(href + "/")),
                  key=len, default="")
    return [{"href": href, "label": label, "current": href == current}
            for href, label in pages]


def layout_context(request: Request) -> dict[str, Any]:
    """``nav_user`` (the signed-in principal or None), ``nav_view``, ``nav_admin``."""
    store = getattr(request.app.state, "store", None)
    principal = None
    if store is not None:
        principal = request_session_principal(request, store)  # the route's own lookup
    if principal is not None and principal.must_change_password:
        principal = None  # only the password page is open to them: no navigation to offer
    path = request.url.path
    return {
        "nav_user": principal,
        "nav_view": view_of(path),
        "nav_admin": admin_links(path, principal.role) if principal else [],
    }


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the JSON API, not a script's */*)."""
    return (not request.url.path.startswith("/api/")
            and "text/html" in request.headers.get("accept", ""))


async def html_error(request: Request, exc: Exception) -> Response:
    """A 403 or 404 from a page, for a browser: the error inside the shared layout, with a
    way back; everyone else (the API, scripts) gets FastAPI's JSON ``detail`` as before."""
    assert isinstance(exc, StarletteHTTPException)
    if not wants_html(request) or exc.status_code not in ERROR_TITLES:
        return await http_exception_handler(request, exc)
    from hub.api.routes.web import _render  # a page helper; web does not import this module

    detail = exc.detail if exc.status_code != 404 or exc.detail != "Not Found" else (
        f"There is no page at {request.url.path}.")
    return error_page(request, _render, exc.status_code, str(detail))


ERROR_TITLES = {403: "Not for your role", 404: "Not found"}


def error_page(request: Request, render: Any, code: int, detail: str,
               links: tuple[tuple[str, str], ...] = ()) -> Response:
    """The error inside the shared layout; ``links`` (href, label) lead on from it."""
    response: Response = render(request, "error.html", {
        "code": code, "title": ERROR_TITLES.get(code, "Error"), "detail": detail,
        "links": links,
    }, status_code=code)
    return response
