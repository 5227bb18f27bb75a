"""Browser pages: sign-in, sign-out, the dashboard shell and offline API docs.

Forms carry a CSRF token: an HMAC (under the hub secret) of a random nonce kept in an
HttpOnly cookie, so a page on another origin can neither read nor forge it.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from hub.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    StoreDep,
    csrf_token_for,
    csrf_valid,
    is_https,
    new_csrf_nonce,
    request_session_principal,
)
from hub.api.next_path import safe_next, with_next
from hub.auth import accounts
from hub.auth.accounts import Principal

log = logging.getLogger(__name__)
router = APIRouter(tags=["web"], include_in_schema=False)
CSRF_FAILED = "invalid or missing CSRF token: reload the page and try again"
PASSWORD_PAGE = "/account/password"  # noqa: S105 (a URL path)
NextQuery = Annotated[str, Query(alias="next", max_length=400)]
NextForm = Annotated[str, Form(alias="next", max_length=400)]


def _templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


def _secret(request: Request) -> str:
    secret: str = request.app.state.secret_key
    return secret


def _render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """A page with a CSRF token for its forms, issuing the CSRF cookie if it is missing."""
    nonce = request.cookies.get(CSRF_COOKIE) or new_csrf_nonce()
    context = {**context, "csrf_token": csrf_token_for(_secret(request), nonce)}
    response = _templates(request).TemplateResponse(
        request, name, context, status_code=status_code
    )
    if request.cookies.get(CSRF_COOKIE) != nonce:
        response.set_cookie(
            CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=is_https(request),
            path="/",
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def _signed_in(request: Request, store: Any) -> Principal | None:
    return request_session_principal(request, store)


def _csrf_ok(request: Request, submitted: str) -> bool:
    return csrf_valid(_secret(request), request.cookies.get(CSRF_COOKIE), submitted)


def sign_in_first(request: Request) -> Response:
    """To the sign-in form, which returns here (path and query) afterwards; after a form
    (POST) it returns to the home page, as a form cannot be replayed by a redirect."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        here = "/"
    return RedirectResponse(with_next("/login", here), status_code=status.HTTP_303_SEE_OTHER)


def start_session(request: Request, store: Any, principal: Principal, next_path: str) -> Response:
    """Set the session cookie and go on: to the password page first if the password is a
    one-time one, then to ``next_path``."""
    assert principal.user_id is not None
    token = accounts.create_session(store.db, principal.user_id)
    target = (with_next(PASSWORD_PAGE, next_path) if principal.must_change_password
              else safe_next(next_path))
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=accounts.SESSION_TTL_SECONDS, httponly=True,
        samesite="lax", secure=is_https(request), path="/",
    )
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, store: StoreDep) -> Response:
    """The live floor; signed-out browsers are sent to the sign-in form."""
    principal = _signed_in(request, store)
    if principal is None:
        response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    if principal.must_change_password:
        return RedirectResponse(PASSWORD_PAGE, status_code=status.HTTP_303_SEE_OTHER)
    return _render(request, "index.html", {"username": principal.name, "role": principal.role})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, store: StoreDep, next_path: NextQuery = "") -> Response:
    """The sign-in form; ``?next=`` is where it returns to afterwards."""
    if _signed_in(request, store) is not None:
        return RedirectResponse(safe_next(next_path), status_code=status.HTTP_303_SEE_OTHER)
    return _render(request, "login.html", {"error": None, "username": "",
                                           "next": safe_next(next_path, "")})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    store: StoreDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next_path: NextForm = "",
) -> Response:
    """Check the form, start a session and go where the person was going (303)."""
    def again(message: str, code: int) -> Response:
        return _render(request, "login.html", {"error": message, "username": username,
                                               "next": safe_next(next_path, "")},
                       status_code=code)

    if not _csrf_ok(request, csrf_token):
        return again(CSRF_FAILED, status.HTTP_403_FORBIDDEN)
    try:
        principal = accounts.authenticate_password(store.db, username, password)
    except accounts.LoginRateLimited as exc:
        return again(str(exc), status.HTTP_429_TOO_MANY_REQUESTS)
    except accounts.LoginFailed as exc:
        return again(str(exc), status.HTTP_401_UNAUTHORIZED)
    log.info("session started for a %s", principal.role)
    return start_session(request, store, principal, next_path)


@router.post("/logout")
def logout(
    request: Request,
    store: StoreDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End the session and return to the sign-in form (303)."""
    if not _csrf_ok(request, csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    accounts.delete_session(store.db, request.cookies.get(SESSION_COOKIE) or "")
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=is_https(request))
    return response


def _password_page(request: Request, principal: Principal, next_path: str,
                   error: str | None = None, code: int = 200) -> Response:
    return _render(request, "password.html", {
        "principal": principal, "error": error, "next": safe_next(next_path, ""),
        "min_length": accounts.MIN_PASSWORD_LENGTH}, status_code=code)


@router.get(PASSWORD_PAGE, response_class=HTMLResponse)
def password_form(request: Request, store: StoreDep, next_path: NextQuery = "") -> Response:
    """Set a new password; where a one-time password leads straight after sign-in."""
    principal = _signed_in(request, store)
    if principal is None:
        return sign_in_first(request)
    return _password_page(request, principal, next_path)


@router.post(PASSWORD_PAGE, response_class=HTMLResponse)
def change_password(
    request: Request,
    store: StoreDep,
    current: Annotated[str, Form(max_length=1024)] = "",
    new: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next_path: NextForm = "",
) -> Response:
    principal = _signed_in(request, store)
    if principal is None:
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)

    def again(message: str, code: int) -> Response:
        return _password_page(request, principal, next_path, message, code)

    if not _csrf_ok(request, csrf_token):
        return again(CSRF_FAILED, status.HTTP_403_FORBIDDEN)
    try:
        accounts.change_password(store.db, principal.name, current, new, confirm,
                                 keep_session=request.cookies.get(SESSION_COOKIE))
    except accounts.PasswordRejected as exc:
        return again(str(exc), status.HTTP_400_BAD_REQUEST)
    except accounts.LoginRateLimited as exc:
        return again(str(exc), status.HTTP_429_TOO_MANY_REQUESTS)
    except accounts.LoginFailed:
        return again("the current password is wrong", status.HTTP_401_UNAUTHORIZED)
    return RedirectResponse(safe_next(next_path), status_code=status.HTTP_303_SEE_OTHER)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """Swagger UI served from the hub itself (no CDN; the CSP allows only 'self')."""
    return _templates(request).TemplateResponse(request, "docs.html", {})
