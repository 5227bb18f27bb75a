"""Simulated buildings: sites, floors, zones and desks with floor-plan positions.

A generated building is deterministic for its seed and serialises to exactly the JSON
shape the hub imports (``Building.to_dict``), so a demo, a test and an installer's hand
written file all go through the same import path. ``Building.from_dict`` reads that shape
back (for ``deskpulse sim fleet --building``) and rejects anything else with a reason.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.errors import ConfigError
from edge.protocol import is_id

__all__ = [
    "Building", "CoreHours", "Desk", "Floor", "Site", "Zone", "generate_building",
]

_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")
# Longest suffix generate_building appends to a site id: "-f99-z99-d999".
_MAX_SITE_ID = 64 - len("-f99-z99-d999")
ZONE_NAMES = (
    "Atrium", "Harbour", "Library", "Garden", "Studio", "Lighthouse", "Orchard", "Gallery",
    "Workshop", "Terrace", "Observatory", "Courtyard", "Foundry", "Meadow", "Quay", "Loft",
)


@dataclass(frozen=True)
class CoreHours:
    """The analysis window of a site: weekdays (Monday = 0) and local start/end times."""

    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: str = "08:00"
    end: str = "18:00"

    def __post_init__(self) -> None:
        if not self.days or any(d not in range(7) for d in self.days):
            raise ValueError("core hours days must be weekday numbers 0..6 (Monday = 0)")
        if not _TIME.fullmatch(self.start) or not _TIME.fullmatch(self.end):
            raise ValueError("core hours start/end must be HH:MM")
        if self.start >= self.end:
            raise ValueError("core hours must start before they end")

    def to_dict(self) -> dict[str, Any]:
        return {"days": sorted(set(self.days)), "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Desk:
    id: str
    name: str
    zone: str
    floor: str
    agent: str
    x: float
    y: float


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    desks: tuple[Desk, ...]


@dataclass(frozen=True)
class Floor:
    id: str
    name: str
    level: int
    zones: tuple[Zone, ...]


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    timezone: str
    floors: tuple[Floor, ...]
    core_hours: CoreHours | None = None


@dataclass(frozen=True)
class Building:
    """One site with its floors, zones and desks (the unit an installer describes)."""

    site: Site

    @property
    def zones(self) -> tuple[Zone, ...]:
        return tuple(z for f in self.site.floors for z in f.zones)

    @property
    def desks(self) -> tuple[Desk, ...]:
        return tuple(d for z in self.zones for d in z.desks)

    def agents(self) -> dict[str, list[Desk]]:
        """Agent id -> the desks it reads, in floor-plan order."""
        out: dict[str, list[Desk]] = {}
        for desk in self.desks:
            out.setdefault(desk.agent, []).append(desk)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Exactly the hub's import shape: ``{"sites": [...]}``."""
        site = self.site
        body: dict[str, Any] = {"id": site.id, "name": site.name, "timezone": site.timezone}
        if site.core_hours is not None:
            body["core_hours"] = site.core_hours.to_dict()
        body["floors"] = [
            {
                "id": f.id, "name": f.name, "level": f.level,
                "zones": [
                    {
                        "id": z.id, "name": z.name,
                        "desks": [
                            {"id": d.id, "name": d.name, "agent": d.agent, "x": d.x, "y": d.y}
                            for d in z.desks
                        ],
                    }
                    for z in f.zones
                ],
            }
            for f in site.floors
        ]
        return {"sites": [body]}

    @classmethod
    def from_dict(cls, data: object) -> Building:
        """Read the hub import shape back; one site only. Raises ConfigError with a reason."""
        return _parse_building(data)


# ---------------------------------------------------------------------------
# Generation


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """Split ``total`` into ``parts`` positive sizes that vary by about +-20 %."""
    weights = [rng.uniform(0.8, 1.2) for _ in range(parts)]
    scale = total / sum(weights)
    sizes = [max(1, math.floor(w * scale)) for w in weights]
    i = 0
    while sum(sizes) < total:
        sizes[i % parts] += 1
        i += 1
    while sum(sizes) > total:
        j = max(range(parts), key=sizes.__getitem__)
        sizes[j] -= 1
    return sizes


