"""Utilisation figures per site / floor / zone / desk, as defined in docs/metrics.md.

`from` and `to` accept an ISO date (a whole local day: `to` is inclusive), an ISO
datetime (local time of the site unless it carries an offset) or Unix seconds. Without
them the window is today in the site's time zone, up to now.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from hub import metrics
from hub.api.deps import CurrentPrincipal, SettingsDep, SiteDep, StoreDep
from hub.api.models import Group, UtilisationPublic
from hub.errors import ConfigError

router = APIRouter(prefix="/api/v1/utilisation", tags=["utilisation"])
MAX_SPAN_SECONDS = 366 * 86_400
EARLIEST, LATEST = 0.0, 32_503_680_000.0  # 1970-01-01 .. 3000-01-01 UTC
_RANGE = "outside 1970-01-01 .. 2999-12-31"
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
            raise ValueError(f"Unix seconds {_RANGE}: {text}")
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
        raise ValueError(f"{value!r} is {_RANGE}")
    return seconds


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


@router.get("", response_model=UtilisationPublic)
def utilisation(
    store: StoreDep,
    settings: SettingsDep,
    site: SiteDep,
    principal: CurrentPrincipal,
    group: Group = "site",
    start: Annotated[str | None, Query(alias="from", description=_INSTANT_HELP)] = None,
    end: Annotated[str | None, Query(alias="to", description=_INSTANT_HELP)] = None,
) -> UtilisationPublic:
    """Time utilisation, concurrent utilisation and coverage over the site's core hours."""
    tz = _site_zone(site)
    lo, hi = resolve_window(tz, start, end, now=time.time())
    desks = store.desks(site["id"])
    names = _group_names(store, site, group, desks)
    groups = {desk["id"]: _group_key(site, group, desk) for desk in desks}
    frame = store.rollups(site["id"], lo, hi, bin_seconds=settings.bin_seconds)
    core = _core_hours(site)
    rows = metrics.utilisation(
        frame, groups=groups, timezone=site["timezone"], core_hours=core,
        bin_seconds=settings.bin_seconds,
    )
    rank = {key: i for i, key in enumerate(names)}
    results = [{**row, "name": names.get(str(row["key"]), str(row["key"]))} for row in rows]
    results.sort(key=lambda r: (rank.get(str(r["key"]), len(rank)), str(r["key"])))
    return UtilisationPublic.model_validate({
        "site": site["id"],
        "group": group,
        "window": metrics.window_description(site["timezone"], core, lo, hi),
        "bin_seconds": settings.bin_seconds,
        "spec_version": metrics.SPEC_VERSION,
        "results": results,
    })


def _group_key(site: dict[str, Any], group: str, desk: dict[str, Any]) -> str:
    if group == "site":
        return str(site["id"])
    return str(desk["id"] if group == "desk" else desk[group])


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
