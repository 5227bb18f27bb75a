"""The floor constructor's edits to the building: sites, floors, zones, desks and plans.

Each function is one transaction over the store. Nothing with history is ever deleted: a
desk that reported a state, has transitions, rollups, check-ins or a printed QR label, a
zone with anonymous device counts, a floor or site that still holds anything, all get
:class:`BuildingConflict` (HTTP 409) saying what is in the way. Bad values get
:class:`BuildingInvalid` (HTTP 422), unknown objects :class:`~hub.errors.NotFound` (404).
Desk positions ``x``, ``y`` are fractions (0..1) of the floor plan's width and height.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from sqlite_utils import Database

from edge.protocol import is_id
from hub.building import desk_sensors
from hub.building.floor_plan import Plan
from hub.building.model import check_core_hours, check_timezone
from hub.db.compat import insert_row, take_turn, update_row, upsert_row
from hub.db.protocol import Store
from hub.errors import ConfigError, DeskpulseError, NotFound

MAX_NAME = 200


class BuildingConflict(DeskpulseError):
    """The change would lose history or clash with an existing object (HTTP 409)."""


class BuildingInvalid(DeskpulseError):
    """A value the building cannot take (HTTP 422)."""


# -- checks ------------------------------------------------------------------------------------

def check_id(value: object, what: str) -> str:
    if not is_id(value):
        raise BuildingInvalid(f"{what} id must match [a-z0-9-]{{1,64}}")
    return str(value)


def check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise BuildingInvalid(f"{what} name must be a non-empty text of at most {MAX_NAME} "
                              "characters")
    return value.strip()


def check_fraction(value: object, what: str) -> float | None:
    """A plan coordinate: None (not placed) or a number from 0 to 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or not 0 <= value <= 1:
        raise BuildingInvalid(f"{what} must be a number from 0 to 1 (a fraction of the plan)")
    return float(value)


