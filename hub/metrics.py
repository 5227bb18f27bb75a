"""Utilisation metrics over rollups (METRICS.md, spec version 1.0): pure functions.

Implemented here: 1 occupied seconds per bin, 2 time utilisation, 4 concurrent
utilisation, 12 coverage. Every figure is computed over the **window**: bins whose local
start time (site time zone, so DST days have 23 or 25 hours) lies inside the site's core
hours on a core day that is not a closed date. Unknown time is excluded from every
denominator. A bin counts as elapsed up to the frame's end only.

- time utilisation  = sum occupied / sum valid           (valid = span - unknown)
- coverage          = sum valid / window time            (window time = desks x elapsed)
- U(b)              = #desks occupied >= bs/2 in b / #desks with valid data in b, where a
                      desk has valid data in b when b has fully elapsed and unknown < bs/2
- average = mean of U(b) over window bins; daily peak = max of U(b) within a local day;
  average peak = mean of daily peaks; peak = max of U(b). Bins where no desk has valid
  data have no U(b) and are skipped. The Tue-Thu subset repeats these over Tue, Wed, Thu.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
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
    """Metrics 2, 4 and 12 per group (``groups`` maps desk id -> group key), sorted by key."""
    if frame.bin_starts.size and bin_seconds != frame.bin_seconds:
        raise ValueError(f"frame has {frame.bin_seconds} s bins, not {bin_seconds} s")
    bs = float(bin_seconds)
    keys, onehot = _onehot(frame.desks, groups)
    bins = frame.bin_starts
    window = window_mask(bins, timezone, core_hours)
    day, weekday, _ = local_calendar(bins, timezone)
    elapsed = np.clip(frame.end - bins, 0.0, bs)
    occupied = onehot @ frame.occupied[:, window].sum(axis=1)
    valid = onehot @ frame.valid[:, window].sum(axis=1)
    n_desks = onehot.sum(axis=1)
    window_time = n_desks * elapsed[window].sum()

    concurrent = window & (bins + bs <= frame.end)
    has_data = (frame.span >= bs) & (frame.unknown < bs / 2)
    in_use = has_data & (frame.occupied >= bs / 2)
    n_valid = onehot @ has_data[:, concurrent]
    n_used = onehot @ in_use[:, concurrent]
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(n_valid > 0, n_used / n_valid, np.nan)
    c_day, c_weekday = day[concurrent], weekday[concurrent]
    overall = _concurrent(u, c_day)
    midweek = _concurrent(u[:, np.isin(c_weekday, TUE_THU)], c_day[np.isin(c_weekday, TUE_THU)])

    out = []
    for i, key in enumerate(keys):
        out.append({
            "key": key,
            "desks": int(n_desks[i]),
            "occupied_seconds": float(occupied[i]),
            "valid_seconds": float(valid[i]),
            "window_seconds": float(window_time[i]),
            "time_utilisation": _ratio(occupied[i], valid[i]),
            "coverage": _ratio(valid[i], window_time[i]),
            "concurrent": {
                **overall[i],
                "tue_thu": {k: v for k, v in midweek[i].items() if k != "daily_peaks"},
            },
            "spec_version": SPEC_VERSION,
        })
    return out


def _onehot(desks: list[str], groups: Mapping[str, str]) -> tuple[list[str], FloatArray]:
    """Group keys (sorted) and a (groups x desks) 0/1 matrix; ungrouped desks are left out."""
    keys = sorted({groups[d] for d in desks if d in groups})
    position = {key: i for i, key in enumerate(keys)}
    onehot = np.zeros((len(keys), len(desks)), dtype=np.float64)
    for j, desk in enumerate(desks):
        if desk in groups:
            onehot[position[groups[desk]], j] = 1.0
    return keys, onehot


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


def _nan_mean(x: FloatArray) -> FloatArray:
    count = (~np.isnan(x)).sum(axis=1)
    total = np.nansum(x, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _concurrent(u: FloatArray, day: IntArray) -> list[dict[str, Any]]:
    """average, peak, average_peak and daily_peaks of U(b) per group (rows of ``u``)."""
    n_groups = u.shape[0]
    days, inverse = np.unique(day, return_inverse=True)
    peaks = np.full((n_groups, len(days)), np.nan)
    if u.size:
        rows = np.repeat(np.arange(n_groups), u.shape[1])
        np.fmax.at(peaks, (rows, np.tile(inverse, n_groups)), u.reshape(-1))
    average, average_peak = _nan_mean(u), _nan_mean(peaks)
    peak = np.fmax.reduce(np.c_[np.full(n_groups, np.nan), peaks], axis=1)
    labels = [(date(1970, 1, 1) + timedelta(days=int(d))).isoformat() for d in days]
    return [
        {
            "average": _maybe(average[g]),
            "peak": _maybe(peak[g]),
            "average_peak": _maybe(average_peak[g]),
            "daily_peaks": [
                {"date": labels[k], "peak": float(peaks[g, k])}
                for k in range(len(days)) if not np.isnan(peaks[g, k])
            ],
        }
        for g in range(n_groups)
    ]


def _maybe(value: float) -> float | None:
    return None if np.isnan(value) else float(value)

