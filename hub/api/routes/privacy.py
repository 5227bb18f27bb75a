"""The person's rights over their data (PRIVACY.md 9-11, 13): API and the "My data" page.

- ``GET /api/v1/me``, ``GET /api/v1/me/export``, ``PATCH /api/v1/me``, ``DELETE /api/v1/me``
- ``GET /api/v1/people/{id}/data``: an administrator reading one person's data, audited
- ``/me/data``: view, export, correct, delete, with CSRF-protected forms and no script
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from hub.api.deps import SESSION_COOKIE, CurrentPrincipal, SettingsDep, StoreDep
from hub.api.routes.me import PersonDep, site_zone
from hub.api.routes.web import CSRF_FAILED, _csrf_ok, _render, _signed_in, sign_in_first
from hub.auth.accounts import Principal
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.errors import DeskpulseError
from hub.privacy import audit, readable, rights

api = APIRouter(prefix="/api/v1", tags=["privacy"])
pages = APIRouter(tags=["privacy"], include_in_schema=False)
MY_DATA_PAGE = "/me/data"


def _secret(request: Request) -> str:
    secret: str = request.app.state.secret_key
    return secret


def _log_path(settings: HubSettings) -> Any:
    return rights.deletion_log_path(settings.database_path)


class Profile(BaseModel):
    id: int
    username: str
    role: str
    created: float
    name: str | None
    email: str | None
    department: str | None


class Correction(BaseModel):
    """Fields to correct; a field left out stays as it is, null clears it."""

    model_config = {"extra": "forbid"}
    name: str | None = Field(default=None, max_length=rights.MAX_FIELD_LENGTH)
    email: str | None = Field(default=None, max_length=rights.MAX_FIELD_LENGTH)
    department: str | None = Field(default=None, max_length=rights.MAX_FIELD_LENGTH)


def _export_response(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data, headers={
        "Content-Disposition": 'attachment; filename="deskpulse-my-data.json"',
        "Cache-Control": "no-store"})


@api.get("/me", response_model=Profile)
def me(store: StoreDep, person: PersonDep) -> Profile:
    return Profile(**rights.profile(store.db, person))


@api.get("/me/export", responses={200: {"description": "every record linked to you (JSON)"}})
def my_export(request: Request, store: StoreDep, person: PersonDep) -> JSONResponse:
    """Every row of every table linked to you, and who viewed your data (machine-readable)."""
    return _export_response(rights.export(store.db, _secret(request), person))


@api.patch("/me", response_model=Profile)
def correct_me(
    request: Request, store: StoreDep, principal: CurrentPrincipal, person: PersonDep,
    correction: Correction,
) -> Profile:
    """Correct your name, e-mail or department; the change is audited (names, not values)."""
    changes = correction.model_dump(exclude_unset=True)
    with store.transaction() as db:
        row = rights.correct(db, _secret(request), person, changes, principal)
    return Profile(**row)


@api.delete("/me")
def delete_me(
    request: Request, store: StoreDep, settings: SettingsDep, person: PersonDep
) -> JSONResponse:
    """Delete your account and every record linked to it now; the receipt proves it."""
    with store.transaction() as db:
        receipt = rights.delete(db, _secret(request), person, _log_path(settings))
    response = JSONResponse(receipt)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@api.get("/people/{person_id}/data", responses={403: {"description": "administrators only"}})
def person_data(
    request: Request, store: StoreDep, principal: CurrentPrincipal,
    person_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> JSONResponse:
    """An administrator reads one person's data; the read is audited and shown to them."""
    if principal.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs the admin role")
    secret = _secret(request)
    data = rights.export(store.db, secret, person_id)
    with store.transaction() as db:
        audit.append(db, principal, "read", audit.subject_for(db, secret, person_id),
                     "read all personal data (" + ", ".join(sorted(data["tables"])) + ")")
    return _export_response(data)


# -- the "My data" page ----------------------------------------------------------------------

DONE = {"corrected": "Saved. Your corrections are in your account now.",
        "unchanged": "Nothing to save: the fields were as before."}


def _person_page(request: Request, store: Store) -> Principal | Response:
    principal = _signed_in(request, store)
    if principal is None or principal.user_id is None:
        return sign_in_first(request)
    return principal


