"""FastAPI dependencies: the store, settings and the caller, as `Annotated` aliases.

Everything comes from `app.state`, set by `create_app`; nothing is global, so tests build
an app over a fresh database (or override `get_store`) without touching other apps.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from hub.api.limits import request_is_https
from hub.auth import accounts
from hub.auth.accounts import Principal
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.errors import NotFound

SESSION_COOKIE = "deskpulse_session"
CSRF_COOKIE = "deskpulse_csrf"
AUTH_REQUIRED = (
    "authentication required: log in at /login or send Authorization: Bearer <token>"
)
INVALID_TOKEN_DETAIL = "invalid or revoked API token"  # noqa: S105 (a message)

_bearer = HTTPBearer(auto_error=False, description="API token from `deskpulse hub create-token`")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="browser session")


def get_settings(request: Request) -> HubSettings:
    settings: HubSettings = request.app.state.settings
    return settings


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_ingest_status(request: Request) -> Callable[[], dict[str, Any]] | None:
    probe: Callable[[], dict[str, Any]] | None = request.app.state.ingest_status
    return probe


SettingsDep = Annotated[HubSettings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
IngestStatusDep = Annotated[Callable[[], dict[str, Any]] | None, Depends(get_ingest_status)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def session_principal(store: Store, token: str | None) -> Principal | None:
    """The signed-in user for a session cookie value, if it is live."""
    return accounts.resolve_session(store.db, token) if token else None


_UNSET = object()


def request_session_principal(request: Request, store: Store) -> Principal | None:
    """The signed-in user of this request's session cookie, looked up once per request:
    the route and the page layout's header both ask (a route that ends or changes the
    session answers with a redirect, so the answer cannot go stale within a request)."""
    cached = getattr(request.state, "session_principal", _UNSET)
    if cached is _UNSET:
        cached = session_principal(store, request.cookies.get(SESSION_COOKIE))
        request.state.session_principal = cached
    assert cached is None or isinstance(cached, Principal)
    return cached


def get_principal(
    store: StoreDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """A bearer API token, else a session cookie; 401 with a hint when neither is valid."""
    if bearer is not None:
        principal = accounts.resolve_token(store.db, bearer.credentials)
        if principal is None:
            raise _unauthorized(INVALID_TOKEN_DETAIL)
        return principal
    principal = session_principal(store, session)
    if principal is None:
        raise _unauthorized(AUTH_REQUIRED)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_manager(principal: CurrentPrincipal) -> Principal:
    """Managers and administrators only (for operational, non-aggregate views)."""
    if principal.role not in ("manager", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs the manager role")
    return principal


ManagerPrincipal = Annotated[Principal, Depends(require_manager)]


# --- CSRF: signed double-submit cookie ----------------------------------------------------

def csrf_token_for(secret: str, nonce: str) -> str:
    """The form value that matches a CSRF cookie nonce: HMAC-SHA256 under the hub secret."""
    return hmac.new(secret.encode(), f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: str, nonce: str | None, submitted: str | None) -> bool:
    """True when the submitted form token was issued for this browser's CSRF cookie."""
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(csrf_token_for(secret, nonce), submitted)


def new_csrf_nonce() -> str:
    return secrets.token_urlsafe(24)


def is_https(request: Request) -> bool:
    """HTTPS as the browser saw it (X-Forwarded-Proto counts only with ``trust_proxy``)."""
    settings: HubSettings = request.app.state.settings
    return request_is_https(request.scope, trust_proxy=settings.trust_proxy)


# --- the site a request names ---------------------------------------------------------------

def get_site(
    store: StoreDep,
    site: Annotated[str, Query(description="site id", min_length=1, max_length=64)],
) -> dict[str, Any]:
    """The named site's row; NotFound (404) with the id echoed when there is none."""
    for row in store.sites():
        if row["id"] == site:
            return row
    raise NotFound(f"site {site!r} not found")


SiteDep = Annotated[dict[str, Any], Depends(get_site)]