def _zone_cells(count: int) -> list[tuple[float, float, float, float]]:
    """Grid cells (x0, y0, width, height) in the unit square for ``count`` zones."""
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    return [
        ((i % cols) / cols, (i // cols) / rows, 1 / cols, 1 / rows) for i in range(count)
    ]


def _layout(count: int, cell: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    """Desk positions in rows inside a zone cell (benches: wider than deep)."""
    x0, y0, w, h = cell
    per_row = max(1, math.ceil(math.sqrt(count * 2)))
    rows = math.ceil(count / per_row)
    pad_x, pad_y = w * 0.1, h * 0.15
    out = []
    for i in range(count):
        col, row = i % per_row, i // per_row
        x = x0 + pad_x + (w - 2 * pad_x) * (col + 0.5) / per_row
        y = y0 + pad_y + (h - 2 * pad_y) * (row + 0.5) / rows
        out.append((round(x, 4), round(y, 4)))
    return out


def generate_building(
    *,
    seed: int,
    site_id: str = "demo",
    site_name: str = "Demo office",
    floors: int = 2,
    zones_per_floor: int | None = None,
    desks: int = 100,
    desks_per_agent: int = 10,
    timezone: str = "Europe/Berlin",
    core_hours: CoreHours | None = None,
) -> Building:
    """A deterministic building for ``seed``.

    Desks are split over floors evenly and over zones unevenly (+-20 %); zones default to
    about 20 desks each. Each floor's desks are cut into groups of ``desks_per_agent`` in
    floor-plan order, one edge agent per group (an agent never spans floors, as a Pi is
    cabled to nearby desks). Ids: ``{site}-f1-z2-d07``, agents ``{site}-agent-03``.
    """
    if not is_id(site_id) or len(site_id) > _MAX_SITE_ID:
        raise ValueError(f"site_id must match [a-z0-9-]{{1,{_MAX_SITE_ID}}}")
    if not 1 <= floors <= 99:
        raise ValueError("floors must be between 1 and 99")
    if not floors <= desks <= 999 * 99:
        raise ValueError("desks must be at least one per floor")
    if desks_per_agent < 1:
        raise ValueError("desks_per_agent must be at least 1")
    _check_timezone(timezone)
    rng = random.Random(f"building:{seed}")
    per_floor = [desks // floors + (1 if i < desks % floors else 0) for i in range(floors)]
    names = list(ZONE_NAMES)
    rng.shuffle(names)
    agent_no = 0
    built_floors = []
    for f_index, floor_desks in enumerate(per_floor):
        level = f_index + 1
        floor_id = f"{site_id}-f{level}"
        n_zones = zones_per_floor or max(1, round(floor_desks / 20))
        n_zones = max(1, min(n_zones, floor_desks, 99))
        sizes = _split(floor_desks, n_zones, rng)
        if max(sizes) > 999:
            raise ValueError("more than 999 desks in one zone; raise zones_per_floor")
        cells = _zone_cells(n_zones)
        raw: list[tuple[str, str, list[tuple[str, str, float, float]]]] = []
        for z_index, size in enumerate(sizes):
            zone_id = f"{floor_id}-z{z_index + 1}"
            zone_name = names[(f_index * n_zones + z_index) % len(names)]
            positions = _layout(size, cells[z_index])
            raw.append((zone_id, zone_name, [
                (f"{zone_id}-d{n + 1:02d}", f"{level}.{z_index + 1}.{n + 1:02d}", x, y)
                for n, (x, y) in enumerate(positions)
            ]))
        # Agents: consecutive groups over this floor's desks in plan order.
        flat = [d[0] for _, _, ds in raw for d in ds]
        agent_of = {}
        for start in range(0, len(flat), desks_per_agent):
            agent_no += 1
            for desk_id in flat[start:start + desks_per_agent]:
                agent_of[desk_id] = f"{site_id}-agent-{agent_no:02d}"
        zones = tuple(
            Zone(zone_id, zone_name, tuple(
                Desk(d_id, d_name, zone_id, floor_id, agent_of[d_id], x, y)
                for d_id, d_name, x, y in ds
            ))
            for zone_id, zone_name, ds in raw
        )
        built_floors.append(Floor(floor_id, f"Floor {level}", level, zones))
    return Building(Site(site_id, site_name, timezone, tuple(built_floors), core_hours))


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}") from None


# ---------------------------------------------------------------------------
# Reading the import shape back


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise ConfigError(f"{where}: missing field '{key}'")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{where}: field '{key}' has the wrong type")
    return value


def _id(obj: Mapping[str, Any], where: str) -> str:
    value = _get(obj, "id", str, where)
    if not is_id(value):
        raise ConfigError(f"{where}: id must match [a-z0-9-]{{1,64}}")
    return str(value)


def _objects(obj: Mapping[str, Any], key: str, where: str) -> Sequence[Mapping[str, Any]]:
    items = _get(obj, key, list, where)
    if not all(isinstance(i, dict) for i in items):
        raise ConfigError(f"{where}: every item of '{key}' must be an object")
    return items


def _parse_core_hours(value: object, where: str) -> CoreHours:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: core_hours must be an object")
    days = _get(value, "days", list, where + ".core_hours")
    try:
        return CoreHours(
            tuple(days), _get(value, "start", str, where), _get(value, "end", str, where)
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _parse_building(data: object) -> Building:
    if not isinstance(data, dict):
        raise ConfigError("building: the file must hold a JSON object with 'sites'")
    sites = _objects(data, "sites", "building")
    if len(sites) != 1:
        raise ConfigError("building: exactly one site is supported by the simulator")
    s = sites[0]
    site_id = _id(s, "site")
    where = f"site {site_id}"
    timezone = _get(s, "timezone", str, where)
    _check_timezone(timezone)
    core = _parse_core_hours(s["core_hours"], where) if "core_hours" in s else None
    seen: set[str] = set()
    floors = []
    for f in _objects(s, "floors", where):
        floor_id = _id(f, "floor")
        zones = []
        for z in _objects(f, "zones", f"floor {floor_id}"):
            zone_id = _id(z, "zone")
            desks = []
            for d in _objects(z, "desks", f"zone {zone_id}"):
                desk_id = _id(d, "desk")
                w = f"desk {desk_id}"
                agent = _get(d, "agent", str, w)
                if not is_id(agent):
                    raise ConfigError(f"{w}: agent must match [a-z0-9-]{{1,64}}")
                if desk_id in seen:
                    raise ConfigError(f"{w}: duplicate desk id")
                seen.add(desk_id)
                desks.append(Desk(
                    desk_id, _get(d, "name", str, w), zone_id, floor_id, agent,
                    float(_get(d, "x", (int, float), w)), float(_get(d, "y", (int, float), w)),
                ))
            zones.append(Zone(zone_id, _get(z, "name", str, f"zone {zone_id}"), tuple(desks)))
        floors.append(Floor(
            floor_id, _get(f, "name", str, f"floor {floor_id}"),
            int(_get(f, "level", int, f"floor {floor_id}")), tuple(zones),
        ))
    if not seen:
        raise ConfigError(f"{where}: the building has no desks")
    return Building(Site(site_id, _get(s, "name", str, where), timezone, tuple(floors), core))