def _place_names(store: Store) -> dict[str, str]:
    """Desk and site ids as people know them: "Desk 4 (Second floor)", "Head office"."""
    names = {str(r["id"]): f"{r['name']} ({r['floor']})" for r in store.db.query(
        "SELECT d.id, d.name, f.name AS floor FROM desks d "
        "JOIN floors f ON f.site = d.site AND f.id = d.floor")}
    names.update({str(site["id"]): str(site["name"]) for site in store.sites()})
    return names


def _page(request: Request, store: Store, principal: Principal, *,
          error: str | None = None, done: str | None = None, code: int = 200,
          fields: dict[str, str] | None = None) -> Response:
    """The person's data in words (hub/privacy/readable.py), in the site's time zone."""
    assert principal.user_id is not None
    data = rights.export(store.db, _secret(request), principal.user_id)
    zone = site_zone(store, None)
    profile = rights.profile(store.db, principal.user_id)
    return _render(request, "me_data.html", {
        "username": principal.name, "profile": {**profile, **(fields or {})},
        "counts": readable.counts(data),
        "sections": readable.sections(data, zone, _place_names(store)),
        "viewed_by": readable.viewed_by(data, zone, lambda a: "you" if a == rights.SELF else a),
        "zone": str(zone), "error": error, "done": done,
        "consents": data["tables"].get("consents", [])}, status_code=code)


@pages.get(MY_DATA_PAGE, response_class=HTMLResponse)
def my_data_page(request: Request, store: StoreDep, done: str = "") -> Response:
    principal = _person_page(request, store)
    if isinstance(principal, Response):
        return principal
    return _page(request, store, principal, done=DONE.get(done))


@pages.post(MY_DATA_PAGE, response_class=HTMLResponse)
def my_data_correct(
    request: Request, store: StoreDep,
    name: Annotated[str, Form(max_length=rights.MAX_FIELD_LENGTH)] = "",
    email: Annotated[str, Form(max_length=rights.MAX_FIELD_LENGTH)] = "",
    department: Annotated[str, Form(max_length=rights.MAX_FIELD_LENGTH)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    principal = _person_page(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    assert principal.user_id is not None
    current = rights.profile(store.db, principal.user_id)
    wanted = {"name": name, "email": email, "department": department}
    changes: dict[str, str | None] = {
        k: v for k, v in wanted.items() if (v.strip() or None) != current[k]}
    # Through the PATCH /api/v1/me route itself, so the page and the API keep one set of
    # rules; a refusal shows the API's own `detail` (e.g. an e-mail already in use).
    try:
        correct_me(request, store, principal, principal.user_id, Correction(**changes))
    except HTTPException as exc:
        return _page(request, store, principal, error=f"Not saved: {exc.detail}",
                     code=exc.status_code, fields=wanted)
    except DeskpulseError as exc:
        return _page(request, store, principal, error=f"Not saved: {exc}", code=400,
                     fields=wanted)
    done = "corrected" if changes else "unchanged"
    return RedirectResponse(f"{MY_DATA_PAGE}?done={done}#correct",
                            status_code=status.HTTP_303_SEE_OTHER)


@pages.post(MY_DATA_PAGE + "/delete", response_class=HTMLResponse)
def my_data_delete(
    request: Request, store: StoreDep, settings: SettingsDep,
    confirm: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    principal = _person_page(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    if confirm.strip().lower() != "delete":
        return _page(request, store, principal, code=400,
                     error="Nothing was deleted: type the word delete into the box to confirm")
    assert principal.user_id is not None
    try:
        with store.transaction() as db:
            receipt = rights.delete(db, _secret(request), principal.user_id, _log_path(settings))
    except DeskpulseError as exc:
        return _page(request, store, principal, error=f"Nothing was deleted: {exc}", code=409)
    zone = site_zone(store, None)
    body = json.dumps(receipt, indent=2, sort_keys=True)
    response = _render(request, "me_deleted.html", {
        "receipt": receipt, "deleted_at": readable.when(receipt["deleted_at"], zone),
        "zone": str(zone), "removed": readable.receipt_removed(receipt["removed"]),
        "receipt_json": body,
        "receipt_href": "data:application/json;base64,"
                        + base64.b64encode(body.encode()).decode("ascii")})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


router = APIRouter()
router.include_router(api)
router.include_router(pages)
