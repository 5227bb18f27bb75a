"""The hub's HTTP face: `create_app(settings, store)` builds the FastAPI app; nothing global.

Errors of the DeskpulseError family become an HTTP status with a JSON `detail` here, at
the edge; security headers are added to every response by a small ASGI middleware.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub import __version__
from hub.api.limits import BodySizeLimitMiddleware, request_is_https
from hub.api.routes import (
    admin_pages,
    admin_people,
    agents,
    building_admin,
    building_pages,
    desk_summary,
    desks,
    desks_stream,
    floor_plans,
    health,
    me_home,
    page_layout,
    presence,
    sites,
    utilisation,
    utilisation_series,
    web,
    web_views,
)
from hub.api.routes import checkin as checkin_routes
from hub.api.routes import invitations as invitation_routes
from hub.api.routes import metrics as metrics_routes
from hub.api.routes import people_import as people_import_routes
from hub.api.routes import privacy as privacy_routes
from hub.auth import accounts, ratelimit
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.errors import ConfigError, DeskpulseError, NotFound

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent.parent / "web"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"

# Most specific first: the first matching class decides the status.
ERROR_STATUS: tuple[tuple[type[DeskpulseError], int], ...] = (
    (NotFound, 404),
    (accounts.LoginFailed, 401),
    (accounts.LoginRateLimited, 429),
    (ConfigError, 500),
)

DESCRIPTION = """\
Anonymous desk occupancy and utilisation. Every `/api/v1` route needs a browser session
(sign in at `/login`) or an API token sent as `Authorization: Bearer <token>`
(create one with `deskpulse hub create-token NAME`). Figures follow the open metrics
specification in docs/metrics.md; each response states its window and spec version.
"""


def security_headers(*, https: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response carries; HSTS only over HTTPS (browsers ignore it else)."""
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]
    if https:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


class SecurityHeadersMiddleware:
    """Adds :func:`security_headers` to every HTTP response, errors and static files too."""

    def __init__(self, app: ASGIApp, trust_proxy: bool = False) -> None:
        self.app = app
        self.trust_proxy = trust_proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(https=request_is_https(scope, trust_proxy=self.trust_proxy))
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                # A route's own CSP (e.g. the sandboxed floor-plan SVG) is stricter: kept.
                own = {b"content-security-policy"} & {k.lower() for k, _ in headers}
                added = [(k, v) for k, v in extra if k not in own]
                kept = [(k, v) for k, v in headers if k.lower() not in names - own]
                message = {**message, "headers": kept + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def status_for(exc: DeskpulseError) -> int:
    for cls, code in ERROR_STATUS:
        if isinstance(exc, cls):
            return code
    return 400


async def _deskpulse_error(request: Request, exc: Exception) -> JSONResponse:
    code = status_for(exc) if isinstance(exc, DeskpulseError) else 500
    if code >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=code)


def create_app(
    settings: HubSettings,
    store: Store,
    *,
    ingest_status: Callable[[], dict[str, Any]] | None = None,
) -> FastAPI:
    """The API and dashboard over `store`; `ingest_status()` reports the broker link."""
    secret_key = settings.ensure_secret_key()
    accounts.ensure_schema(store.db)
    ratelimit.ensure_schema(store)
    app = FastAPI(
        title="Deskpulse hub",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by routes.web from local files: no CDN, strict CSP
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.ingest_status = ingest_status
    app.state.secret_key = secret_key
    app.state.templates = Jinja2Templates(directory=str(WEB_DIR / "templates"),
                                          context_processors=[page_layout.layout_context])
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware, trust_proxy=settings.trust_proxy)  # outermost
    app.add_exception_handler(DeskpulseError, _deskpulse_error)
    app.add_exception_handler(StarletteHTTPException, page_layout.html_error)
    for module in (health, sites, desks, desk_summary, utilisation, utilisation_series, agents,
                   presence, web):
        app.include_router(module.router)
    app.include_router(checkin_routes.router)
    app.include_router(privacy_routes.router)
    app.include_router(people_import_routes.router)
    app.include_router(metrics_routes.router)
    app.include_router(desks_stream.router)
    app.include_router(web_views.router)
    app.include_router(building_admin.router)
    app.include_router(floor_plans.router)
    app.include_router(building_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(admin_people.router)
    app.include_router(me_home.router)
    app.include_router(invitation_routes.router)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    _mount_swagger_assets(app)
    return app


def _mount_swagger_assets(app: FastAPI) -> None:
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # docs page stays blank; the API and /openapi.json still work
        log.warning("swagger-ui-bundle-v2 is not installed: /docs has no assets")
        return
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
