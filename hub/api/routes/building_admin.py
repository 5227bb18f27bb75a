"""The floor constructor's JSON API (administrators): edit sites, floors, zones and desks,
export the building as JSON or CSV and import it back.

Browser sessions must send the page's CSRF token in an ``X-CSRF-Token`` header on every
change (the signed double-submit token of routes.web); API tokens need none. Refusals:
401 signed out, 403 not an administrator or bad CSRF token, 404 unknown object, 409 the
change would lose history or clashes, 422 a value the building cannot take.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hub.admin import building_edit as edit
from hub.admin import building_io, edge_config
from hub.api.deps import CSRF_COOKIE, CurrentPrincipal, StoreDep, csrf_valid
from hub.api.routes.building_models import (
    DeskAdmin,
    DeskCreate,
    DeskSensors,
    DeskUpdate,
    FloorAdmin,
    FloorCreate,
    FloorUpdate,
    Id,
    ImportProblem,
    ImportReport,
    Layout,
    PlanInfo,
    SensorSpec,
    SiteAdmin,
    SiteCreate,
    SiteUpdate,
    ZoneAdmin,
    ZoneCreate,
    ZoneUpdate,
)
from hub.auth.accounts import Principal
from hub.building import desk_sensors
from hub.building.csv_rows import MAX_CSV_BYTES, building_to_csv, parse_building_csv
from hub.db.protocol import Store

router = APIRouter(prefix="/api/v1", tags=["building"])
ADMIN_ONLY = "this needs the admin role"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FAILED = f"invalid or missing CSRF token: send the page's token in {CSRF_HEADER}"
REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "not an administrator, or a browser session without its CSRF token"},
    404: {"description": "no such site, floor, zone or desk"},
    409: {"description": "the change would lose history or clashes with what exists"},
    422: {"description": "a value the building cannot take"},
}


def require_admin(principal: CurrentPrincipal) -> Principal:
    if principal.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=ADMIN_ONLY)
    return principal


def require_admin_change(request: Request, principal: CurrentPrincipal) -> Principal:
    """An administrator; a browser session must also prove the request came from our page."""
    require_admin(principal)
    if principal.kind == "session" and not csrf_valid(
            request.app.state.secret_key, request.cookies.get(CSRF_COOKIE),
            request.headers.get(CSRF_HEADER)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=CSRF_FAILED)
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
AdminChangeDep = Annotated[Principal, Depends(require_admin_change)]


@contextmanager
def http_errors() -> Iterator[None]:
    """The building's own errors as HTTP statuses (NotFound is mapped by the app)."""
    try:
        yield
    except edit.BuildingConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except edit.BuildingInvalid as exc:
        raise HTTPException(422, detail=str(exc)) from None


def layout(store: Store, site: str) -> Layout:
    db = store.db
    row = edit.site_row(db, site)
    plans = {p["floor"]: PlanInfo(**{k: v for k, v in p.items() if k != "floor"})
             for p in edit.plans(db, site)}
    agents = sorted({r[0] for r in db.execute("SELECT id FROM agents WHERE site = ?", [site])}
                    | {r[0] for r in db.execute("SELECT name FROM provisioned_agents WHERE "
                                                "site = ? AND revoked IS NULL", [site])})
    return Layout(
        site=SiteAdmin(id=row["id"], name=row["name"], timezone=row["timezone"],
                       headcount=row.get("headcount")),
        floors=[FloorAdmin(**f, plan=plans.get(f["id"])) for f in store.floors(site)],
        zones=[ZoneAdmin(**z) for z in store.zones(site)],
        desks=[DeskAdmin(id=d["id"], floor=d["floor"], zone=d["zone"], name=d["name"],
                         agent=d["agent"], x=d["x"], y=d["y"], assigned=bool(d["assigned"]),
                         sensors=[SensorSpec(**s) for s in desk_sensors.loads(d["sensors"])])
               for d in db.query("SELECT * FROM desks WHERE site = ? ORDER BY id", [site])],
        agents=agents,
    )


def _changes(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)


# -- sites -------------------------------------------------------------------------------------

@router.get("/sites/{site}/layout", response_model=Layout, responses=REFUSALS)
def get_layout(store: StoreDep, principal: AdminDep, site: Id) -> Layout:
    """The site's floors (with plan details), zones, desks and assignable agents."""
    return layout(store, site)


@router.post("/sites", response_model=Layout, status_code=201, responses=REFUSALS)
def create_site(store: StoreDep, principal: AdminChangeDep, body: SiteCreate) -> Layout:
    with http_errors():
        edit.create_site(store, _changes(body) | {"id": body.id})
    return layout(store, body.id)


