"""Response models of the public API (`XPublic`): what a client may see, nothing more.

Desk models carry no identity by construction: there is no field a person's name, badge
or check-in could travel in.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DeskState = Literal["occupied", "vacant", "unknown", "assigned"]
Group = Literal["site", "floor", "zone", "desk"]
BrokerState = Literal["connected", "disconnected", "unknown"]


class _Public(BaseModel):
    model_config = ConfigDict(extra="ignore")


class HealthPublic(_Public):
    status: Literal["ok", "degraded"]
    version: str
    database: Literal["ok", "error"]
    broker: BrokerState


class ZonePublic(_Public):
    id: str
    name: str


class FloorPublic(_Public):
    id: str
    name: str
    level: int
    zones: list[ZonePublic] = Field(default_factory=list)


class SitePublic(_Public):
    id: str
    name: str
    timezone: str
    floors: list[FloorPublic]


class DeskPublic(_Public):
    id: str
    name: str
    floor: str
    zone: str | None
    state: DeskState
    since: float | None = Field(description="Unix seconds of the last state change")


class DesksPublic(_Public):
    site: str
    as_of: float = Field(description="Unix seconds when this snapshot was read")
    desks: list[DeskPublic]


class DailyPeakPublic(_Public):
    date: str = Field(description="local date, ISO format")
    peak: float


class ConcurrentSummaryPublic(_Public):
    average: float | None = Field(description="mean of U(b) over the window's bins")
    peak: float | None = Field(description="max of U(b) over the window")
    average_peak: float | None = Field(description="mean of the daily peaks")


class ConcurrentPublic(ConcurrentSummaryPublic):
    daily_peaks: list[DailyPeakPublic] = Field(description="max of U(b) per local day")
    tue_thu: ConcurrentSummaryPublic = Field(description="the same over Tuesday-Thursday")


class UtilisationResultPublic(_Public):
    key: str
    name: str
    desks: int
    occupied_seconds: float
    valid_seconds: float
    window_seconds: float
    time_utilisation: float | None
    coverage: float | None
    concurrent: ConcurrentPublic


class WindowPublic(_Public):
    spec_version: str
    timezone: str
    days: list[str] = Field(description="core weekdays, e.g. Mon")
    start: str = Field(description="core hours start, local HH:MM")
    end: str = Field(description="core hours end, local HH:MM")
    closed: list[str] = Field(description="dates removed from the window")
    from_: str = Field(alias="from", description="window start, local ISO datetime")
    until: str = Field(description="window end (exclusive), local ISO datetime")
    rule: str

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class UtilisationPublic(_Public):
    site: str
    group: Group
    window: WindowPublic = Field(description="the analysis window these figures cover")
    bin_seconds: int
    spec_version: str = Field(description="version of the metrics specification")
    results: list[UtilisationResultPublic]


class AgentPublic(_Public):
    id: str
    site: str
    online: bool
    last_seen: float | None
    outbox_depth: int | None = Field(None, description="messages waiting on the agent")
    dropped: int | None = Field(None, description="messages the agent had to drop")
    faults: list[str] = Field(default_factory=list, description="desks with a sensor fault")
    uptime: float | None = None
    version: str | None = None
    boot: int | None = None
    clock_offset: float | None = Field(
        None, description="hub time minus the agent's clock, seconds, from its last health"
    )
    gaps: int = Field(
        0, description="times this agent's seq skipped ahead within a boot (possibly lost "
        "messages)"
    )
