"""Utilisation metrics (METRICS.md, spec version 1.0): the window and the calendar.

Every figure is computed over the **window**: bins whose local start time (site time
zone, so DST days have 23 or 25 hours) lies inside the site's core hours on a core day
that is not a closed date. Unknown time is excluded from every denominator. A bin counts
as elapsed up to the frame's end only. The formulas live in :mod:`hub.metrics_days`
(one local day -> a summary) and :mod:`hub.metrics_report` (summaries -> every metric per
group); :func:`utilisation` is the original view of metrics 2, 4 and 12 over a dense
frame, now computed by that same path. docs/metrics.md states every formula.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from hub.aggregate import FloatArray, IntArray, RollupFrame
from hub.building import check_core_hours, clock_seconds

SPEC_VERSION = "1.0"
DAY = 86400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TUE_THU = (1, 2, 3)
BoolArray = npt.NDArray[np.bool_]


def _utc_offsets(instants: IntArray, zone: ZoneInfo) -> FloatArray:
    """UTC offset (seconds) at each sorted instant; one zoneinfo call per UTC day unless the
    offset changes within that day, then one per instant of that day."""

    def offset(t: float) -> float:
        delta = datetime.fromtimestamp(t, zone).utcoffset()
        return 0.0 if delta is None else delta.total_seconds()

    out = np.empty(len(instants), dtype=np.float64)
    days = instants // DAY
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]]) if len(days) else np.array([])
    bounds = [int(i) for i in starts] + [len(days)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        day = int(days[lo])
        first, last = offset(day * DAY), offset(day * DAY + DAY - 1)
        if first == last:
            out[lo:hi] = first
        else:
            out[lo:hi] = [offset(float(t)) for t in instants[lo:hi]]
    return out


def local_calendar(bin_starts: IntArray, timezone: str) -> tuple[IntArray, IntArray, FloatArray]:
    """(local day number since 1970-01-01, weekday Monday=0, local seconds after midnight)."""
    local = bin_starts.astype(np.float64) + _utc_offsets(bin_starts, ZoneInfo(timezone))
    day = np.floor(local / DAY).astype(np.int64)
    return day, (day + 3) % 7, local - day * DAY


def window_mask(
    bin_starts: IntArray, timezone: str, core_hours: Mapping[str, Any] | None
) -> BoolArray:
    """True for bins whose local start lies inside the core hours."""
    core = check_core_hours(dict(core_hours) if core_hours is not None else None)
    day, weekday, seconds = local_calendar(bin_starts, timezone)
    closed = [date.fromisoformat(d).toordinal() - _EPOCH_ORDINAL for d in core.get("closed", [])]
    return (
        np.isin(weekday, core["days"])
        & (seconds >= clock_seconds(core["start"]))
        & (seconds < clock_seconds(core["end"]))
        & ~np.isin(day, closed)
    )


def window_description(
    timezone: str, core_hours: Mapping[str, Any] | None, start: float, end: float
) -> dict[str, Any]:
    """The window a response used, in words and values, with the spec version."""
    core = check_core_hours(dict(core_hours) if core_hours is not None else None)
    zone = ZoneInfo(timezone)
    return {
        "spec_version": SPEC_VERSION,
        "timezone": timezone,
        "days": [_WEEKDAYS[d] for d in core["days"]],
        "start": core["start"],
        "end": core["end"],
        "closed": core.get("closed", []),
        "from": datetime.fromtimestamp(start, zone).isoformat(),
        "until": datetime.fromtimestamp(end, zone).isoformat(),
        "rule": "bins whose local start time lies in [start, end) on the listed days, "
                "except closed dates; unknown time is excluded from every denominator",
    }


def occupied_per_bin(frame: RollupFrame, *, groups: Mapping[str, str]) -> dict[str, FloatArray]:
    """Metric 1 rolled up: occupied seconds per bin summed over each group's desks."""
    keys, onehot = _onehot(frame.desks, groups)
    sums = onehot @ frame.occupied
    return {key: sums[i] for i, key in enumerate(keys)}


def utilisation(
    frame: RollupFrame,
    *,
    groups: Mapping[str, str],
    timezone: str,
    core_hours: Mapping[str, Any] | None,
    bin_seconds: int,
) -> list[dict[str, Any]]:
    """Metrics 2, 4 and 12 per group (``groups`` maps desk id -> group key), sorted by key.

    A thin view of :func:`hub.metrics_report.report` over a dense frame (one code path for
    every figure); the full report adds the other metrics.
    """
    from hub.metrics_days import Thresholds, summarise
    from hub.metrics_report import Grouping, report

    if frame.bin_starts.size and bin_seconds != frame.bin_seconds:
        raise ValueError(f"frame has {frame.bin_seconds} s bins, not {bin_seconds} s")
    keys = sorted({groups[d] for d in frame.desks if d in groups})
    position = {key: i for i, key in enumerate(keys)}
    desk_group = np.array([position.get(groups.get(d, ""), -1) if d in groups else -1
                           for d in frame.desks], dtype=np.int64)
    # Each desk its own "zone", so that any grouping of desks is a union of zones.
    n = len(frame.desks)
    days = summarise(frame, desk_zone=np.arange(n), n_zones=n, timezone=timezone,
                     core_hours=core_hours, thresholds=Thresholds())
    rows = report(days, Grouping(keys, desk_group, desk_group), n_desks=n,
                  thresholds=Thresholds())
    wanted = ("key", "desks", "occupied_seconds", "valid_seconds", "window_seconds",
              "time_utilisation", "coverage", "concurrent", "spec_version")
    return [{k: row[k] for k in wanted} for row in rows]


def _onehot(desks: list[str], groups: Mapping[str, str]) -> tuple[list[str], FloatArray]:
    """Group keys (sorted) and a (groups x desks) 0/1 matrix; ungrouped desks are left out."""
    keys = sorted({groups[d] for d in desks if d in groups})
    position = {key: i for i, key in enumerate(keys)}
    onehot = np.zeros((len(keys), len(desks)), dtype=np.float64)
    for j, desk in enumerate(desks):
        if desk in groups:
            onehot[position[groups[desk]], j] = 1.0
    return keys, onehot
