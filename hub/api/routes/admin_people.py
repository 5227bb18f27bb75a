"""``/admin/people``: the accounts, a page of 50 at a time and searchable, with a role
change and a password reset per person. Each person shown is an audited read, so a search
narrows what an administrator reads, too.

Both are CSRF-protected POST forms (routes.web) and audited (hub.admin.people). A reset
shows the new one-time password in that response only (``Cache-Control: no-store``); it is
never stored in plain text nor put in a URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from hub.admin import people as people_admin
from hub.api.deps import StoreDep
from hub.api.routes.admin_pages import admin_or_refusal, admin_render
from hub.api.routes.web import CSRF_FAILED, _csrf_ok
from hub.auth.accounts import ROLES, Principal
from hub.db.protocol import Store
from hub.errors import NotFound

router = APIRouter(tags=["admin"], include_in_schema=False)
PAGE = "/admin/people"
PersonId = Annotated[int, Path(ge=1, le=2**62)]
# The search and page being looked at, kept across the role and reset forms.
Search = Annotated[str, Query(max_length=200)]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]


def _secret(request: Request) -> str:
    secret: str = request.app.state.secret_key
    return secret


def _page(request: Request, store: Store, principal: Principal, *, code: int = 200,
          q: str = "", page: int = 1, **context: Any) -> Response:
    shown = people_admin.people_shown(store.db, principal, _secret(request), q, page)
    return admin_render(request, principal, "admin_people.html", "people", {
        "people": shown.people, "listing": shown, "roles": ROLES, "me": principal.user_id,
        "error": None, "done": None, "one_time": None, **context}, status_code=code)


@router.get(PAGE, response_class=HTMLResponse)
def people_page(request: Request, store: StoreDep, q: Search = "", page: PageNumber = 1
                ) -> Response:
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    return _page(request, store, principal, q=q, page=page)


@router.post(PAGE + "/{person_id}/role", response_class=HTMLResponse)
def change_role(
    request: Request, store: StoreDep, person_id: PersonId,
    role: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    q: Search = "", page: PageNumber = 1,
) -> Response:
    """Give one person a new role (audited); the last administrator keeps theirs."""
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        return _page(request, store, principal, q=q, page=page, code=status.HTTP_403_FORBIDDEN,
                     error=CSRF_FAILED)
    try:
        with store.transaction() as db:
            changed = people_admin.change_role(db, _secret(request), principal, person_id, role)
    except NotFound as exc:
        return _page(request, store, principal, q=q, page=page, code=404, error=str(exc))
    except ValueError as exc:
        return _page(request, store, principal, q=q, page=page, code=400, error=str(exc))
    except people_admin.LastAdmin as exc:
        return _page(request, store, principal, q=q, page=page,
                     code=status.HTTP_409_CONFLICT, error=str(exc))
    done = "Role changed." if changed else "Nothing changed: that was already the role."
    return _page(request, store, principal, q=q, page=page, done=done)


@router.post(PAGE + "/{person_id}/reset", response_class=HTMLResponse)
def reset_password(
    request: Request, store: StoreDep, person_id: PersonId,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    q: Search = "", page: PageNumber = 1,
) -> Response:
    """Set a one-time password (shown once) that must be changed at the next sign-in."""
    principal = admin_or_refusal(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        return _page(request, store, principal, q=q, page=page, code=status.HTTP_403_FORBIDDEN,
                     error=CSRF_FAILED)
    try:
        with store.transaction() as db:
            password = people_admin.reset_password(db, _secret(request), principal, person_id)
    except NotFound as exc:
        return _page(request, store, principal, q=q, page=page, code=404, error=str(exc))
    except people_admin.OwnAccount as exc:
        return _page(request, store, principal, q=q, page=page, code=400, error=str(exc))
    who = store.db.execute("SELECT username FROM users WHERE id = ?", [person_id]).fetchone()
    return _page(request, store, principal, q=q, page=page,
                 one_time={"username": who[0] if who else "", "password": password})
