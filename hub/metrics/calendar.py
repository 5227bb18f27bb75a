"""Utilisation metrics (METRICS.md, spec version 1.0): the window and the calendar.

Every figure is computed over the **window**: bins whose local start time (site time
zone, so DST days have 23 or 25 hours) lies inside the site's core hours on a core day
that is not a closed date. Unknown time is excluded from every denominator. A bin counts
as elapsed up to the frame's end only. The formulas live in :mod:`hub.metrics.days`
(one local day -> a summary) and :mod:`hub.metrics.report` (summaries -> every metric per
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

from hub.building.model import check_core_hours, clock_seconds
from hub.metrics.kernel import FloatArray, IntArray

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
