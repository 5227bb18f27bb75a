"""The utilisation heatmap (weekday x hour) and per-bin time series of a site's groups.

Both take the same `site`, `group`, `from`, `to` as `GET /api/v1/utilisation` and answer
CSV for `Accept: text/csv` or a `.csv` suffix. The heatmap reads day summaries (so it is
as fast as the report); the time series reads the bin rollups of the window's bins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError

from hub.api.deps import CurrentPrincipal, SettingsDep, SiteDep, StoreDep
from hub.api.models import Group
from hub.api.routes.utilisation import (
    End,
    Start,
    ThresholdsDep,
    _core_hours,
    _problem,
    _respond,
    prepare,
    require_group_role,
)
from hub.api.routes.utilisation_models import HeatmapPublic, TimeseriesPublic
from hub.metrics import calendar as metrics
from hub.metrics import report as metrics_report
from hub.reports import csv_export
from hub.reports import day_store as report_rollup

router = APIRouter(prefix="/api/v1/utilisation", tags=["utilisation"])
MAX_CELLS = 500_000  # groups x bins of one time series answer


@router.get("/heatmap", response_model=HeatmapPublic)
@router.get("/heatmap.csv", response_model=HeatmapPublic, include_in_schema=False)
def heatmap(
    request: Request, store: StoreDep, settings: SettingsDep, site: SiteDep,
    principal: CurrentPrincipal, thresholds: ThresholdsDep, group: Group = "site",
    start: Start = None, end: End = None,
) -> Any:
    """Mean U(b) by local weekday (Monday first) and hour of day, per site/floor/zone.

    Not offered per desk: one desk's U(b) is 0 or 1, and a per-desk weekly pattern is a
    pattern of whoever sits there.
    """
    if group == "desk":
        raise RequestValidationError([_problem(
            "group", "the heatmap is for site, floor or zone groups", group)])
    require_group_role(principal, group)
    p = prepare(store, settings, site, group, start, end, thresholds)
    days, _ = report_rollup.window_summaries(store, p.layout, p.lo, p.hi, p.now)
    rows = metrics_report.heatmap(days, p.grouping, timezone=site["timezone"])
    results = [{**r, "name": p.names.get(r["key"], r["key"])} for r in rows]
    return _respond(request, {**p.context, "results": results}, HeatmapPublic,
                    csv_export.heatmap_csv(results, {"site": site["id"]}))


@router.get("/timeseries", response_model=TimeseriesPublic)
@router.get("/timeseries.csv", response_model=TimeseriesPublic, include_in_schema=False)
def timeseries(
    request: Request, store: StoreDep, settings: SettingsDep, site: SiteDep,
    principal: CurrentPrincipal, thresholds: ThresholdsDep, group: Group = "site",
    start: Start = None, end: End = None,
) -> Any:
    """Per window bin: occupied and valid seconds (metric 1), desks in use / with data and
    U(b) (metric 4), summed over each group's desks."""
    require_group_role(principal, group)
    p = prepare(store, settings, site, group, start, end, thresholds)
    bs = settings.bin_seconds
    n_bins = int((p.hi - p.lo) // bs) + 1
    if n_bins * max(len(p.grouping.keys), 1) > MAX_CELLS:
        raise RequestValidationError([_problem(
            "to", f"too many bins x groups (limit {MAX_CELLS}); shorten the window or use a "
            "coarser group", end)])
    frame = store.rollups(site["id"], p.lo, p.hi, bin_seconds=bs, now=p.now)
    window = metrics.window_mask(frame.bin_starts, site["timezone"], _core_hours(site))
    window &= frame.bin_starts < p.now
    g, n = p.grouping.desk_group, len(p.grouping.keys)
    onehot = np.zeros((n, len(g)))
    onehot[g[g >= 0], np.flatnonzero(g >= 0)] = 1.0
    full = frame.bin_starts[window] + bs <= frame.end
    has_data = (frame.span[:, window] >= bs) & (frame.unknown[:, window] < bs / 2) & full
    in_use = has_data & (frame.occupied[:, window] >= bs / 2)
    occupied = onehot @ frame.occupied[:, window]
    valid = onehot @ frame.valid[:, window]
    used, data = onehot @ in_use, onehot @ has_data
    tz = ZoneInfo(site["timezone"])
    labels = [datetime.fromtimestamp(int(b), tz).isoformat() for b in frame.bin_starts[window]]
    results = []
    for i, key in enumerate(p.grouping.keys):
        results.append({
            "key": key, "name": p.names.get(key, key),
            "occupied_seconds": occupied[i].tolist(), "valid_seconds": valid[i].tolist(),
            "in_use": used[i].astype(int).tolist(), "with_data": data[i].astype(int).tolist(),
            "u": [float(a / b) if b > 0 else None
                  for a, b in zip(used[i].tolist(), data[i].tolist(), strict=True)],
        })
    body = {**p.context, "bins": labels, "results": results}
    return _respond(request, body, TimeseriesPublic,
                    csv_export.timeseries_csv(labels, results, {"site": site["id"]}))
