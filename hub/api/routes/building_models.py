"""Request and response models of the floor constructor's API (routes.building_admin)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

Id = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class _In(BaseModel):
    model_config = {"extra": "forbid"}


class SiteCreate(_In):
    id: Id
    name: Name | None = None
    timezone: str = Field(max_length=64)
    headcount: int | None = None
    core_hours: dict[str, Any] | None = None


class SiteUpdate(_In):
    name: Name | None = None
    timezone: str | None = Field(default=None, max_length=64)
    headcount: int | None = None


class FloorCreate(_In):
    id: Id
    name: Name | None = None
    level: int | None = None


class FloorUpdate(_In):
    name: Name | None = None
    level: int | None = None


class ZoneCreate(_In):
    id: Id
    floor: Id
    name: Name | None = None


class ZoneUpdate(_In):
    name: Name | None = None


class DeskCreate(_In):
    id: Id
    zone: Id
    name: Name | None = None
    x: Fraction | None = None
    y: Fraction | None = None
    agent: Id | None = None
    assigned: bool = False


class DeskUpdate(_In):
    """Fields to change; a field left out stays, null clears (x/y: not placed; agent: any
    agent of the site may report the desk)."""

    name: Name | None = None
    zone: Id | None = None
    x: Fraction | None = None
    y: Fraction | None = None
    agent: Id | None = None
    assigned: bool | None = None


class SensorSpec(BaseModel):
    """One sensor of a desk: an edge.toml ``[[desks.sensors]]`` table (docs/sensors.md).

    ``type`` is pir, contact, pressure, thermopile, file, bthome, zigbee, mqtt or radar.
    ``pin``: BCM GPIO 4..27 (pir, contact, pressure); ``bus`` (0..31, default 1) and
    ``address`` (0x68 = 104 or 0x69 = 105, the default) for a thermopile; ``path`` for a
    file sensor. The edge's own checks apply (hub/building/desk_sensors.py); a key the type does
    not take is refused.
    """

    model_config = {"extra": "forbid", "strict": True}

    type: str = Field(max_length=32)
    pin: int | None = None
    pull_up: bool | None = None
    bus: int | None = None
    address: int | str | None = Field(default=None, union_mode="left_to_right")
    path: str | None = Field(default=None, max_length=1024)
    hold_seconds: float | None = None
    debounce_seconds: float | None = None
    # wireless sensors (docs/sensors.md): a BTHome ``address`` (text) and ``measure``, a
    # zigbee2mqtt friendly name (``device``) or an MQTT ``topic`` with its ``field``, a
    # radar's serial ``port`` and desk zone. A BTHome bind key is a secret: it is set in
    # edge.toml on the Pi, never recorded here.
    measure: str | None = Field(default=None, max_length=32)
    detector: str | None = Field(default=None, max_length=32)
    invert: bool | None = None
    timeout_seconds: float | None = None
    device: str | None = Field(default=None, max_length=200)
    topic: str | None = Field(default=None, max_length=200)
    field: str | None = Field(default=None, max_length=64)
    on_value: str | None = Field(default=None, max_length=64)
    availability_topic: str | None = Field(default=None, max_length=200)
    port: str | None = Field(default=None, max_length=200)
    baudrate: int | None = None
    max_cm: int | None = None
    min_cm: int | None = None
    min_energy: int | None = None


class DeskSensors(_In):
    """The desk's sensors, replacing those recorded (an empty list clears them)."""

    sensors: list[SensorSpec] = Field(max_length=16)


class PlanInfo(BaseModel):
    content_type: str
    width: float
    height: float
    sha256: str
    size: int
    uploaded: float


class FloorAdmin(BaseModel):
    id: str
    name: str
    level: int
    plan: PlanInfo | None = None


class ZoneAdmin(BaseModel):
    id: str
    floor: str
    name: str


class DeskAdmin(BaseModel):
    id: str
    floor: str
    zone: str
    name: str
    agent: str | None
    x: float | None
    y: float | None
    assigned: bool
    sensors: list[SensorSpec] = []


class SiteAdmin(BaseModel):
    id: str
    name: str
    timezone: str
    headcount: int | None


class Layout(BaseModel):
    """Everything the constructor page draws for one site; ``agents`` may be given desks."""

    site: SiteAdmin
    floors: list[FloorAdmin]
    zones: list[ZoneAdmin]
    desks: list[DeskAdmin]
    agents: list[str]


class ImportProblem(BaseModel):
    where: str
    reason: str


class ImportReport(BaseModel):
    dry_run: bool
    applied: bool
    sites: int
    floors: int
    zones: int
    desks: int
    new_desks: int