def check_headcount(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10_000_000:
        raise BuildingInvalid("headcount must be a whole number of people above 0")
    return value


def _config(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except ConfigError as exc:
        raise BuildingInvalid(str(exc)) from None


def _one(db: Database, sql: str, params: list[Any]) -> Any:
    row = db.execute(sql, params).fetchone()
    return None if row is None else row[0]


def _count(db: Database, sql: str, params: list[Any]) -> int:
    return int(_one(db, sql, params) or 0)


def site_row(db: Database, site: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM sites WHERE id = ?", [site]))
    if not rows:
        raise NotFound(f"site {site!r} not found")
    return rows[0]


def floor_row(db: Database, site: str, floor: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM floors WHERE site = ? AND id = ?", [site, floor]))
    if not rows:
        raise NotFound(f"floor {floor!r} not found in site {site!r}")
    return rows[0]


def zone_row(db: Database, site: str, zone: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM zones WHERE site = ? AND id = ?", [site, zone]))
    if not rows:
        raise NotFound(f"zone {zone!r} not found in site {site!r}")
    return rows[0]


def desk_row(db: Database, site: str, desk: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM desks WHERE site = ? AND id = ?", [site, desk]))
    if not rows:
        raise NotFound(f"desk {desk!r} not found in site {site!r}")
    return rows[0]


def agent_site(db: Database, agent: str) -> str | None:
    """The site an agent belongs to: as it reported or was imported, else as provisioned."""
    site = _one(db, "SELECT site FROM agents WHERE id = ?", [agent])
    if site is None:
        site = _one(db, "SELECT site FROM provisioned_agents WHERE name = ? AND revoked IS NULL",
                    [agent])
    return None if site is None else str(site)


def check_agent(db: Database, site: str, agent: object) -> str | None:
    if agent is None:
        return None
    name = check_id(agent, "agent")
    home = agent_site(db, name)
    if home is None:
        raise BuildingInvalid(f"agent {name!r} is not known: provision it with `deskpulse hub "
                              f"agents add {name} --site {site}` first")
    if home != site:
        raise BuildingInvalid(f"agent {name!r} belongs to site {home!r}, not {site!r}")
    return name


# -- sites -------------------------------------------------------------------------------------

def create_site(store: Store, values: dict[str, Any]) -> None:
    site = check_id(values.get("id"), "site")
    row = {"id": site, "name": check_name(values.get("name") or site, "site"),
           "timezone": _config(check_timezone, values.get("timezone"), "timezone"),
           "core_hours": None, "headcount": check_headcount(values.get("headcount"))}
    if values.get("core_hours") is not None:
        row["core_hours"] = json.dumps(_config(check_core_hours, values["core_hours"]))
    with store.transaction() as db:
        if _count(db, "SELECT COUNT(*) FROM sites WHERE id = ?", [site]):
            raise BuildingConflict(f"site {site!r} already exists")
        insert_row(db, "sites", row)


def update_site(store: Store, site: str, changes: dict[str, Any]) -> None:
    update: dict[str, Any] = {}
    if "name" in changes:
        update["name"] = check_name(changes["name"], "site")
    if "timezone" in changes:
        update["timezone"] = _config(check_timezone, changes["timezone"], "timezone")
    if "headcount" in changes:
        update["headcount"] = check_headcount(changes["headcount"])
    with store.transaction() as db:
        site_row(db, site)
        if update:
            update_row(db, "sites", {"id": site}, update)


def delete_site(store: Store, site: str) -> None:
    with store.transaction() as db:
        site_row(db, site)
        floors = _count(db, "SELECT COUNT(*) FROM floors WHERE site = ?", [site])
        agents = _count(db, "SELECT COUNT(*) FROM (SELECT id FROM agents WHERE site = ? UNION "
                            "SELECT name FROM provisioned_agents WHERE site = ? AND revoked IS "
                            "NULL) AS named", [site, site])
        history = sum(_count(db, f"SELECT COUNT(*) FROM {table} WHERE site = ?", [site])
                      for table in ("day_summaries", "zone_counts", "transitions"))
        if floors or agents or history:
            raise BuildingConflict(
                f"site {site!r} still has {floors} floor(s), {agents} agent(s) and {history} "
                "history record(s): delete its floors first; a site with agents or history "
                "is kept")
        db.execute("DELETE FROM sites WHERE id = ?", [site])


# -- floors ------------------------------------------------------------------------------------

def _level(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 1000:
        raise BuildingInvalid("floor level must be a whole number from -1000 to 1000")
    return value


def create_floor(store: Store, site: str, values: dict[str, Any]) -> None:
    floor = check_id(values.get("id"), "floor")
    with store.transaction() as db:
        site_row(db, site)
        if _count(db, "SELECT COUNT(*) FROM floors WHERE site = ? AND id = ?", [site, floor]):
            raise BuildingConflict(f"floor {floor!r} already exists in site {site!r}")
        level = values.get("level")
        if level is None:
            level = _count(db, "SELECT COALESCE(MAX(level) + 1, 0) FROM floors WHERE site = ?",
                           [site])
        insert_row(db, "floors", {"site": site, "id": floor, "level": _level(level),
                                  "name": check_name(values.get("name") or floor, "floor")})


def update_floor(store: Store, site: str, floor: str, changes: dict[str, Any]) -> None:
    update: dict[str, Any] = {}
    if "name" in changes:
        update["name"] = check_name(changes["name"], "floor")
    if "level" in changes:
        update["level"] = _level(changes["level"])
    with store.transaction() as db:
        floor_row(db, site, floor)
        if update:
            update_row(db, "floors", {"site": site, "id": floor}, update)


def delete_floor(store: Store, site: str, floor: str) -> None:
    """Only an empty floor goes; its plan image goes with it (the plan is not history)."""
    with store.transaction() as db:
        floor_row(db, site, floor)
        zones = _count(db, "SELECT COUNT(*) FROM zones WHERE site = ? AND floor = ?",
                       [site, floor])
        desks = _count(db, "SELECT COUNT(*) FROM desks WHERE site = ? AND floor = ?",
                       [site, floor])
        if zones or desks:
            raise BuildingConflict(f"floor {floor!r} still has {zones} zone(s) and {desks} "
                                   "desk(s): delete or move them first")
        db.execute("DELETE FROM floor_plans WHERE site = ? AND floor = ?", [site, floor])
        db.execute("DELETE FROM floors WHERE site = ? AND id = ?", [site, floor])


# -- zones -------------------------------------------------------------------------------------

def create_zone(store: Store, site: str, values: dict[str, Any]) -> None:
    zone = check_id(values.get("id"), "zone")
    floor = check_id(values.get("floor"), "floor")
    with store.transaction() as db:
        floor_row(db, site, floor)
        if _count(db, "SELECT COUNT(*) FROM zones WHERE site = ? AND id = ?", [site, zone]):
            raise BuildingConflict(f"zone {zone!r} already exists in site {site!r}")
        insert_row(db, "zones", {"site": site, "id": zone, "floor": floor,
                                 "name": check_name(values.get("name") or zone, "zone")})


def update_zone(store: Store, site: str, zone: str, changes: dict[str, Any]) -> None:
    with store.transaction() as db:
        zone_row(db, site, zone)
        if "name" in changes:
            update_row(db, "zones", {"site": site, "id": zone},
                       {"name": check_name(changes["name"], "zone")})


def delete_zone(store: Store, site: str, zone: str) -> None:
    with store.transaction() as db:
        zone_row(db, site, zone)
        desks = _count(db, "SELECT COUNT(*) FROM desks WHERE site = ? AND zone = ?", [site, zone])
        counts = _count(db, "SELECT COUNT(*) FROM zone_counts WHERE site = ? AND zone = ?",
                        [site, zone])
        if desks:
            raise BuildingConflict(f"zone {zone!r} still has {desks} desk(s): delete or move "
                                   "them first")
        if counts:
            raise BuildingConflict(f"zone {zone!r} has history ({counts} anonymous device "
                                   "count(s)): it is kept; rename it instead")
        db.execute("DELETE FROM zones WHERE site = ? AND id = ?", [site, zone])


# -- desks -------------------------------------------------------------------------------------

DESK_HISTORY = (
    ("transitions", "transitions", "state change(s)"),
    ("rollups", "rollups", "rollup bin(s)"),
    ("checkins", "checkins", "check-in(s)"),
    ("desk_codes", "desk_codes", "QR label(s)"),
    ("desk_state", "desk_state", "live state"),
)


def desk_history(db: Database, desk: str) -> dict[str, int]:
    """How many history rows of each kind name the desk (all zero: safe to delete)."""
    return {key: _count(db, f"SELECT COUNT(*) FROM {table} WHERE desk = ?", [desk])  # noqa: S608
            for key, table, _ in DESK_HISTORY}


def create_desk(store: Store, site: str, values: dict[str, Any]) -> None:
    desk = check_id(values.get("id"), "desk")
    zone = check_id(values.get("zone"), "zone")
    with store.transaction() as db:
        floor = zone_row(db, site, zone)["floor"]
        other = _one(db, "SELECT site FROM desks WHERE id = ?", [desk])
        if other is not None:
            raise BuildingConflict(f"desk {desk!r} already exists (in site {other!r}); desk ids "
                                   "are unique across sites")
        insert_row(db, "desks", {
            "id": desk, "site": site, "floor": floor, "zone": zone,
            "name": check_name(values.get("name") or desk, "desk"),
            "agent": check_agent(db, site, values.get("agent")),
            "x": check_fraction(values.get("x"), "x"), "y": check_fraction(values.get("y"), "y"),
            "assigned": int(bool(values.get("assigned", False))),
        })


def update_desk(store: Store, site: str, desk: str, changes: dict[str, Any]) -> None:
    """Move (x, y), rename, re-zone (the floor follows the zone), assign an agent or mark
    the desk assigned to one person. Keys left out stay as they are; null clears."""
    update: dict[str, Any] = {}
    for axis in ("x", "y"):
        if axis in changes:
            update[axis] = check_fraction(changes[axis], axis)
    if "name" in changes:
        update["name"] = check_name(changes["name"], "desk")
    if "assigned" in changes:
        if not isinstance(changes["assigned"], bool):
            raise BuildingInvalid("assigned must be true or false")
        update["assigned"] = int(changes["assigned"])
    with store.transaction() as db:
        desk_row(db, site, desk)
        if "zone" in changes:
            zone = zone_row(db, site, check_id(changes["zone"], "zone"))
            update["zone"], update["floor"] = zone["id"], zone["floor"]
        if "agent" in changes:
            update["agent"] = check_agent(db, site, changes["agent"])
            if update["agent"] is not None:  # the desk's sensors move to that agent's Pi
                check_sensor_clash(db, update["agent"], desk, desk_sensors.loads(
                    desk_row(db, site, desk).get("sensors")))
        if update:
            update_row(db, "desks", {"id": desk}, update)


def check_sensor_clash(db: Database, agent: str, desk: str, specs: list[dict[str, Any]]
                       ) -> None:
    """BuildingConflict if ``specs`` on ``desk`` would share a GPIO pin or I2C address with
    another desk of the agent (one Pi reads them all)."""
    # Read, check, write: one edit of an agent's sensors at a time (PostgreSQL runs two
    # transactions side by side, and both would pass the check).
    take_turn(db, f"agent-sensors:{agent}")
    try:
        desk_sensors.check_agent(agent, [*desk_sensors.agent_sensors(db, agent, without=desk),
                                         (desk, specs)])
    except ConfigError as exc:
        raise BuildingConflict(str(exc)) from None


def set_desk_sensors(store: Store, site: str, desk: str, sensors: object) -> None:
    """Replace the desk's sensors (a list of edge.toml ``[[desks.sensors]]`` tables; an
    empty list clears them). Bad values 422, a pin or address clash on its agent 409."""
    specs = _config(desk_sensors.check_sensors, sensors)
    with store.transaction() as db:
        agent = desk_row(db, site, desk)["agent"]
        if agent is not None:
            check_sensor_clash(db, agent, desk, specs)
        db.execute("UPDATE desks SET sensors = ? WHERE id = ?", [desk_sensors.dumps(specs), desk])


def delete_desk(store: Store, site: str, desk: str) -> None:
    with store.transaction() as db:
        desk_row(db, site, desk)
        found = desk_history(db, desk)
        if any(found.values()):
            what = ", ".join(f"{found[key]} {label}" if key != "desk_state" else label
                             for key, _, label in DESK_HISTORY if found[key])
            raise BuildingConflict(f"desk {desk!r} has history ({what}): it is kept so that "
                                   "reports stay true; rename or move it instead")
        db.execute("DELETE FROM dirty WHERE desk = ?", [desk])
        db.execute("DELETE FROM desks WHERE id = ?", [desk])


# -- floor plans -------------------------------------------------------------------------------

def save_plan(store: Store, site: str, floor: str, plan: Plan) -> dict[str, Any]:
    row = {"site": site, "floor": floor, "content_type": plan.content_type,
           "width": plan.width, "height": plan.height, "sha256": plan.sha256,
           "size": len(plan.data), "uploaded": time.time(), "data": plan.data}
    with store.transaction() as db:
        floor_row(db, site, floor)
        upsert_row(db, "floor_plans", row, ("site", "floor"))
    return {k: v for k, v in row.items() if k != "data"}


def plan_data(db: Database, site: str, floor: str) -> tuple[str, str, bytes]:
    """(content type, sha256, bytes) of a floor's plan; NotFound if it has none."""
    row = db.execute("SELECT content_type, sha256, data FROM floor_plans WHERE site = ? AND "
                     "floor = ?", [site, floor]).fetchone()
    if row is None:
        raise NotFound(f"floor {floor!r} of site {site!r} has no plan")
    return str(row[0]), str(row[1]), bytes(row[2])


def plans(db: Database, site: str) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT floor, content_type, width, height, sha256, size, uploaded FROM floor_plans "
        "WHERE site = ? ORDER BY floor", [site]))


def delete_plan(store: Store, site: str, floor: str) -> None:
    with store.transaction() as db:
        floor_row(db, site, floor)
        db.execute("DELETE FROM floor_plans WHERE site = ? AND floor = ?", [site, floor])
