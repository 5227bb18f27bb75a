"""Floor-plan images: administrators upload a PNG or SVG per floor; every signed-in user's
floor map shows it under the desks.

The upload is the raw file as the request body (``PUT``, ``Content-Type: image/png`` or
``image/svg+xml``); hub.building.floor_plan checks it for real before it is stored. The image is
served with its own type, ``nosniff``, and for SVG a CSP that forbids everything but inline
style and sandboxes the document, so even a plan opened on its own runs nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hub.admin import building_edit as edit
from hub.api.deps import CurrentPrincipal, SettingsDep, StoreDep
from hub.api.routes.building_admin import REFUSALS, AdminChangeDep, http_errors, layout
from hub.api.routes.building_models import Id, Layout
from hub.building.floor_plan import PNG, SVG, PlanRejected, check_plan

router = APIRouter(prefix="/api/v1/sites/{site}", tags=["building"])
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
ACCEPTED_TYPES = {PNG, SVG, "application/octet-stream", ""}


class PlanSummary(BaseModel):
    floor: str
    content_type: str
    width: float
    height: float
    sha256: str


@router.get("/plans", response_model=list[PlanSummary])
def list_plans(store: StoreDep, principal: CurrentPrincipal, site: Id) -> list[PlanSummary]:
    """Floors of the site that have a plan, with its size (for the aspect ratio) and hash
    (to build a cache-busting URL)."""
    edit.site_row(store.db, site)
    return [PlanSummary(**{k: p[k] for k in PlanSummary.model_fields})
            for p in edit.plans(store.db, site)]


@router.get("/floors/{floor}/plan", responses={
    200: {"description": "the plan image", "content": {PNG: {}, SVG: {}}},
    404: {"description": "no such floor, or it has no plan"}})
def get_plan(request: Request, store: StoreDep, principal: CurrentPrincipal, site: Id,
             floor: Id) -> Response:
    content_type, digest, data = edit.plan_data(store.db, site, floor)
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache",
               "X-Content-Type-Options": "nosniff"}
    if content_type == SVG:
        headers["Content-Security-Policy"] = SVG_CSP
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=content_type, headers=headers)


@router.put("/floors/{floor}/plan", response_model=Layout, responses={
    **REFUSALS, 400: {"description": "not a safe PNG or SVG; `detail` says why"},
    413: {"description": "larger than floor_plan_max_bytes"},
    415: {"description": "neither PNG nor SVG"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        PNG: {"schema": {"type": "string", "format": "binary"}},
        SVG: {"schema": {"type": "string", "format": "binary"}}}}})
async def put_plan(request: Request, store: StoreDep, settings: SettingsDep,
                   principal: AdminChangeDep, site: Id, floor: Id) -> Layout:
    """Upload (or replace) the floor's plan: a PNG or SVG file as the raw body."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared not in ACCEPTED_TYPES:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            detail="a floor plan must be a PNG or SVG image (image/png or "
                                   "image/svg+xml)")
    limit = min(settings.floor_plan_max_bytes, settings.max_body_bytes)
    data = await request.body()

    def work() -> Layout:
        try:
            plan = check_plan(data, limit)
        except PlanRejected as exc:
            raise HTTPException(exc.status, detail=str(exc)) from None
        if declared in (PNG, SVG) and declared != plan.content_type:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                                detail=f"the file is {plan.content_type} but was sent as "
                                       f"{declared}")
        with http_errors():
            edit.save_plan(store, site, floor, plan)
        return layout(store, site)

    return await run_in_threadpool(work)


@router.delete("/floors/{floor}/plan", response_model=Layout, responses=REFUSALS)
def delete_plan(store: StoreDep, principal: AdminChangeDep, site: Id, floor: Id) -> Layout:
    edit.delete_plan(store, site, floor)
    return layout(store, site)
