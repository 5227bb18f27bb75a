"""The building as a client needs it to draw a dashboard: sites, floors, zones."""

from __future__ import annotations

from fastapi import APIRouter

from hub.api.deps import CurrentPrincipal, StoreDep
from hub.api.models import FloorPublic, SitePublic, ZonePublic

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])


@router.get("", response_model=list[SitePublic])
def list_sites(store: StoreDep, principal: CurrentPrincipal) -> list[SitePublic]:
    """Every site with its floors (by level) and each floor's zones."""
    result = []
    for site in store.sites():
        zones = store.zones(site["id"])
        floors = [
            FloorPublic(
                id=floor["id"],
                name=floor["name"],
                level=floor["level"],
                zones=[
                    ZonePublic(id=zone["id"], name=zone["name"])
                    for zone in zones
                    if zone["floor"] == floor["id"]
                ],
            )
            for floor in sorted(store.floors(site["id"]), key=lambda f: (f["level"], f["id"]))
        ]
        result.append(
            SitePublic(id=site["id"], name=site["name"], timezone=site["timezone"], floors=floors)
        )
    return result
