"""The building as CSV, one row per desk: pure functions over text.

Columns, in this order: ``site, floor, zone, desk, name, x, y, agent, assigned, sensors``.
``x`` and ``y`` are fractions (0..1) of the floor plan, empty when the desk is not placed;
``agent`` is empty when any agent of the site may report the desk; ``assigned`` is ``true``
or ``false``; ``sensors`` is the desk's sensors as a JSON list of edge.toml
``[[desks.sensors]]`` tables (``[{"type": "pir", "pin": 17}]``), empty for none. A file
without a ``sensors`` column leaves every desk's recorded sensors as they are. A cell that
a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``) is written with a
leading ``'``, which the import removes again. Sites, floors and zones get their details
(time zone, names, levels) from JSON or the constructor: a CSV row names them by id only.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any

COLUMNS = ("site", "floor", "zone", "desk", "name", "x", "y", "agent", "assigned", "sensors")
REQUIRED = COLUMNS[:-1]  # files written before sensors were recorded still import
SENSORS_HINT = 'sensors must be a JSON list such as [{"type": "pir", "pin": 17}] or empty'
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
_FORMULA = ("=", "+", "-", "@")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


@dataclass(frozen=True)
class CsvDesk:
    """One desk row as read, with its line number (the header is line 1)."""

    line: int
    site: str
    floor: str
    zone: str
    desk: str
    name: str
    x: float | None
    y: float | None
    agent: str | None
    assigned: bool
    sensors: list[Any] | None = None  # None: the file has no sensors column


def _safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _unsafe(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA) else text


def _number(value: Any) -> str:
    return "" if value is None else repr(float(value))


def building_to_csv(building: dict[str, Any]) -> str:
    """CSV of every desk in a building description (the JSON shape of hub.building.model)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for site in building.get("sites", []):
        for floor in site.get("floors", []):
            for zone in floor.get("zones", []):
                for desk in zone.get("desks", []):
                    writer.writerow([
                        site["id"], floor["id"], zone["id"], desk["id"], _safe(desk["name"]),
                        _number(desk.get("x")), _number(desk.get("y")), desk.get("agent") or "",
                        "true" if desk.get("assigned") else "false",
                        json.dumps(desk["sensors"]) if desk.get("sensors") else "",
                    ])
    return out.getvalue()


def _coordinate(text: str, column: str) -> float | None | str:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        return f"{column} must be a number from 0 to 1 or empty"
    if not math.isfinite(value) or not 0 <= value <= 1:
        return f"{column} must be a number from 0 to 1 or empty"
    return value


def _sensors(text: str) -> list[Any] | str:
    if not text:
        return []
    try:
        value = json.loads(_unsafe(text))
    except (ValueError, RecursionError):
        return SENSORS_HINT
    return value if isinstance(value, list) else SENSORS_HINT


def _row(line: int, record: dict[str, str], with_sensors: bool) -> CsvDesk | str:
    values = {k: (record.get(k) or "").strip() for k in COLUMNS}
    sensors = _sensors(values["sensors"]) if with_sensors else None
    if isinstance(sensors, str):
        return sensors
    x = _coordinate(values["x"], "x")
    y = _coordinate(values["y"], "y")
    for problem in (x, y):
        if isinstance(problem, str):
            return problem
    assigned = values["assigned"].lower()
    if assigned not in _TRUE | _FALSE:
        return "assigned must be true or false"
    return CsvDesk(
        line=line, site=values["site"], floor=values["floor"], zone=values["zone"],
        desk=values["desk"], name=_unsafe(values["name"]) or values["desk"],
        x=x, y=y,  # type: ignore[arg-type]
        agent=values["agent"] or None, assigned=assigned in _TRUE, sensors=sensors,
    )


def parse_building_csv(data: bytes) -> tuple[list[CsvDesk], list[tuple[int, str]]]:
    """Rows and (line, reason) problems; never raises on any input."""
    if len(data) > MAX_CSV_BYTES:
        return [], [(0, f"the file is larger than {MAX_CSV_BYTES} bytes")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [(0, "the file is not UTF-8 text")]
    if "\x00" in text:
        return [], [(0, "the file contains NUL characters: not a CSV file")]
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        return [], [(1, f"unreadable CSV: {exc}")]
    missing = [c for c in REQUIRED if c not in header]
    extra = [h for h in header if h not in COLUMNS]
    if missing or extra:
        return [], [(1, f"the header must be {','.join(COLUMNS)} (sensors may be left out)"
                        + (f"; missing: {', '.join(missing)}" if missing else "")
                        + (f"; unknown: {', '.join(extra[:5])}" if extra else ""))]
    reader.fieldnames = header
    rows: list[CsvDesk] = []
    errors: list[tuple[int, str]] = []
    try:
        for record in reader:
            line = reader.line_num
            if len(rows) + len(errors) >= MAX_ROWS:
                errors.append((line, f"more than {MAX_ROWS} rows"))
                break
            if record.get("\x00extra"):
                errors.append((line, "the row has more cells than the header"))
                continue
            if not any((v or "").strip() for v in record.values()):
                continue
            parsed = _row(line, record, "sensors" in header)
            if isinstance(parsed, str):
                errors.append((line, parsed))
            else:
                rows.append(parsed)
    except csv.Error as exc:
        errors.append((reader.line_num, f"unreadable CSV: {exc}"))
    return rows, errors
