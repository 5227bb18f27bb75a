"""The live floor: every desk's current anonymous state."""

from __future__ import annotations

import time

from fastapi import APIRouter

from hub.api.deps import CurrentPrincipal, SiteDep, StoreDep
from hub.api.models import DeskPublic, DesksPublic

router = APIRouter(prefix="/api/v1/desks", tags=["desks"])
_STATES = ("occupied", "vacant", "unknown")


@router.get("", response_model=DesksPublic)
def list_desks(store: StoreDep, site: SiteDep, principal: CurrentPrincipal) -> DesksPublic:
    """State and since-when of each desk of a site; anonymous: never who sits there."""
    as_of = time.time()
    desks = [
        DeskPublic(
            id=desk["id"],
            name=desk["name"],
            floor=desk["floor"],
            zone=desk.get("zone"),
            state=desk["state"] if desk.get("state") in _STATES else "unknown",
            since=desk.get("since"),
        )
        for desk in store.desks(site["id"])
    ]
    return DesksPublic(site=site["id"], as_of=as_of, desks=desks)
