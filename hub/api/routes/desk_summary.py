"""One desk as the floor map's detail panel shows it: state and since when, whether its
sensor and agent report, whether it is checked in (never by whom) and, for managers and
administrators, today's occupied time and the last seven days (docs/metrics.md 1, 2).

A desk assigned to one person shows none of it (PRIVACY.md 8), like everywhere else.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from hub.api.deps import CurrentPrincipal, SettingsDep, SiteDep, StoreDep
from hub.api.routes.desks_stream import public_desk
from hub.checkin import service
from hub.db.protocol import Store
from hub.errors import NotFound
from hub.metrics import calendar as metrics

router = APIRouter(prefix="/api/v1/desks", tags=["desks"])
DAYS = 7
Sensor = Literal["reporting", "fault", "agent-offline", "no-agent", "not-shown"]


class DayPublic(BaseModel):
    date: str = Field(description="local date, ISO format")
    occupied_seconds: float = Field(description="metric 1, summed over the day's core hours")
    time_utilisation: float | None = Field(description="metric 2: occupied / valid time")


class DeskSummaryPublic(BaseModel):
    id: str
    name: str
    floor: str
    zone: str | None
    state: str
    since: float | None
    timezone: str
    sensor: Sensor = Field(description="whether the desk's sensor and agent report")
    checked_in: bool | None = Field(description="an open voluntary check-in (never who); "
                                    "None for a desk assigned to one person")
    today_occupied_seconds: float | None = Field(
        description="occupied seconds today in core hours; managers and administrators only")
    days: list[DayPublic] | None = Field(
        description="the last 7 local days, oldest first; managers and administrators only")


def sensor_health(desk: dict[str, Any], agents: list[dict[str, Any]]) -> Sensor:
    """What the panel says about the desk's sensor: its agent's latest health report."""
    agent = next((a for a in agents if a["id"] == desk.get("agent")), None)
    if agent is None:
        return "no-agent"
    faults = agent.get("faults")
    if isinstance(faults, str):
        try:
            faults = json.loads(faults)
        except ValueError:
            faults = []
    if isinstance(faults, list) and desk["id"] in faults:
        return "fault"
    return "reporting" if agent.get("online") else "agent-offline"


def daily(store: Store, site: dict[str, Any], desk: str, now: float, bin_seconds: int
          ) -> list[dict[str, Any]]:
    """Occupied and valid seconds per local day over the last DAYS days, in core hours."""
    tz = ZoneInfo(site["timezone"])
    today = datetime.fromtimestamp(now, tz).date()
    first = today - timedelta(days=DAYS - 1)
    lo = datetime(first.year, first.month, first.day, tzinfo=tz).timestamp()
    frame = store.rollups(site["id"], lo, now, bin_seconds=bin_seconds, now=now)
    core = site.get("core_hours")
    core = json.loads(core) if isinstance(core, str) else core
    if desk not in frame.desks or not len(frame.bin_starts):
        occupied = valid = np.zeros(len(frame.bin_starts))
    else:
        row = frame.desks.index(desk)
        occupied, valid = frame.occupied[row], frame.valid[row]
    inside = metrics.window_mask(frame.bin_starts, site["timezone"], core)
    days = [first + timedelta(days=i) for i in range(DAYS)]
    local = [datetime.fromtimestamp(int(b), tz).date() for b in frame.bin_starts]
    out = []
    for day in days:
        mask = inside & np.array([d == day for d in local], dtype=bool)
        occ, val = float(occupied[mask].sum()), float(valid[mask].sum())
        out.append({"date": day.isoformat(), "occupied_seconds": occ,
                    "time_utilisation": occ / val if val > 0 else None})
    return out


@router.get("/{desk}/summary", response_model=DeskSummaryPublic)
def desk_summary(
    store: StoreDep, settings: SettingsDep, site: SiteDep, principal: CurrentPrincipal,
    desk: str = Path(min_length=1, max_length=64),
) -> DeskSummaryPublic:
    """The floor map's detail panel for one desk of the site (404 for a desk elsewhere)."""
    row = next((d for d in store.desks(site["id"]) if d["id"] == desk), None)
    if row is None:
        raise NotFound(f"no desk {desk!r} in site {site['id']!r}")
    shown = public_desk(row)
    base = {**shown, "timezone": site["timezone"], "today_occupied_seconds": None,
            "days": None}
    if shown["state"] == "assigned":
        return DeskSummaryPublic(**base, sensor="not-shown", checked_in=None)
    sensor = sensor_health(row, store.agents(site["id"]))
    checked_in = service.occupant(store, desk, None) != "free"
    if principal.role in ("admin", "manager"):
        days = daily(store, site, desk, time.time(), settings.bin_seconds)
        base["days"] = days
        base["today_occupied_seconds"] = days[-1]["occupied_seconds"]
    return DeskSummaryPublic(**base, sensor=sensor, checked_in=checked_in)
