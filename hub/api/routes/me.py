"""The signed-in person behind a request, and local times for their pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, status

from hub.api.deps import CurrentPrincipal
from hub.errors import NotFound
from hub.store_protocol import Store


def local_hhmm(store: Store, site: str, at: float | None) -> str:
    if at is None:
        return ""
    try:
        zone = ZoneInfo(store.site(site)["timezone"])
    except (NotFound, KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(at, zone).strftime("%H:%M")


def require_person(principal: CurrentPrincipal) -> int:
    """The signed-in person's user id; API tokens name no person (403)."""
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail="this needs a signed-in person, not an API token")
    return principal.user_id


PersonDep = Annotated[int, Depends(require_person)]
