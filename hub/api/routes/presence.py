"""Zone presence (metric 10): anonymous BLE device counts per zone, counts below k hidden.

`from`/`to` work as for /api/v1/utilisation (ISO date, ISO datetime or Unix seconds;
default today in the site's time zone up to now). Rules in hub/metrics/presence.py and
docs/metrics.md, section "10. Zone presence".
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from hub.api.deps import CurrentPrincipal, SettingsDep, SiteDep, StoreDep
from hub.api.routes.utilisation import resolve_window
from hub.db.protocol import Store
from hub.db.zone_counts import zone_counts
from hub.errors import ConfigError
from hub.metrics import calendar as metrics
from hub.metrics import presence

router = APIRouter(prefix="/api/v1/zones", tags=["presence"])
_INSTANT_HELP = "ISO date, ISO datetime or Unix seconds"


class _Public(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PresenceBinPublic(_Public):
    bin: int = Field(description="Unix seconds of the bin's start")
    devices: int | None = Field(description="distinct devices; null when below k")
    suppressed: bool = Field(description="true when the count is below the privacy threshold")
    label: str = Field(description='the count as text, or "< k" when suppressed')


class ZonePresencePublic(_Public):
    zone: str
    name: str
    floor: str
    mean: float | None = Field(description="mean devices over the unsuppressed window bins")
    mean_label: str
    peak: int | None = Field(description="max devices over the window bins; null below k")
    peak_label: str
    reported_bins: int = Field(description="window bins with a count")
    suppressed_bins: int = Field(description="window bins whose count is below k")
    bins: list[PresenceBinPublic]


class PresencePublic(_Public):
    site: str
    window: dict[str, Any]
    bin_seconds: int
    spec_version: str
    k: int = Field(description="privacy threshold: counts below k are shown as '< k'")
    zones: list[ZonePresencePublic]


class LiveZonePublic(_Public):
    zone: str
    name: str
    floor: str
    bin: int | None = Field(description="start of the latest closed bin with a count")
    devices: int | None
    suppressed: bool
    label: str = Field(description='the count, "< k", or "no data"')


class LivePublic(_Public):
    site: str
    as_of: float
    bin_seconds: int
    k: int
    zones: list[LiveZonePublic]


def _site_zones(store: Store, site: str) -> list[dict[str, Any]]:
    """The site's zones ordered by floor level, then id."""
    level = {f["id"]: (f["level"], f["id"]) for f in store.floors(site)}
    return sorted(store.zones(site), key=lambda z: (level.get(z["floor"], (0, "")), z["id"]))


def _timezone(site: dict[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(site["timezone"])
    except (ZoneInfoNotFoundError, ValueError, KeyError) as exc:
        raise ConfigError(f"site {site['id']!r} has an unknown time zone") from exc


@router.get("/presence", response_model=PresencePublic)
def zone_presence(
    store: StoreDep,
    settings: SettingsDep,
    site: SiteDep,
    principal: CurrentPrincipal,
    start: Annotated[str | None, Query(alias="from", description=_INSTANT_HELP)] = None,
    end: Annotated[str | None, Query(alias="to", description=_INSTANT_HELP)] = None,
) -> PresencePublic:
    """Mean and peak anonymous device count per zone over the site's core hours."""
    now = time.time()
    lo, hi = resolve_window(_timezone(site), start, end, now=now)
    zones = _site_zones(store, site["id"])
    figures = presence.zone_presence(
        zone_counts(store, site["id"], lo, hi),
        zones=[z["id"] for z in zones], timezone=site["timezone"],
        core_hours=site["core_hours"], start=lo, end=hi, now=now,
        bin_seconds=settings.bin_seconds, k=settings.privacy_k,
    )
    return PresencePublic.model_validate({
        "site": site["id"],
        "window": metrics.window_description(site["timezone"], site["core_hours"], lo, hi),
        "bin_seconds": settings.bin_seconds,
        "spec_version": metrics.SPEC_VERSION,
        "k": settings.privacy_k,
        "zones": [{"zone": z["id"], "name": z["name"], "floor": z["floor"],
                   **figures[z["id"]]} for z in zones],
    })


@router.get("/live", response_model=LivePublic)
def zone_live(
    store: StoreDep, settings: SettingsDep, site: SiteDep, principal: CurrentPrincipal
) -> LivePublic:
    """Each zone's latest closed bin (within the last few bins), counts below k hidden."""
    now = time.time()
    bs = settings.bin_seconds
    zones = _site_zones(store, site["id"])
    current = int(now // bs) * bs
    rows = zone_counts(store, site["id"], current - presence.LIVE_BINS * bs, current)
    figures = presence.live(
        rows, zones=[z["id"] for z in zones], now=now, bin_seconds=bs, k=settings.privacy_k
    )
    return LivePublic.model_validate({
        "site": site["id"], "as_of": now, "bin_seconds": bs, "k": settings.privacy_k,
        "zones": [{"zone": z["id"], "name": z["name"], "floor": z["floor"],
                   **figures[z["id"]]} for z in zones],
    })