@router.patch("/sites/{site}", response_model=Layout, responses=REFUSALS)
def update_site(store: StoreDep, principal: AdminChangeDep, site: Id, body: SiteUpdate
                ) -> Layout:
    with http_errors():
        edit.update_site(store, site, _changes(body))
    return layout(store, site)


@router.delete("/sites/{site}", status_code=204, responses=REFUSALS)
def delete_site(store: StoreDep, principal: AdminChangeDep, site: Id) -> Response:
    """Only a site with no floors, agents or history can go (409 otherwise)."""
    with http_errors():
        edit.delete_site(store, site)
    return Response(status_code=204)


# -- floors, zones, desks ----------------------------------------------------------------------

@router.post("/sites/{site}/floors", response_model=Layout, status_code=201, responses=REFUSALS)
def create_floor(store: StoreDep, principal: AdminChangeDep, site: Id, body: FloorCreate
                 ) -> Layout:
    with http_errors():
        edit.create_floor(store, site, _changes(body) | {"id": body.id})
    return layout(store, site)


@router.patch("/sites/{site}/floors/{floor}", response_model=Layout, responses=REFUSALS)
def update_floor(store: StoreDep, principal: AdminChangeDep, site: Id, floor: Id,
                 body: FloorUpdate) -> Layout:
    with http_errors():
        edit.update_floor(store, site, floor, _changes(body))
    return layout(store, site)


@router.delete("/sites/{site}/floors/{floor}", response_model=Layout, responses=REFUSALS)
def delete_floor(store: StoreDep, principal: AdminChangeDep, site: Id, floor: Id) -> Layout:
    """Only an empty floor can go (409 otherwise); its plan image goes with it."""
    with http_errors():
        edit.delete_floor(store, site, floor)
    return layout(store, site)


@router.post("/sites/{site}/zones", response_model=Layout, status_code=201, responses=REFUSALS)
def create_zone(store: StoreDep, principal: AdminChangeDep, site: Id, body: ZoneCreate
                ) -> Layout:
    with http_errors():
        edit.create_zone(store, site, _changes(body) | {"id": body.id, "floor": body.floor})
    return layout(store, site)


@router.patch("/sites/{site}/zones/{zone}", response_model=Layout, responses=REFUSALS)
def update_zone(store: StoreDep, principal: AdminChangeDep, site: Id, zone: Id,
                body: ZoneUpdate) -> Layout:
    with http_errors():
        edit.update_zone(store, site, zone, _changes(body))
    return layout(store, site)


@router.delete("/sites/{site}/zones/{zone}", response_model=Layout, responses=REFUSALS)
def delete_zone(store: StoreDep, principal: AdminChangeDep, site: Id, zone: Id) -> Layout:
    """Only a zone without desks and without device-count history can go (409 otherwise)."""
    with http_errors():
        edit.delete_zone(store, site, zone)
    return layout(store, site)


@router.post("/sites/{site}/desks", response_model=Layout, status_code=201, responses=REFUSALS)
def create_desk(store: StoreDep, principal: AdminChangeDep, site: Id, body: DeskCreate
                ) -> Layout:
    with http_errors():
        edit.create_desk(store, site, body.model_dump())
    return layout(store, site)


@router.patch("/sites/{site}/desks/{desk}", response_model=Layout, responses=REFUSALS)
def update_desk(store: StoreDep, principal: AdminChangeDep, site: Id, desk: Id,
                body: DeskUpdate) -> Layout:
    """Move a desk (x, y: fractions 0..1 of the floor plan), rename it, put it in another
    zone (its floor follows), give it an agent of the same site, or mark it assigned."""
    with http_errors():
        edit.update_desk(store, site, desk, _changes(body))
    return layout(store, site)


@router.put("/sites/{site}/desks/{desk}/sensors", response_model=Layout, responses=REFUSALS)
def set_desk_sensors(store: StoreDep, principal: AdminChangeDep, site: Id, desk: Id,
                     body: DeskSensors) -> Layout:
    """Replace the sensors that read the desk (edge.toml ``[[desks.sensors]]`` tables; an
    empty list clears them). 422 with the edge's own message for a value an agent would
    refuse; 409 when a GPIO pin or I2C address is already used by another desk of the
    desk's agent."""
    with http_errors():
        edit.set_desk_sensors(store, site, desk,
                              [s.model_dump(exclude_none=True) for s in body.sensors])
    return layout(store, site)


