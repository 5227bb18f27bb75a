"""Utilisation figures per site / floor / zone / desk, as defined in docs/metrics.md.

`from` and `to` accept an ISO date (a whole local day: `to` is inclusive), an ISO
datetime (local time of the site unless it carries an offset) or Unix seconds. Without
them the window is today in the site's time zone, up to now.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError

from hub.api.deps import CurrentPrincipal, SettingsDep, SiteDep, StoreDep
from hub.api.models import Group
from hub.api.routes.utilisation_models import ReportPublic
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.errors import ConfigError
from hub.metrics import calendar as metrics
from hub.metrics import days as metrics_days
from hub.metrics import report as metrics_report
from hub.reports import csv_export
from hub.reports import day_store as report_rollup
from hub.reports import people as report_people

router = APIRouter(prefix="/api/v1/utilisation", tags=["utilisation"])
MAX_SPAN_SECONDS = 366 * 86_400
EARLIEST, LATEST = 0.0, 32_503_680_000.0  # 1970-01-01 .. 3000-01-01 UTC
_EARLIEST_TEXT, _LATEST_TEXT = "1970-01-01 00:00 UTC", "3000-01-01 00:00 UTC"
_UNIX = re.compile(r"^[+-]?\d+(\.\d+)?$")
_INSTANT_HELP = "ISO date, ISO datetime or Unix seconds"


def parse_instant(value: str, tz: ZoneInfo, *, end: bool) -> float:
    """Unix seconds for one `from`/`to` value; ValueError with a readable reason.

    A bare date means local midnight at its start, or for `end` the midnight after it,
    so `from=2024-05-06&to=2024-05-06` is that whole day.
    """
    text = value.strip()
    if not text:
        raise ValueError(f"empty; expected an {_INSTANT_HELP}")
    if _UNIX.match(text):
        seconds = float(text)
        if not EARLIEST <= seconds < LATEST:
            raise ValueError(f"Unix seconds {text} are {_outside(seconds)}")
        return seconds
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                day += timedelta(days=1)
            seconds = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
            seconds = moment.timestamp()
    except (ValueError, OverflowError):
        raise ValueError(f"{value!r} is not an {_INSTANT_HELP}") from None
    if not EARLIEST <= seconds < LATEST:
        # In UTC, the bounds' own zone: a local date can fall outside even when its name
        # does not seem to (1970-01-01 in Berlin begins at 1969-12-31 23:00 UTC).
        try:
            when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
            at = f"{'begins at' if len(text) == 10 else 'is'} {when:%Y-%m-%d %H:%M} UTC, "
        except OverflowError:  # beyond year 9999 in UTC
            at = "is "
        raise ValueError(f"{value!r} {at}{_outside(seconds)}")
    return seconds


def _outside(seconds: float) -> str:
    if seconds < EARLIEST:
        return f"before the earliest time allowed, {_EARLIEST_TEXT}"
    return f"not before the end of the range allowed, {_LATEST_TEXT}"


def resolve_window(
    tz: ZoneInfo, start: str | None, end: str | None, *, now: float
) -> tuple[float, float]:
    """(start, end) in Unix seconds, validated; RequestValidationError-shaped problems."""
    problems: list[dict[str, Any]] = []
    bounds: dict[str, float] = {}
    for name, raw in (("from", start), ("to", end)):
        if raw is None:
            continue
        try:
            bounds[name] = parse_instant(raw, tz, end=name == "to")
        except ValueError as exc:
            problems.append(_problem(name, str(exc), raw))
    if problems:
        raise RequestValidationError(problems)
    today = datetime.fromtimestamp(now, tz).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=tz).timestamp()
    lo = bounds.get("from", midnight)
    if "to" in bounds:
        hi = bounds["to"]
    elif lo < now:
        hi = max(now, lo + 1.0)  # from `from` up to now
    else:
        hi = min(lo + 86_400, LATEST)  # a start in the future: one day of it
    if hi <= lo:
        raise RequestValidationError([_problem("to", "'to' must be after 'from'", end)])
    if hi - lo > MAX_SPAN_SECONDS:
        raise RequestValidationError(
            [_problem("to", "the window may span at most 366 days", end)]
        )
    return lo, hi


def _problem(field: str, message: str, raw: str | None) -> dict[str, Any]:
    return {"type": "value_error", "loc": ["query", field], "msg": message, "input": raw}


def _site_zone(site: dict[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(site["timezone"])
    except (ZoneInfoNotFoundError, ValueError, KeyError) as exc:
        raise ConfigError(f"site {site['id']!r} has an unknown time zone") from exc


def _core_hours(site: dict[str, Any]) -> Any:
    core = site.get("core_hours")
    return json.loads(core) if isinstance(core, str) else core


def thresholds_query(
    used_hour_minutes: Annotated[float, Query(ge=1, le=60, description="used hour: minutes "
                                              "occupied in the hour (default 5)")] = 5,
    used_day_minutes: Annotated[float, Query(ge=1, le=1440, description="used day: minutes "
                                             "occupied in the day's window (default 30)")] = 30,
    hold_minutes: Annotated[float, Query(ge=0, le=240, description="dwell: gaps shorter than "
                                         "this merge two spells (default 10)")] = 10,
) -> metrics_days.Thresholds:
    return metrics_days.Thresholds(used_hour_minutes * 60.0, used_day_minutes * 60.0,
                                   hold_minutes * 60.0)


ThresholdsDep = Annotated[metrics_days.Thresholds, Depends(thresholds_query)]
Start = Annotated[str | None, Query(alias="from", description=_INSTANT_HELP)]
End = Annotated[str | None, Query(alias="to", description=_INSTANT_HELP)]
NOT_PER_DESK = {
    "10": "zone presence: counted per zone, so shown for zone, floor and site groups",
    "11": "check-in figures: never per desk (one desk's check-ins are one person's); "
          "shown for zone, floor and site groups",
}
ASSIGNED_NOTE = "desks assigned to one person are reported at zone level only (PRIVACY.md 8)"
ALL_ASSIGNED_NOTE = ("a zone whose desks are all assigned to single people and number fewer "
                     "than k is left out of every group's figures (PRIVACY.md 8)")


PER_DESK_ROLES = ("admin", "manager")
PER_DESK_REFUSED = ("figures per desk and per zone are for managers and administrators; "
                    "ask for group=floor or group=site")


def require_group_role(principal: Any, group: str) -> None:
    """Analytics per desk and zone is for managers and administrators (docs/dashboard.md
    "Roles"); employees get the floor and site figures only."""
    if group in ("desk", "zone") and principal.role not in PER_DESK_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=PER_DESK_REFUSED)


@dataclass(frozen=True)
class Prepared:
    """What every utilisation route works from: the window, layout, grouping, summaries."""

    lo: float
    hi: float
    now: float
    layout: report_rollup.SiteLayout
    grouping: metrics_report.Grouping
    names: dict[str, str]
    context: dict[str, Any]


def prepare(
    store: Store, settings: HubSettings, site: dict[str, Any], group: str,
    start: str | None, end: str | None, thresholds: metrics_days.Thresholds,
) -> Prepared:
    tz = _site_zone(site)
    now = time.time()
    lo, hi = resolve_window(tz, start, end, now=now)
    layout = report_rollup.site_layout(store, site, settings.bin_seconds, thresholds)
    assigned = store.assigned_desks(site["id"])
    grouping, names = _grouping(store, site, group, layout, assigned, settings.privacy_k)
    core = _core_hours(site)
    context = {
        "site": site["id"], "group": group, "not_included": _notes(group, assigned),
        "window": metrics.window_description(site["timezone"], core, lo, hi),
        "bin_seconds": settings.bin_seconds, "spec_version": metrics.SPEC_VERSION,
    }
    return Prepared(lo, hi, now, layout, grouping, names, context)


def _notes(group: str, assigned: set[str]) -> dict[str, str]:
    """Figures a grouping leaves out, and why (keys are METRICS.md / PRIVACY.md items)."""
    if group == "desk":
        return {**NOT_PER_DESK, "8": ASSIGNED_NOTE} if assigned else dict(NOT_PER_DESK)
    return {"8": ALL_ASSIGNED_NOTE} if assigned else {}


def _grouping(
    store: Store, site: dict[str, Any], group: str, layout: report_rollup.SiteLayout,
    assigned: set[str] | None = None, k: int = 5,
) -> tuple[metrics_report.Grouping, dict[str, str]]:
    """Group keys in display order, each desk's and each zone's group, and the names.

    A desk assigned to one person (PRIVACY.md 8) is no desk group of its own (it is only
    counted in zone, floor and site groups); a zone made only of fewer than ``k`` such desks
    is left out of every group (so no difference of two groups isolates it either)."""
    assigned = assigned or set()
    desks = [d for d in layout.desks if group != "desk" or d["id"] not in assigned]
    names = _group_names(store, site, group, desks)
    keys = list(names)
    position = {k: i for i, k in enumerate(keys)}
    if group == "desk":
        desk_group = np.array([position.get(d["id"], -1) for d in layout.desks],
                              dtype=np.int64)
        return metrics_report.Grouping(keys, desk_group, None), names
    # Every desk's group is its zone's group (desks of a zone share floor and site).
    floor_of = {z["id"]: z["floor"] for z in store.zones(site["id"])}
    zone_group = np.array([
        position.get(site["id"] if group == "site" else
                     (floor_of.get(z, "") if group == "floor" else z), -1)
        for z in layout.zones], dtype=np.int64)
    if assigned and len(layout.zones):
        zone_group[_lonely_zones(layout, assigned, k)] = -1
    desk_group = zone_group[layout.desk_zone] if len(desks) else np.zeros(0, dtype=np.int64)
    return metrics_report.Grouping(keys, desk_group, zone_group), names


def _lonely_zones(layout: report_rollup.SiteLayout, assigned: set[str], k: int) -> Any:
    """Per zone: are all its desks assigned to single people, and fewer than ``k``?"""
    n = len(layout.zones)
    mine = np.array([float(d["id"] in assigned) for d in layout.desks])
    total = np.bincount(layout.desk_zone, minlength=n)[:n] if len(mine) else np.zeros(n)
    own = np.bincount(layout.desk_zone, weights=mine, minlength=n)[:n] if len(mine) \
        else np.zeros(n)
    return (total > 0) & (own == total) & (total < k)


def _respond(request: Request, body: dict[str, Any], model: type[Any], csv_text: str) -> Any:
    if csv_export.wants_csv(request.headers.get("accept"), request.url.path):
        return Response(csv_text, media_type=csv_export.CSV_TYPE)
    return model.model_validate(body)


def _json(body: dict[str, Any]) -> Response:
    """A large answer serialised directly: the body is built to match its response model
    (tests validate it against the model), so FastAPI's per-field validation and encoding,
    several times the cost of computing the figures, is skipped."""
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json")


@router.get("", response_model=ReportPublic)
@router.get(".csv", response_model=ReportPublic, include_in_schema=False)
def utilisation(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    site: SiteDep,
    principal: CurrentPrincipal,
    thresholds: ThresholdsDep,
    group: Group = "site",
    start: Start = None,
    end: End = None,
) -> Any:
    """Every metric of docs/metrics.md per group; zone presence (10) and check-in figures
    (11) for zone, floor and site groups only.

    CSV: `Accept: text/csv` or `/api/v1/utilisation.csv` (one row per group).
    """
    require_group_role(principal, group)
    p = prepare(store, settings, site, group, start, end, thresholds)
    days, source = report_rollup.window_summaries(store, p.layout, p.lo, p.hi, p.now)
    rows = metrics_report.report(
        days, p.grouping, n_desks=len(p.layout.desks), thresholds=thresholds,
        headcount=site.get("headcount"), group_is_site=group == "site",
    )
    people = _people(store, settings, site, group, p)
    results = [{**row, "name": p.names.get(row["key"], row["key"]), **people[i]}
               for i, row in enumerate(rows)]
    valid = sum(r["valid_seconds"] for r in results if r["desks"])
    window = sum(r["window_seconds"] for r in results if r["desks"])
    body = {**p.context, "coverage": valid / window if window > 0 else None,
            "source": source, "results": results}
    if csv_export.wants_csv(request.headers.get("accept"), request.url.path):
        context = {k: v for k, v in p.context.items() if k != "not_included"}
        return Response(csv_export.report_csv(results, {"site": site["id"], **context}),
                        media_type=csv_export.CSV_TYPE)
    return _json(body)


def _people(
    store: Store, settings: HubSettings, site: dict[str, Any], group: str, p: Prepared
) -> list[dict[str, Any]]:
    """Metrics 10 and 11 per group (``None`` for desk groups)."""
    keys = p.grouping.keys
    if group == "desk":
        return [{"zone_presence": None, "checkins": None} for _ in keys]
    zones = store.zones(site["id"])
    position = {key: i for i, key in enumerate(keys)}
    top = {z["id"]: site["id"] if group == "site" else z["floor"] if group == "floor"
           else z["id"] for z in zones}
    per_zone = report_people.zone_counts_in_window(
        store, site, [z["id"] for z in zones], p.lo, p.hi, p.now, settings.bin_seconds)
    presence = report_people.presence_groups(
        per_zone, {z: position.get(g, -1) for z, g in top.items()}, len(keys),
        settings.privacy_k)
    floor_of = {z["id"]: z["floor"] for z in zones}
    parent = [floor_of.get(key, "") if group == "zone" else "" for key in keys]
    until = min(p.hi, p.now)
    ids = [d["id"] for d in p.layout.desks]
    stays = report_people.read_stays(store, site["id"], p.lo, until)
    walk_ins = until - p.lo <= report_people.WALK_IN_MAX_DAYS * 86_400
    read = ids if walk_ins else sorted({s.desk for s in stays} & set(ids))
    desk, begin, finish = report_people.read_occupied(store, read, p.lo, until)
    if read is not ids:  # indices into `read` -> indices into the site's desks
        index = {d: i for i, d in enumerate(ids)}
        desk = np.array([index[d] for d in read], dtype=np.int64)[desk]
    checkins = report_people.checkin_groups(
        stays, (desk, begin, finish), desks=ids, desk_group=p.grouping.desk_group,
        parent=parent, timezone=site["timezone"], k=settings.privacy_k, walk_ins=walk_ins,
        per_day=group == "site")
    return [{"zone_presence": presence[i], "checkins": checkins[i]} for i in range(len(keys))]


def _group_names(
    store: Any, site: dict[str, Any], group: str, desks: list[dict[str, Any]]
) -> dict[str, str]:
    """Display name of each group key, in the order a dashboard should list them."""
    if group == "site":
        return {site["id"]: site["name"]}
    if group == "floor":
        floors = sorted(store.floors(site["id"]), key=lambda f: (f["level"], f["id"]))
        return {f["id"]: f["name"] for f in floors}
    if group == "zone":
        return {z["id"]: z["name"] for z in store.zones(site["id"])}
    return {d["id"]: d["name"] for d in desks}
