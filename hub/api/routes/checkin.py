"""Check-in over HTTP: the phone page behind a desk label, the personal QR, own history.

Pages reuse the dashboard's session cookie and signed CSRF form tokens (routes.web). The
JSON routes under ``/api/v1/me`` only ever return the caller's own records: another
person's check-in id answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from hub.api.deps import (
    ManagerPrincipal,
    SettingsDep,
    StoreDep,
)
from hub.api.limits import limit_checkins
from hub.api.next_path import with_next
from hub.api.routes import badges as badges_routes
from hub.api.routes import colleagues as colleagues_routes
from hub.api.routes.me import PersonDep, local_hhmm
from hub.api.routes.web import (
    CSRF_FAILED,
    PASSWORD_PAGE,
    _csrf_ok,
    _render,
    _signed_in,
    sign_in_first,
    start_session,
)
from hub.auth import accounts
from hub.auth.accounts import Principal
from hub.checkin import figures, labels, service, tokens
from hub.checkin.service import Checkin, DeskTaken
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.errors import NotFound

log = logging.getLogger(__name__)
pages = APIRouter(tags=["checkin"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["checkin"])
QR_REFRESH_SECONDS = 30
_TOKEN_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (tokens.TokenTampered, 401),
    (tokens.TokenExpired, 401),
    (tokens.TokenReplayed, 409),
    (tokens.WrongDesk, 409),
    (DeskTaken, 409),
    (NotFound, 404),
)


def base_url(request: Request, settings: HubSettings) -> str:
    return settings.public_url or str(request.base_url)


# -- the phone page behind a desk label -------------------------------------------------------

def _desk_for(store: Store, code: str) -> dict[str, Any] | None:
    desk = labels.resolve_code(store, code)
    return None if desk is None else service.desk_row(store, desk)


def _desk_page(
    request: Request,
    store: Store,
    code: str,
    *,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    desk = _desk_for(store, code)
    if desk is None:
        return _render(request, "checkin_desk.html", {"desk": None, "state": "unknown"},
                       status_code=status.HTTP_404_NOT_FOUND)
    principal = _signed_in(request, store)
    context: dict[str, Any] = {"desk": desk, "code": code, "message": message, "error": error,
                               "current": None, "since": "", "elsewhere": None,
                               "sensor": service.sensor_state(store, desk["id"])}
    if principal is None or principal.user_id is None:
        return _render(request, "checkin_desk.html", {**context, "state": "signin",
                                                      "username": ""}, status_code=status_code)
    mine = service.current(store, principal.user_id)
    state = service.occupant(store, desk["id"], principal.user_id)
    context.update(
        state=state, username=principal.name, current=mine,
        since=local_hhmm(store, desk["site"], mine.start if mine else None),
        elsewhere=service.desk_row(store, mine.desk) if mine and mine.desk != desk["id"]
        else None,
    )
    return _render(request, "checkin_desk.html", context, status_code=status_code)


def _back(code: str) -> Response:
    return RedirectResponse(f"/d/{code}", status_code=status.HTTP_303_SEE_OTHER)


@pages.get("/d/{code}", response_class=HTMLResponse)
def desk_page(request: Request, store: StoreDep, code: str) -> Response:
    """Sign in if needed, then one tap to check in or out at this desk."""
    principal = _signed_in(request, store)
    if principal is not None and principal.must_change_password:
        return RedirectResponse(with_next(PASSWORD_PAGE, f"/d/{code}"),
                                status_code=status.HTTP_303_SEE_OTHER)
    return _desk_page(request, store, code)


@pages.post("/d/{code}/login", response_class=HTMLResponse)
def desk_login(
    request: Request,
    store: StoreDep,
    code: str,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The sign-in form of the desk page; the session cookie remembers this phone."""
    if not _csrf_ok(request, csrf_token):
        return _desk_page(request, store, code, error=CSRF_FAILED, status_code=403)
    try:
        principal = accounts.authenticate_password(store.db, username, password)
    except accounts.LoginRateLimited as exc:
        return _desk_page(request, store, code, error=str(exc), status_code=429)
    except accounts.LoginFailed as exc:
        return _desk_page(request, store, code, error=str(exc), status_code=401)
    return start_session(request, store, principal, f"/d/{code}")


def _person_or_back(request: Request, store: Store, csrf_token: str) -> Principal:
    if not _csrf_ok(request, csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    principal = _signed_in(request, store)
    if principal is None or principal.user_id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="sign in first")
    return principal


