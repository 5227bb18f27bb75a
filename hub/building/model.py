"""The building description an installer imports: validated into table rows, purely.

Shape: ``{"sites": [{"id", "name", "timezone", "headcount"?, "core_hours"?: {"days",
"start", "end"},
"floors": [{"id", "name", "level", "zones": [{"id", "name", "desks": [{"id", "name",
"agent"?, "x"?, "y"?, "assigned"?, "sensors"?}]}]}]}]}``. ``assigned: true`` marks a desk
permanently assigned to one person (never who): its figures are only reported at zone
level. ``sensors`` lists the edge.toml ``[[desks.sensors]]`` tables that read the desk
(hub/building/desk_sensors.py); left out, the desk has none recorded. Every
problem is a :class:`ConfigError` naming where it is
(``sites[0].floors[1].zones[0].desks[3].id``), so an installer can fix the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.protocol import is_id
from hub.building import desk_sensors
from hub.errors import ConfigError

DEFAULT_CORE_HOURS: dict[str, Any] = {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass
class BuildingRows:
    """Rows for the sites, floors, zones and desks tables."""

    sites: list[dict[str, Any]] = field(default_factory=list)
    floors: list[dict[str, Any]] = field(default_factory=list)
    zones: list[dict[str, Any]] = field(default_factory=list)
    desks: list[dict[str, Any]] = field(default_factory=list)


def clock_seconds(text: str) -> int:
    """Seconds after local midnight for ``HH:MM`` (``24:00`` is the end of the day)."""
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def check_core_hours(value: object, where: str = "core_hours") -> dict[str, Any]:
    """A site's analysis window: weekdays (Monday = 0), local start/end, closed dates."""
    if value is None:
        return dict(DEFAULT_CORE_HOURS)
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be an object with days, start and end")
    unknown = set(value) - {"days", "start", "end", "closed"}
    if unknown:
        raise ConfigError(f"{where} has unknown keys: {', '.join(sorted(map(str, unknown)))}")
    days = value.get("days", DEFAULT_CORE_HOURS["days"])
    if (
        not isinstance(days, list) or not days
        or any(isinstance(d, bool) or d not in range(7) for d in days)
    ):
        raise ConfigError(f"{where}.days must be a non-empty list of weekdays 0..6 (Monday = 0)")
    start = value.get("start", DEFAULT_CORE_HOURS["start"])
    end = value.get("end", DEFAULT_CORE_HOURS["end"])
    for name, text in (("start", start), ("end", end)):
        if not isinstance(text, str) or not _TIME.fullmatch(text):
            raise ConfigError(f"{where}.{name} must be a local time HH:MM")
    if clock_seconds(start) >= clock_seconds(end):
        raise ConfigError(f"{where}.start must be before {where}.end")
    closed = value.get("closed", [])
    if not isinstance(closed, list) or any(
        not isinstance(d, str) or not _DATE.fullmatch(d) for d in closed
    ):
        raise ConfigError(f"{where}.closed must be a list of dates YYYY-MM-DD")
    out: dict[str, Any] = {"days": sorted(set(days)), "start": start, "end": end}
    if closed:
        out["closed"] = sorted(set(closed))
    return out


def check_timezone(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be an IANA time zone name such as Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where} is not a known time zone: {value!r}") from None
    return value


def _items(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}.{key} must be a list")
    return value


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be an object")
    return value


def _ident(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not is_id(value):
        raise ConfigError(f"{where}.{key} must be an id matching [a-z0-9-]{{1,64}}")
    return str(value)


def _name(item: dict[str, Any], where: str, default: str) -> str:
    value = item.get("name", default)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ConfigError(f"{where}.name must be a non-empty text of at most 200 characters")
    return value


def _coordinate(item: dict[str, Any], key: str, where: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}.{key} must be a number")
    return float(value)


def _headcount(site: dict[str, Any], where: str) -> int | None:
    """People a site is planned for (METRICS.md 13, sharing ratio); optional."""
    value = site.get("headcount")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10_000_000:
        raise ConfigError(f"{where}.headcount must be a whole number of people above 0")
    return value


def _assigned(desk: dict[str, Any], where: str) -> int:
    """1 for a desk permanently assigned to one person (PRIVACY.md 8); who is never stored."""
    value = desk.get("assigned", False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.assigned must be true or false")
    return int(value)


def _sensors(desk: dict[str, Any], where: str) -> str | None:
    """The desk's sensors as stored (hub/building/desk_sensors.py), checked by the edge's rules; a
    message reads ``sites[0]...desks[3]: sensors[1].pin: GPIO pin 17 is already used by
    sensors[0].pin: ...``."""
    try:
        return desk_sensors.dumps(desk_sensors.check_sensors(desk.get("sensors")))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def validate_building(data: object) -> BuildingRows:
    """Check a building description and flatten it into table rows."""
    root = _obj(data, "building")
    rows = BuildingRows()
    seen_desks: set[str] = set()
    for si, site in enumerate(_items(root, "sites", "building")):
        sw = f"sites[{si}]"
        site = _obj(site, sw)
        site_id = _ident(site, "id", sw)
        core = check_core_hours(site.get("core_hours"), f"{sw}.core_hours")
        rows.sites.append({
            "id": site_id, "name": _name(site, sw, site_id),
            "timezone": check_timezone(site.get("timezone"), f"{sw}.timezone"),
            "core_hours": core if "core_hours" in site else None,
            "headcount": _headcount(site, sw),
        })
        for fi, floor in enumerate(_items(site, "floors", sw)):
            fw = f"{sw}.floors[{fi}]"
            floor = _obj(floor, fw)
            floor_id = _ident(floor, "id", fw)
            level = floor.get("level", fi)
            if isinstance(level, bool) or not isinstance(level, int):
                raise ConfigError(f"{fw}.level must be an integer")
            rows.floors.append(
                {"site": site_id, "id": floor_id, "name": _name(floor, fw, floor_id),
                 "level": level}
            )
            for zi, zone in enumerate(_items(floor, "zones", fw)):
                zw = f"{fw}.zones[{zi}]"
                zone = _obj(zone, zw)
                zone_id = _ident(zone, "id", zw)
                rows.zones.append(
                    {"site": site_id, "id": zone_id, "floor": floor_id,
                     "name": _name(zone, zw, zone_id)}
                )
                for di, desk in enumerate(_items(zone, "desks", zw)):
                    dw = f"{zw}.desks[{di}]"
                    desk = _obj(desk, dw)
                    desk_id = _ident(desk, "id", dw)
                    if desk_id in seen_desks:
                        raise ConfigError(f"{dw}.id: desk '{desk_id}' appears twice")
                    seen_desks.add(desk_id)
                    agent = desk.get("agent")
                    if agent is not None and not is_id(agent):
                        raise ConfigError(f"{dw}.agent must be an id matching [a-z0-9-]{{1,64}}")
                    rows.desks.append({
                        "id": desk_id, "site": site_id, "floor": floor_id, "zone": zone_id,
                        "name": _name(desk, dw, desk_id), "agent": agent,
                        "x": _coordinate(desk, "x", dw), "y": _coordinate(desk, "y", dw),
                        "assigned": _assigned(desk, dw),
                        "sensors": _sensors(desk, dw),
                    })
    return rows
