"""Edge agents of a site and their health: for managers and administrators."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from hub.api.deps import ManagerPrincipal, SiteDep, StoreDep
from hub.api.models import AgentPublic

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


def _faults(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [str(v) for v in value] if isinstance(value, list) else []


@router.get("", response_model=list[AgentPublic])
def list_agents(store: StoreDep, site: SiteDep, principal: ManagerPrincipal) -> list[AgentPublic]:
    """Online flag, last contact and outbox depth of each agent that reported for the site."""
    return [
        AgentPublic(
            id=row["id"],
            site=row["site"],
            online=bool(row.get("online")),
            last_seen=row.get("last_seen"),
            outbox_depth=row.get("outbox_depth"),
            dropped=row.get("dropped"),
            faults=_faults(row.get("faults")),
            uptime=row.get("uptime"),
            version=row.get("version"),
            boot=row.get("boot"),
            clock_offset=row.get("clock_offset"),
            gaps=int(row.get("gaps") or 0),
        )
        for row in store.agents(site["id"])
    ]
