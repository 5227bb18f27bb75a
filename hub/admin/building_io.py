"""Export a site's building as JSON (the shape ``deskpulse hub import-building`` reads) and
import JSON or CSV uploads, with every problem listed, not just the first.

An import is all or nothing and never deletes: sites, floors, zones and desks are inserted
or updated in place (as the CLI does), so desk ids, QR label codes, check-ins and history
all survive re-importing the same building. It refuses a desk that already exists in
another site and an agent provisioned for another site, since either would move history
between sites.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from hub.admin.building_edit import agent_site, site_row
from hub.building import desk_sensors
from hub.building.csv_rows import CsvDesk
from hub.building.model import validate_building
from hub.db.protocol import Store
from hub.errors import ConfigError, NotFound

_DESK_PATH = re.compile(r"^sites\[0\]\.floors\[0\]\.zones\[0\]\.desks\[0\]|^sites\[0\]"
                        r"\.floors\[0\]\.zones\[0\]|^sites\[0\]\.floors\[0\]|^sites\[0\]")


@dataclass
class Problem:
    """Where (a JSON path, or ``line N`` of a CSV file) and why."""

    where: str
    reason: str


@dataclass
class ImportPlan:
    building: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


# -- export ------------------------------------------------------------------------------------

def export_building(db: Database, site: str) -> dict[str, Any]:
    """The site as ``{"sites": [...]}``; optional values are left out when unset."""
    row = site_row(db, site)
    out: dict[str, Any] = {"id": row["id"], "name": row["name"], "timezone": row["timezone"]}
    if row.get("headcount") is not None:
        out["headcount"] = row["headcount"]
    if row.get("core_hours"):
        out["core_hours"] = json.loads(row["core_hours"])
    zones = list(db.query("SELECT id, floor, name FROM zones WHERE site = ? ORDER BY id",
                          [site]))
    desks = list(db.query("SELECT id, zone, name, agent, x, y, assigned, sensors FROM desks "
                          "WHERE site = ? ORDER BY id", [site]))
    out["floors"] = []
    for floor in db.query("SELECT id, name, level FROM floors WHERE site = ? "
                          "ORDER BY level, id", [site]):
        floor_zones = []
        for zone in (z for z in zones if z["floor"] == floor["id"]):
            zone_desks = []
            for desk in (d for d in desks if d["zone"] == zone["id"]):
                item: dict[str, Any] = {"id": desk["id"], "name": desk["name"]}
                for key in ("agent", "x", "y"):
                    if desk[key] is not None:
                        item[key] = desk[key]
                item["assigned"] = bool(desk["assigned"])
                if desk["sensors"]:
                    item["sensors"] = desk_sensors.loads(desk["sensors"])
                zone_desks.append(item)
            floor_zones.append({"id": zone["id"], "name": zone["name"], "desks": zone_desks})
        out["floors"].append({"id": floor["id"], "name": floor["name"], "level": floor["level"],
                              "zones": floor_zones})
    return {"sites": [out]}


# -- JSON: every problem, each at its real path ------------------------------------------------

def _problem(exc: ConfigError, prefix: str) -> Problem:
    text = str(exc)
    match = _DESK_PATH.match(text)
    if match is None:
        return Problem("building", text)
    field_name, _, reason = text[match.end():].partition(" ")
    return Problem(prefix, f"{field_name.lstrip('.:')} {reason}".strip())


def _check(shell: dict[str, Any], prefix: str, out: list[Problem]) -> bool:
    try:
        validate_building(shell)
    except ConfigError as exc:
        out.append(_problem(exc, prefix))
        return False
    return True


def _without(item: Any, key: str) -> Any:
    return {k: v for k, v in item.items() if k != key} if isinstance(item, dict) else item


def json_problems(data: object) -> list[Problem]:
    """Each site, floor, zone and desk checked on its own, so that every bad one is named."""
    out: list[Problem] = []
    if not isinstance(data, dict) or not isinstance(data.get("sites", []), list):
        return [Problem("building", "must be an object with a list of sites")]
    for si, site in enumerate(data.get("sites", [])):
        sp = f"sites[{si}]"
        if not _check({"sites": [_without(site, "floors")]}, sp, out):
            continue
        floors = site.get("floors", [])
        if not isinstance(floors, list):
            out.append(Problem(f"{sp}.floors", "must be a list"))
            continue
        for fi, floor in enumerate(floors):
            fp = f"{sp}.floors[{fi}]"
            shell = {**_without(site, "floors"), "floors": [_without(floor, "zones")]}
            if not _check({"sites": [shell]}, fp, out):
                continue
            zones = floor.get("zones", [])
            for zi, zone in enumerate(zones if isinstance(zones, list) else [None]):
                zp = f"{fp}.zones[{zi}]"
                zshell = {**shell, "floors": [{**shell["floors"][0],
                                               "zones": [_without(zone, "desks")]}]}
                if not _check({"sites": [zshell]}, zp, out):
                    continue
                desks = zone.get("desks", [])
                for di, desk in enumerate(desks if isinstance(desks, list) else [None]):
                    dshell = {**zshell, "floors": [{**zshell["floors"][0], "zones": [
                        {**zshell["floors"][0]["zones"][0], "desks": [desk]}]}]}
                    _check({"sites": [dshell]}, f"{zp}.desks[{di}]", out)
    return out


# -- CSV rows to the JSON shape ----------------------------------------------------------------

def csv_to_building(db: Database, rows: list[CsvDesk], problems: list[Problem]
                    ) -> dict[str, Any]:
    """A building from desk rows; sites must exist, floors and zones may be new (named by
    id). Existing names, levels, time zones and core hours are kept."""
    sites: dict[str, dict[str, Any]] = {}
    zone_floor: dict[tuple[str, str], str] = {}
    seen: dict[str, int] = {}
    for row in rows:
        where = f"line {row.line}"
        if row.desk in seen:
            problems.append(Problem(where, f"desk {row.desk!r} appears twice (first on line "
                                           f"{seen[row.desk]})"))
            continue
        seen[row.desk] = row.line
        if row.site not in sites:
            try:
                site = site_row(db, row.site)
            except NotFound:
                problems.append(Problem(where, f"site {row.site!r} does not exist: create it "
                                               "in the constructor or import it as JSON first"))
                continue
            sites[row.site] = _site_shell(db, site)
        site = sites[row.site]
        known = zone_floor.setdefault((row.site, row.zone), site["_zones"].get(row.zone, row.floor))
        if known != row.floor:
            problems.append(Problem(where, f"zone {row.zone!r} is on floor {known!r}, not "
                                           f"{row.floor!r}"))
            continue
        floor = site["_floors"].setdefault(row.floor, {
            "id": row.floor, "name": row.floor or "?", "level": site["_next_level"], "zones": {}})
        if floor["level"] == site["_next_level"]:
            site["_next_level"] += 1
        zone = floor["zones"].setdefault(row.zone, {
            "id": row.zone, "name": site["_zone_names"].get(row.zone, row.zone or "?"),
            "desks": []})
        desk: dict[str, Any] = {"id": row.desk, "name": row.name, "assigned": row.assigned}
        for key in ("agent", "x", "y"):
            if getattr(row, key) is not None:
                desk[key] = getattr(row, key)
        sensors = row.sensors if row.sensors is not None else desk_sensors.loads(
            _one_value(db, "SELECT sensors FROM desks WHERE id = ?", row.desk))
        if sensors:  # no sensors column in the file: the desk keeps its recorded sensors
            desk["sensors"] = sensors
        zone["desks"].append(desk)
        _check({"sites": [{"id": row.site, "timezone": "UTC", "floors": [{
            "id": row.floor, "zones": [{"id": row.zone, "desks": [desk]}]}]}]}, where, problems)
    return {"sites": [_site_out(s) for s in sites.values()]}


def _site_shell(db: Database, site: dict[str, Any]) -> dict[str, Any]:
    floors = {f["id"]: {**f, "zones": {}} for f in db.query(
        "SELECT id, name, level FROM floors WHERE site = ?", [site["id"]])}
    zones = list(db.query("SELECT id, floor, name FROM zones WHERE site = ?", [site["id"]]))
    shell = {k: site[k] for k in ("id", "name", "timezone")}
    if site.get("headcount") is not None:
        shell["headcount"] = site["headcount"]
    if site.get("core_hours"):
        shell["core_hours"] = json.loads(site["core_hours"])
    shell["_floors"] = floors
    shell["_zones"] = {z["id"]: z["floor"] for z in zones}
    shell["_zone_names"] = {z["id"]: z["name"] for z in zones}
    shell["_next_level"] = max((f["level"] for f in floors.values()), default=-1) + 1
    return shell


def _site_out(shell: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in shell.items() if not k.startswith("_")}
    out["floors"] = [{**f, "zones": list(f["zones"].values())}
                     for f in shell["_floors"].values() if f["zones"]]
    return out


# -- cross checks and apply --------------------------------------------------------------------

def plan_import(db: Database, building: dict[str, Any], problems: list[Problem]) -> ImportPlan:
    """Validate the whole building and check it against the database."""
    plan = ImportPlan(building, problems)
    if problems:
        return plan
    try:
        rows = validate_building(building)
    except ConfigError as exc:
        plan.problems = json_problems(building) or [Problem("building", str(exc))]
        return plan
    for desk in rows.desks:
        where = f"desk {desk['id']}"
        for axis in ("x", "y"):
            if desk[axis] is not None and not 0 <= desk[axis] <= 1:
                plan.problems.append(Problem(where, f"{axis} must be from 0 to 1 (a fraction "
                                                    "of the floor plan)"))
        home = db.execute("SELECT site FROM desks WHERE id = ?", [desk["id"]]).fetchone()
        if home is not None and home[0] != desk["site"]:
            plan.problems.append(Problem(where, f"desk {desk['id']!r} belongs to site "
                                                f"{home[0]!r}; desk ids are unique across sites"))
        if desk["agent"] is not None:
            agent_home = agent_site(db, desk["agent"])
            if agent_home is not None and agent_home != desk["site"]:
                plan.problems.append(Problem(where, f"agent {desk['agent']!r} belongs to site "
                                                    f"{agent_home!r}, not {desk['site']!r}"))
    plan.problems += sensor_clashes(db, rows.desks)
    existing = {r[0] for r in db.execute("SELECT id FROM desks")}
    plan.counts = {"sites": len(rows.sites), "floors": len(rows.floors),
                   "zones": len(rows.zones), "desks": len(rows.desks),
                   "new_desks": sum(1 for d in rows.desks if d["id"] not in existing)}
    return plan


def _one_value(db: Database, sql: str, param: str) -> Any:
    row = db.execute(sql, [param]).fetchone()
    return None if row is None else row[0]


def sensor_clashes(db: Database, desks: list[dict[str, Any]]) -> list[Problem]:
    """A GPIO pin or I2C address used twice among one agent's desks, counting the agent's
    desks in the database that the import leaves as they are."""
    imported = {d["id"] for d in desks}
    by_agent: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
    for desk in desks:
        if desk["agent"] is not None and desk["sensors"]:
            by_agent.setdefault(desk["agent"], []).append(
                (desk["id"], desk_sensors.loads(desk["sensors"])))
    out: list[Problem] = []
    for agent, listed in sorted(by_agent.items()):
        kept = [(d, s) for d, s in desk_sensors.agent_sensors(db, agent) if d not in imported]
        try:
            desk_sensors.check_agent(agent, kept + listed)
        except ConfigError as exc:
            out.append(Problem(f"agent {agent}", str(exc).removeprefix(f"agent {agent}: ")))
    return out


def apply_import(store: Store, plan: ImportPlan) -> None:
    """Insert or update everything in one transaction (Store.import_building)."""
    store.import_building(plan.building)
