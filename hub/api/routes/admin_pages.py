"""Administrators' pages: ``/admin`` (overview), ``/admin/agents``, ``/admin/provisioning``
and ``/admin/privacy``; ``/admin/people`` is in routes.admin_people.

Server-rendered and script-free. Provisioning is shown, never done, here: agent and hub
broker passwords are created by the CLI on the hub host, so no secret passes the browser.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.admin import views as admin_views
from hub.admin.provision import TABLE as PROVISIONED
from hub.api.deps import SettingsDep, StoreDep
from hub.api.next_path import with_next
from hub.api.routes.web import PASSWORD_PAGE, _render, _signed_in, sign_in_first
from hub.auth.accounts import Principal
from hub.db.protocol import Store
from hub.privacy import audit, retention

router = APIRouter(tags=["admin"], include_in_schema=False)
ADMIN_ONLY = "this needs the admin role"


def admin_or_refusal(request: Request, store: Store) -> Principal | Response:
    """The signed-in administrator; a redirect (signed out, or must change password) or 403."""
    principal = _signed_in(request, store)
    if principal is None:
        return sign_in_first(request)
    if principal.must_change_password:
        return RedirectResponse(with_next(PASSWORD_PAGE, request.url.path),
                                status_code=status.HTTP_303_SEE_OTHER)
    if principal.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=ADMIN_ONLY)
    return principal


def admin_render(request: Request, principal: Principal, template: str, view: str,
                 context: dict[str, Any], *, status_code: int = 200) -> Response:
    return _render(request, template, {"username": principal.name, "role": principal.role,
                                       "admin_view": view, **context},
                   status_code=status_code)


def _provisioned(store: Store) -> list[dict[str, Any]]:
    return list(store.db.query(
        f"SELECT name, site, created, revoked FROM {PROVISIONED} ORDER BY name"))  # noqa: S608


@router.get("/admin", response_class=HTMLResponse)
def overview(request: Request, store: StoreDep) -> Response:
    """Links to every administration page, with what each is for."""
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    return admin_render(request, principal, "admin_overview.html", "overview", {})


@router.get("/admin/agents", response_class=HTMLResponse)
def agents_page(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """Every agent: online or not, last contact and its latest health report."""
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    now = time.time()
    zones = {s["id"]: s["timezone"] for s in store.sites()}
    rows = admin_views.agent_rows(store.agents(), _provisioned(store), now, zones)
    sites = {s["id"]: s["name"] for s in store.sites()}
    return admin_render(request, principal, "admin_agents.html", "agents", {
        "agents": rows, "sites": sites, "timeout": f"{settings.heartbeat_timeout:g}",
        "no_health": admin_views.NO_HEALTH,
        "online": sum(1 for r in rows if r.state == "online")})


@router.get("/admin/provisioning", response_class=HTMLResponse)
def provisioning_page(request: Request, store: StoreDep) -> Response:
    """The CLI commands installers run on the hub host, and the agents provisioned so far."""
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    now = time.time()
    zones = {s["id"]: s["timezone"] for s in store.sites()}
    provisioned = []
    for p in _provisioned(store):
        zone = zones.get(p["site"], "UTC")
        provisioned.append({**p, "created": admin_views.when(p["created"], now, zone),
                            "revoked": admin_views.when(p["revoked"], now, zone)
                            if p["revoked"] else None})
    return admin_render(request, principal, "admin_provisioning.html", "provisioning", {
        "commands": admin_views.PROVISIONING, "sites": store.sites(),
        "provisioned": provisioned})


@router.get("/admin/privacy", response_class=HTMLResponse)
def privacy_page(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """Retention windows and privacy settings (read-only), the last retention run, the
    audit trail's state."""
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    last, removed = admin_views.last_run_text(retention.last_run(store.db), time.time())
    return admin_render(request, principal, "admin_privacy.html", "privacy", {
        "settings": admin_views.privacy_settings(settings), "last_run": last,
        "removed": removed, "audit": audit.verify(store.db)})