EDGE_TOML_ANSWERS: dict[int | str, dict[str, Any]] = {
    **REFUSALS, 409: {"description": "the agent has no desks (or too many) in the building"},
    200: {"description": "the agent's edge.toml: site, desks, zones and sensors; no secret",
          "content": {"text/plain": {"schema": {"type": "string"}}}}}


@router.get("/sites/{site}/agents/{agent}/edge.toml", response_class=PlainTextResponse,
            responses=EDGE_TOML_ANSWERS)
def agent_edge_toml(store: StoreDep, principal: AdminDep, site: Id, agent: Id
                    ) -> PlainTextResponse:
    """The edge.toml `deskpulse hub agents edge-config` prints, as a download."""
    if edit.agent_site(store.db, agent) != site:
        raise HTTPException(404, detail=f"agent {agent!r} not found in site {site!r}")
    with http_errors():
        text = edge_config.agent_edge_toml(store.db, agent)
    return PlainTextResponse(text, headers=_download(f"{agent}-edge.toml"))


@router.delete("/sites/{site}/desks/{desk}", response_model=Layout, responses=REFUSALS)
def delete_desk(store: StoreDep, principal: AdminChangeDep, site: Id, desk: Id) -> Layout:
    """Only a desk that never reported, was never checked in to and has no QR label can go
    (409 with what is in the way otherwise)."""
    with http_errors():
        edit.delete_desk(store, site, desk)
    return layout(store, site)


# -- export and import -------------------------------------------------------------------------

def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


@router.get("/sites/{site}/building.json", responses={
    **REFUSALS, 200: {"description": "the building, as `deskpulse hub import-building` reads"}})
def export_json(store: StoreDep, principal: AdminDep, site: Id) -> JSONResponse:
    return JSONResponse(building_io.export_building(store.db, site),
                        headers=_download(f"{site}-building.json"))


@router.get("/sites/{site}/building.csv", responses={**REFUSALS, 200: {
    "description": "one row per desk: site,floor,zone,desk,name,x,y,agent,assigned",
    "content": {"text/csv": {"schema": {"type": "string"}}}}})
def export_csv(store: StoreDep, principal: AdminDep, site: Id) -> Response:
    text = building_to_csv(building_io.export_building(store.db, site))
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers=_download(f"{site}-building.csv"))


def _parse(store: Store, data: bytes, content_type: str
           ) -> tuple[dict[str, Any], list[building_io.Problem]]:
    problems: list[building_io.Problem] = []
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if "csv" in content_type or ("json" not in content_type and head not in (b"{", b"[")):
        rows, errors = parse_building_csv(data)
        problems += [building_io.Problem(f"line {line}", reason) for line, reason in errors]
        building = building_io.csv_to_building(store.db, rows, problems)
        problems.sort(key=lambda p: int(p.where.split()[-1]))
        return building, problems
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return {}, [building_io.Problem("file", f"not valid JSON: {str(exc)[:160]}")]
    return document, building_io.json_problems(document)


@router.post("/building/import", response_model=ImportReport, responses={
    **REFUSALS, 413: {"description": "file too large"},
    422: {"description": "nothing imported: `problems` lists every row or path at fault"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/csv": {"schema": {"type": "string"}}}}})
async def import_building(
    request: Request, store: StoreDep, principal: AdminChangeDep,
    dry_run: Annotated[bool, Query(description="only check, change nothing")] = False,
) -> Any:
    """Import a building as JSON (the `import-building` shape) or CSV (the export's
    columns). All or nothing; never deletes; existing desks keep their history and labels."""
    data = await request.body()
    if len(data) > MAX_CSV_BYTES:
        raise HTTPException(413, detail=f"the file is larger than {MAX_CSV_BYTES} bytes")
    content_type = request.headers.get("content-type", "").lower()

    def work() -> Any:
        document, problems = _parse(store, data, content_type)
        plan = building_io.plan_import(store.db, document, problems)
        if plan.problems:
            listed = [ImportProblem(where=p.where, reason=p.reason).model_dump()
                      for p in plan.problems[:200]]
            return JSONResponse(status_code=422, content={
                "detail": f"nothing imported: {len(plan.problems)} problem(s), first: "
                          f"{plan.problems[0].where}: {plan.problems[0].reason}",
                "problems": listed})
        if not dry_run:
            building_io.apply_import(store, plan)
        return ImportReport(dry_run=dry_run, applied=not dry_run, **plan.counts)

    return await run_in_threadpool(work)
