"""The live floor: every desk's current anonymous state."""

from __future__ import annotations

import time

from fastapi import APIRouter

from hub.api.deps import CurrentPrincipal, SiteDep, StoreDep
from hub.api.models import DeskPublic, DesksPublic
from hub.api.routes.desks_stream import public_desk

router = APIRouter(prefix="/api/v1/desks", tags=["desks"])


@router.get("", response_model=DesksPublic)
def list_desks(store: StoreDep, site: SiteDep, principal: CurrentPrincipal) -> DesksPublic:
    """State and since-when of each desk of a site; anonymous: never who sits there. A desk
    assigned to one person is always `assigned`, without since (PRIVACY.md 8)."""
    as_of = time.time()
    desks = [
        DeskPublic(**{k: v for k, v in public_desk(desk).items() if k not in ("x", "y")})
        for desk in store.desks(site["id"])
    ]
    return DesksPublic(site=site["id"], as_of=as_of, desks=desks)
