"""Administrators import employees from CSV: upload -> preview -> confirm (and an API twin).

The confirm form carries the uploaded file back (base64) with a token ``expires.HMAC(secret,
expires:sha256(file))``, so nothing is stored between the steps and a changed file or an
old preview is refused. The audit trail records counts only, never names or addresses.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from hub.admin import people_import
from hub.api.deps import CurrentPrincipal, SettingsDep, StoreDep
from hub.api.routes import invitations as invitation_routes
from hub.api.routes.web import CSRF_FAILED, _csrf_ok, _render, _signed_in, sign_in_first
from hub.auth import mailer
from hub.auth.accounts import Principal
from hub.db.protocol import Store
from hub.privacy import audit

api = APIRouter(prefix="/api/v1", tags=["people"])
pages = APIRouter(tags=["people"], include_in_schema=False)
PAGE = "/admin/people/import"
PREVIEW_TTL_SECONDS = 15 * 60
ADMIN_ONLY = "this needs the admin role"
_B64_LIMIT = (people_import.MAX_BYTES * 4) // 3 + 8


def _secret(request: Request) -> str:
    secret: str = request.app.state.secret_key
    return secret


class Rejected(BaseModel):
    line: int
    reason: str


class ImportReport(BaseModel):
    dry_run: bool
    valid_rows: int
    create: int
    update: int
    unchanged: int
    skipped: list[Rejected]
    rejected: list[Rejected]
    rejected_total: int
    # Addresses taken back from accounts that had set them themselves (applied imports).
    reclaimed: int = 0


def _audit(db: Any, principal: Principal, result: people_import.ImportResult,
           preview: people_import.ImportPreview) -> None:
    audit.append(db, principal, "import", None,
                 f"people CSV import: {result.created} created, {result.updated} updated, "
                 f"{result.unchanged} unchanged, {len(result.skipped)} skipped, "
                 f"{result.reclaimed} addresses reclaimed, {preview.error_count} lines rejected")


def _run(store: Store, principal: Principal, preview: people_import.ImportPreview
         ) -> people_import.ImportResult:
    with store.transaction() as db:
        result = people_import.apply_import(db, preview, now=time.time())
        _audit(db, principal, result, preview)
    return result


@api.post("/people/import", response_model=ImportReport, responses={
    403: {"description": "administrators only"}, 413: {"description": "body too large"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}}}}})
async def import_people(
    request: Request, store: StoreDep, principal: CurrentPrincipal,
    dry_run: Annotated[bool, Query(description="only report what would change")] = True,
) -> ImportReport:
    """Import employees from a CSV body (header name,email,department). With
    ``dry_run=false`` valid rows are applied even if other lines were rejected."""
    if principal.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=ADMIN_ONLY)
    body = await request.body()
    if not body:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=(
            "the request has no body: send the CSV file (header name,email,department) "
            "as the body, Content-Type text/csv"))
    preview = people_import.parse_employees_csv(body)
    rejected = [Rejected(line=n, reason=r) for n, r in preview.errors]
    if dry_run:
        planned = people_import.plan(store.db, preview)
        return ImportReport(
            dry_run=True, valid_rows=len(preview.rows), create=len(planned["create"]),
            update=len(planned["update"]), unchanged=len(planned["unchanged"]),
            skipped=[Rejected(line=e.line, reason="username taken by another account")
                     for e in planned["skip"]],
            rejected=rejected, rejected_total=preview.error_count)
    result = _run(store, principal, preview)
    return ImportReport(
        dry_run=False, valid_rows=len(preview.rows), create=result.created,
        update=result.updated, unchanged=result.unchanged,
        skipped=[Rejected(line=n, reason=r) for n, r in result.skipped],
        rejected=rejected, rejected_total=preview.error_count, reclaimed=result.reclaimed)


# -- pages -----------------------------------------------------------------------------------

def _admin_page(request: Request, store: Store) -> Principal | Response:
    principal = _signed_in(request, store)
    if principal is None:
        return sign_in_first(request)
    if principal.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=ADMIN_ONLY)
    return principal


def _form(request: Request, *, error: str | None = None, code: int = 200,
          done: dict[str, int] | None = None) -> Response:
    return _render(request, "people_import.html", {"error": error, "done": done},
                   status_code=code)


@pages.get(PAGE, response_class=HTMLResponse)
def import_form(request: Request, store: StoreDep) -> Response:
    principal = _admin_page(request, store)
    if isinstance(principal, Response):
        return principal
    return _form(request)


@pages.post(PAGE, response_class=HTMLResponse)
async def import_preview(
    request: Request, store: StoreDep,
    file: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Parse the upload and show what would change, with a signed Confirm button."""
    principal = _admin_page(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        return _form(request, error=CSRF_FAILED, code=status.HTTP_403_FORBIDDEN)
    if file is None:
        return _form(request, error="choose a CSV file to upload", code=400)
    data = await file.read(people_import.MAX_BYTES + 1)
    preview = people_import.parse_employees_csv(data)
    expires = int(time.time()) + PREVIEW_TTL_SECONDS
    return _render(request, "people_import_preview.html", {
        "preview": preview, "plan": people_import.plan(store.db, preview),
        "payload": base64.b64encode(data).decode() if len(data) <= people_import.MAX_BYTES
        else "",
        "token": people_import.confirmation_token(_secret(request), preview.digest, expires),
        "expires_minutes": PREVIEW_TTL_SECONDS // 60})


@pages.post(PAGE + "/confirm", response_class=HTMLResponse)
def import_confirm(
    request: Request, store: StoreDep, settings: SettingsDep,
    payload: Annotated[str, Form(max_length=_B64_LIMIT)] = "",
    token: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    invite: Annotated[str, Form(max_length=10)] = "none",
) -> Response:
    """Apply exactly the previewed file, if its token is genuine and not expired; then,
    if asked, make invitations for its people who have no password yet."""
    principal = _admin_page(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        return _form(request, error=CSRF_FAILED, code=status.HTTP_403_FORBIDDEN)
    try:
        data = base64.b64decode(payload.encode(), validate=True)
    except (binascii.Error, ValueError):
        return _form(request, error="the confirmation is malformed: upload again", code=400)
    preview = people_import.parse_employees_csv(data)
    problem = people_import.token_problem(_secret(request), token, preview.digest,
                                          now=time.time())
    if problem:
        return _form(request, error=problem, code=status.HTTP_400_BAD_REQUEST)
    result = _run(store, principal, preview)
    if invite in ("print", "csv", "email") and (invite != "email" or mailer.enabled(settings)):
        emails = {row.email for row in preview.rows}
        waiting = [int(r[0]) for r in store.db.execute(
            "SELECT id, email FROM users WHERE must_change_password = 1 ORDER BY username")
            if (r[1] or "").lower() in emails]
        made = invitation_routes.make_invitations(store, request, principal, waiting)
        return invitation_routes.invitations_response(store, request, settings, principal,
                                                      made, invite)
    return _form(request, done={"created": result.created, "updated": result.updated,
                                "unchanged": result.unchanged, "skipped": len(result.skipped),
                                "rejected": preview.error_count})


router = APIRouter()
router.include_router(api)
router.include_router(pages)