@pages.post("/d/{code}/checkin", response_class=HTMLResponse)
def desk_checkin(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    code: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    principal = _person_or_back(request, store, csrf_token)
    limit_checkins(store, settings, f"user:{principal.user_id}")
    desk = labels.resolve_code(store, code)
    if desk is None:
        return _desk_page(request, store, code)
    assert principal.user_id is not None
    try:
        service.check_in(store, principal.user_id, desk, via="phone")
    except DeskTaken as exc:
        return _desk_page(request, store, code, error=str(exc), status_code=409)
    return _back(code)


@pages.post("/d/{code}/checkout", response_class=HTMLResponse)
def desk_checkout(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    code: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    principal = _person_or_back(request, store, csrf_token)
    limit_checkins(store, settings, f"user:{principal.user_id}")
    assert principal.user_id is not None
    service.check_out(store, principal.user_id, reason="checkout")
    return _back(code)


# -- the personal QR -------------------------------------------------------------------------

@pages.get("/me/qr", response_class=HTMLResponse)
def personal_qr(request: Request, store: StoreDep) -> Response:
    """A QR to show a desk camera; static/checkin.js refreshes it every 30 s."""
    principal = _signed_in(request, store)
    if principal is None:
        return sign_in_first(request)
    return _render(request, "me_qr.html", {"username": principal.name,
                                           "refresh_seconds": QR_REFRESH_SECONDS})


# -- JSON: own check-ins, personal token, token scan ---------------------------------------------

class CheckinPublic(BaseModel):
    id: int
    desk: str
    site: str
    via: str
    start: float
    end: float | None
    end_reason: str | None
    duration: float | None

    @classmethod
    def of(cls, checkin: Checkin) -> CheckinPublic:
        return cls(**checkin.as_dict())


class MyCheckins(BaseModel):
    current: CheckinPublic | None
    checkins: list[CheckinPublic]


class QrToken(BaseModel):
    token: str
    expires: float
    refresh_seconds: int
    image: str = Field(description="the token as a QR code, an SVG data: URI")


class TokenScan(BaseModel):
    token: str = Field(min_length=1, max_length=tokens.MAX_TOKEN_LENGTH)
    desk: str = Field(min_length=1, max_length=64)
    via: Literal["qr", "beacon"] = "qr"


class ScanResult(BaseModel):
    result: Literal["checked_in", "checked_out", "already_recorded"]
    checkin: CheckinPublic | None


@api.get("/me/checkins", response_model=MyCheckins)
def my_checkins(store: StoreDep, person: PersonDep) -> MyCheckins:
    """The caller's own check-ins, newest first, and the open one if any."""
    mine = service.current(store, person)
    return MyCheckins(current=CheckinPublic.of(mine) if mine else None,
                      checkins=[CheckinPublic.of(c) for c in service.history(store, person)])


@api.get("/me/checkins/{checkin_id}", response_model=CheckinPublic,
         responses={404: {"description": "no such check-in of yours"}})
def my_checkin(
    store: StoreDep, person: PersonDep, checkin_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> CheckinPublic:
    return CheckinPublic.of(service.own(store, person, checkin_id))


@api.get("/me/qr-token", response_model=QrToken)
def my_qr_token(
    store: StoreDep, settings: SettingsDep, person: PersonDep, response: Response
) -> QrToken:
    """A fresh single-use personal token (60 s) and its QR image; the page refreshes it."""
    token, expires = service.issue_token(store, settings, person)
    image = base64.b64encode(labels.qr_svg(token)).decode("ascii")
    response.headers["Cache-Control"] = "no-store"
    return QrToken(token=token, expires=expires, refresh_seconds=QR_REFRESH_SECONDS,
                   image=f"data:image/svg+xml;base64,{image}")


@api.post("/checkins/token-scan", response_model=ScanResult, responses={
    401: {"description": "token tampered with or expired"},
    404: {"description": "unknown desk"},
    409: {"description": "token already used, bound to another desk, or desk taken"},
    429: {"description": "too many check-ins by this caller in the last minute"},
})
def token_scan(
    store: StoreDep, settings: SettingsDep, caller: ManagerPrincipal, scan: TokenScan
) -> ScanResult:
    """Verify a personal token as a desk camera would (hub-internal and tests)."""
    limit_checkins(store, settings, f"{caller.kind}:{caller.user_id or caller.name}")
    try:
        outcome, checkin = service.redeem(store, settings, scan.token, scan.desk, via=scan.via)
    except (tokens.TokenError, DeskTaken, NotFound) as exc:
        code = next(c for cls, c in _TOKEN_STATUS if isinstance(exc, cls))
        raise HTTPException(code, detail=str(exc)) from None
    return ScanResult(result=outcome, checkin=CheckinPublic.of(checkin) if checkin else None)


@api.get("/checkins/figures", responses={404: {"description": "unknown site"}})
def checkin_figures(
    store: StoreDep,
    settings: SettingsDep,
    caller: ManagerPrincipal,
    site: Annotated[str, Query(min_length=1, max_length=64)],
    start: Annotated[float | None, Query(description="unix seconds; default 7 days ago",
                                         ge=0, le=1e11, allow_inf_nan=False)] = None,
    end: Annotated[float | None, Query(description="unix seconds; default now",
                                       ge=0, le=1e11, allow_inf_nan=False)] = None,
) -> dict[str, Any]:
    """Metric 11 (docs/metrics.md): check-ins per day, mean duration, agreement with the
    sensors, walk-ins; aggregated only, suppressed under k distinct people."""
    now = time.time()
    until = now if end is None else end
    since = until - 7 * 86400 if start is None else start
    if not since < until:
        raise HTTPException(422,
                            detail="start must be before end")
    return figures.site_figures(store, site, since, until, k=settings.privacy_k, now=now)


# -- labels ---------------------------------------------------------------------------------

@api.get("/sites/{site}/labels.pdf", response_class=Response,
         responses={200: {"content": {"application/pdf": {}}}})
def site_label_sheet(
    request: Request, store: StoreDep, settings: SettingsDep, caller: ManagerPrincipal, site: str
) -> Response:
    """Printable A4 sheet of every desk's QR label (codes are issued where missing)."""
    sheet = labels.sheet_pdf(labels.site_labels(store, site, base_url(request, settings)))
    return Response(sheet, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="labels-{site}.pdf"'})


@api.get("/desks/{desk}/label.{fmt}", response_class=Response,
         responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}})
def desk_label(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: ManagerPrincipal,
    desk: str,
    fmt: Literal["png", "svg"],
) -> Response:
    """One desk's label QR as PNG or SVG."""
    if service.desk_row(store, desk) is None:
        raise NotFound(f"no desk '{desk}'")
    code = labels.active_code(store, desk) or labels.issue_code(store, desk)
    url = labels.label_url(base_url(request, settings), code)
    if fmt == "png":
        return Response(labels.qr_png(url), media_type="image/png")
    return Response(labels.qr_svg(url), media_type="image/svg+xml")


@api.post("/desks/{desk}/label/reissue")
def reissue_label(store: StoreDep, caller: ManagerPrincipal, desk: str) -> dict[str, str]:
    """Revoke the desk's printed code and issue a new one (print the label again)."""
    labels.issue_code(store, desk)
    return {"desk": desk, "status": "reissued"}


def _manager_page(request: Request, store: Store) -> Principal | Response:
    principal = _signed_in(request, store)
    if principal is None:
        return sign_in_first(request)
    if principal.role not in ("manager", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs the manager role")
    return principal


@pages.get("/admin/labels", response_class=HTMLResponse)
def labels_page(
    request: Request, store: StoreDep, settings: SettingsDep, site: str | None = None
) -> Response:
    """Desk QR labels of a site: the printable sheet, PNG/SVG per desk, reissue."""
    principal = _manager_page(request, store)
    if isinstance(principal, Response):
        return principal
    sites = store.sites()
    chosen = site or (sites[0]["id"] if sites else None)
    rows = labels.site_labels(store, chosen, base_url(request, settings)) if chosen else []
    return _render(request, "checkin_labels.html", {
        "sites": sites, "site": chosen, "labels": rows, "username": principal.name,
        "loopback": labels.loopback_warning(base_url(request, settings))})


@pages.post("/admin/labels/{desk}/reissue", response_class=HTMLResponse)
def labels_reissue(
    request: Request,
    store: StoreDep,
    desk: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    principal = _manager_page(request, store)
    if isinstance(principal, Response):
        return principal
    if not _csrf_ok(request, csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    row = service.desk_row(store, desk)
    if row is None:
        raise NotFound(f"no desk '{desk}'")
    labels.issue_code(store, desk)
    return RedirectResponse(f"/admin/labels?site={row['site']}",
                            status_code=status.HTTP_303_SEE_OTHER)


router = APIRouter()
router.include_router(pages)
router.include_router(api)
router.include_router(colleagues_routes.router)
router.include_router(badges_routes.router)
