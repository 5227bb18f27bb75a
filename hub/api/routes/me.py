"""The signed-in person behind a request, and local times for their pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, status

from hub.api.deps import CurrentPrincipal
from hub.db.protocol import Store
from hub.errors import NotFound


def site_zone(store: Store, site: str | None) -> ZoneInfo:
    """The site's time zone; the first site's when none is named (a person's own records
    belong to no site), UTC when the hub has no sites yet."""
    try:
        if site is None:
            sites = store.sites()
            return ZoneInfo(sites[0]["timezone"]) if sites else ZoneInfo("UTC")
        return ZoneInfo(store.site(site)["timezone"])
    except (NotFound, KeyError, ValueError):
        return ZoneInfo("UTC")


def local_hhmm(store: Store, site: str, at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, site_zone(store, site)).strftime("%H:%M")


def require_person(principal: CurrentPrincipal) -> int:
    """The signed-in person's user id; API tokens name no person (403)."""
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail="this needs a signed-in person, not an API token")
    return principal.user_id


PersonDep = Annotated[int, Depends(require_person)]
