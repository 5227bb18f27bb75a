"""``/admin/people``: every account, with a role change and a password reset per person.

Both are CSRF-protected POST forms (routes.web) and audited (hub.people_admin). A reset
shows the new one-time password in that response only (``Cache-Control: no-store``); it is
never stored in plain text nor put in a URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, status
from fastapi.responses import HTMLResponse, Response

from hub import people_admin
from hub.accounts import ROLES, Principal
from hub.api.deps import StoreDep
from hub.api.routes.admin_pages import admin_or_refusal, admin_render
from hub.api.routes.web import CSRF_FAILED, _csrf_ok
from hub.errors import NotFound
from hub.store_protocol import Store

router = APIRouter(tags=["admin"], include_in_schema=False)
PAGE = "/admin/people"
PersonId = Annotated[int, Path(ge=1, le=2**62)]


def _secret(request: Request) -> str:
    secret: str = request.app.state.secret_key
    return secret


def _page(request: Request, store: Store, principal: Principal, *, code: int = 200,
          **context: Any) -> Response:
    return admin_render(request, principal, "admin_people.html", "people", {
        "people": people_admin.people_shown(store.db, principal, _secret(request)),
        "roles": ROLES, "me": principal.user_id,
        "error": None, "done": None, "one_time": None, **context}, status_code=code)


@router.get(PAGE, response_class=HTMLResponse)
def people_page(request: Request, store: StoreDep) -> Response:
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    return _page(request, store, principal)


@router.post(PAGE + "/{person_id}/role", response_class=HTMLResponse)
def change_role(
    request: Request, store: StoreDep, person_id: PersonId,
    role: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Give one person a new role (audited); the last administrator keeps theirs."""
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        return _page(request, store, principal, code=status.HTTP_403_FORBIDDEN,
                     error=CSRF_FAILED)
    try:
        with store.transaction() as db:
            changed = people_admin.change_role(db, _secret(request), principal, person_id, role)
    except NotFound as exc:
        return _page(request, store, principal, code=404, error=str(exc))
    except ValueError as exc:
        return _page(request, store, principal, code=400, error=str(exc))
    except people_admin.LastAdmin as exc:
        return _page(request, store, principal, code=status.HTTP_409_CONFLICT, error=str(exc))
    done = "Role changed." if changed else "Nothing changed: that was already the role."
    return _page(request, store, principal, done=done)


@router.post(PAGE + "/{person_id}/reset", response_class=HTMLResponse)
def reset_password(
    request: Request, store: StoreDep, person_id: PersonId,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Set a one-time password (shown once) that must be changed at the next sign-in."""
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        return _page(request, store, principal, code=status.HTTP_403_FORBIDDEN,
                     error=CSRF_FAILED)
    try:
        with store.transaction() as db:
            password = people_admin.reset_password(db, _secret(request), principal, person_id)
    except NotFound as exc:
        return _page(request, store, principal, code=404, error=str(exc))
    except people_admin.OwnAccount as exc:
        return _page(request, store, principal, code=400, error=str(exc))
    who = next((p for p in people_admin.people(store.db) if p.id == person_id), None)
    return _page(request, store, principal,
                 one_time={"username": who.username if who else "", "password": password})
