"""Every metric of METRICS.md (except 10 zone presence and 11 check-ins) from day summaries.

Input: the :class:`~hub.metrics.days.DaySummary` of each local day of the window, and a
grouping. Zone, floor and site groups are unions of whole zones, so their U(b) comes from
the per-zone concurrency counts; a desk group is one desk, whose U(b) is 0 or 1, so its
concurrency figures come from the per-desk counts (same formulas, see docs/metrics.md).
Cost: O(desks x days + zones x window bins + spells), never desks x bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from hub.metrics.calendar import SPEC_VERSION, TUE_THU
from hub.metrics.days import DaySummary, Thresholds
from hub.metrics.kernel import FloatArray, IntArray

BAND = 0.6  # METRICS.md 9: below 60 % / 60-100 %


@dataclass(frozen=True)
class Grouping:
    """Group index per desk; per zone too when every group is a union of whole zones."""

    keys: list[str]
    desk_group: IntArray  # (desks,) index into keys, -1 = left out
    zone_group: IntArray | None  # (zones,) index into keys; None for desk groups


def _stack(days: list[DaySummary], name: str, n: int) -> FloatArray:
    if not days:
        return np.zeros((n, 0))
    return np.stack([getattr(d, name) for d in days], axis=1).astype(np.float64)


def _sum_by(group: IntArray, values: Any, n_groups: int) -> FloatArray:
    """Sum rows of ``values`` (rows x ...) into groups; rows with group -1 are left out."""
    keep = group >= 0
    if values.ndim == 1:
        sums = np.bincount(group[keep], weights=values[keep], minlength=n_groups)
        return np.asarray(sums[:n_groups], dtype=np.float64)
    # Rows in group order, then one sum per run: O(rows x columns), no groups x rows matrix.
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(group[rows], kind="stable")]
    out = np.zeros((n_groups, *values.shape[1:]))
    if len(rows):
        sorted_group = group[rows]
        starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
        out[sorted_group[starts]] = np.add.reduceat(
            np.asarray(values, dtype=np.float64)[rows], starts, axis=0)
    return out


def _group_dwell(days: list[DaySummary], g: IntArray, n_groups: int) -> list[dict[str, Any]]:
    """Dwell figures per group. Spells are put in group order with a linear radix sort
    (up to 32,767 groups); a few groups then take a median each (a partition, no sort),
    many groups are also sorted by duration so that every median is a slice's middle."""
    if not days:
        return [_dwell(np.zeros(0)) for _ in range(n_groups)]
    group = np.concatenate([g[d.spell_desk] for d in days])
    seconds = np.concatenate([d.spell_seconds for d in days])
    keep = group >= 0
    group, seconds = group[keep], seconds[keep]
    if n_groups == 1:
        return [_dwell(seconds)]
    small = np.int16 if n_groups < 2**15 else np.int64
    if n_groups > 1000:
        by_length = np.argsort(seconds)  # ties need no order
        group, seconds = group[by_length], seconds[by_length]
    count = np.bincount(group, minlength=n_groups)[:n_groups]
    total = np.bincount(group, weights=seconds, minlength=n_groups)[:n_groups]
    seconds = seconds[np.argsort(group.astype(small), kind="stable")]
    bounds = np.r_[0, np.cumsum(count)]
    if n_groups <= 1000:
        return [_dwell(seconds[bounds[i]:bounds[i + 1]]) for i in range(n_groups)]
    lo = bounds[:-1]
    last = max(len(seconds) - 1, 0)
    safe = seconds if len(seconds) else np.zeros(1)
    median = (safe[np.minimum(lo + (count - 1) // 2, last)]
              + safe[np.minimum(lo + count // 2, last)]) / 2
    longest = safe[np.minimum(lo + count - 1, last)]
    return [
        {"count": int(count[i]), "mean_seconds": float(total[i] / count[i]),
         "median_seconds": float(median[i]), "longest_seconds": float(longest[i])}
        if count[i] else _dwell(np.zeros(0))
        for i in range(n_groups)
    ]


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def _opt(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _concurrency(
    used: FloatArray, data: FloatArray, day: IntArray, weekday: IntArray
) -> list[dict[str, Any]]:
    """From desk counts per group and bin: U(b) summaries, surplus, bands, peak demand."""
    n_groups = used.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(data > 0, used / np.maximum(data, 1), np.nan)
    if len(day) and np.any(day[1:] < day[:-1]):  # bins in day order: one run per day
        order = np.argsort(day, kind="stable")
        u, used, data, day, weekday = u[:, order], used[:, order], data[:, order], \
            day[order], weekday[order]
    defined = ~np.isnan(u)
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]]) if len(day) else day
    days = day[starts]
    midweek = np.isin(weekday, TUE_THU)

    def summaries(mask: Any) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        uu = np.where(mask[None, :], u, np.nan)
        if uu.size:
            peaks = np.fmax.reduceat(uu, starts, axis=1)  # NaN for a day without U(b)
        else:
            peaks = np.full((n_groups, len(days)), np.nan)
        return _row_nanmean(uu), _row_nanmax(peaks), _row_nanmean(peaks), peaks

    average, peak, average_peak, peaks = summaries(np.ones(len(day), dtype=bool))
    m_average, m_peak, m_average_peak, _ = summaries(midweek)
    n = defined.sum(axis=1)
    below = (np.where(defined, u, 1.0) < BAND).sum(axis=1)
    free = np.where(defined, data - used, np.inf).min(axis=1, initial=np.inf)
    demand = np.where(defined, used, -1.0).max(axis=1, initial=-1.0)
    labels = [_date(int(x)) for x in days]
    rows = peaks.tolist()
    return [{
        "average": _opt(average[i]), "peak": _opt(peak[i]),
        "average_peak": _opt(average_peak[i]),
        "daily_peaks": [{"date": label, "peak": value}
                        for label, value in zip(labels, rows[i], strict=True)
                        if value == value],  # NaN: a day without U(b)
        "tue_thu": {"average": _opt(m_average[i]), "peak": _opt(m_peak[i]),
                    "average_peak": _opt(m_average_peak[i])},
        "surplus": int(free[i]) if n[i] else None,
        "bands": {"below_60": _ratio(float(below[i]), float(n[i])),
                  "from_60_to_100": _ratio(float(n[i] - below[i]), float(n[i])),
                  "peak": _opt(peak[i])},
        "peak_demand": int(demand[i]) if n[i] else None,
    } for i in range(n_groups)]


def _row_nanmean(x: FloatArray) -> FloatArray:
    count = (~np.isnan(x)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.nansum(x, axis=1) / np.maximum(count, 1), np.nan)


def _row_nanmax(x: FloatArray) -> FloatArray:
    return np.fmax.reduce(np.c_[np.full(x.shape[0], np.nan), x], axis=1)


def _date(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def _dwell(seconds: FloatArray) -> dict[str, Any]:
    if len(seconds) == 0:
        return {"count": 0, "mean_seconds": None, "median_seconds": None,
                "longest_seconds": None}
    return {"count": len(seconds), "mean_seconds": float(seconds.mean()),
            "median_seconds": float(np.median(seconds)),
            "longest_seconds": float(seconds.max())}


def report(
    days: list[DaySummary],
    grouping: Grouping,
    *,
    n_desks: int,
    thresholds: Thresholds,
    headcount: int | None = None,
    group_is_site: bool = False,
) -> list[dict[str, Any]]:
    """All metrics per group, in ``grouping.keys`` order (groups without desks included)."""
    days = sorted(days, key=lambda d: d.day)
    g, n_groups = grouping.desk_group, len(grouping.keys)
    names = ("occupied", "valid", "used_hours", "valid_hours", "used_bins", "data_bins")
    # Day by day, so that nothing of size desks x days is ever built for group sums.
    totals = {name: np.zeros(n_desks) for name in names}
    used_per_desk, valid_per_desk = np.zeros(n_desks), np.zeros(n_desks)
    for d in days:
        for name in names:
            totals[name] += getattr(d, name)
        known = d.valid > 0
        used_per_desk += known & (d.occupied >= thresholds.used_day)
        valid_per_desk += known
    sums = {name: _sum_by(g, v, n_groups) for name, v in totals.items()}
    elapsed = float(sum(d.elapsed for d in days))
    used_days = _sum_by(g, used_per_desk, n_groups)
    valid_days = _sum_by(g, valid_per_desk, n_groups)
    seen = valid_per_desk > 0
    never = _sum_by(g, (seen & (used_per_desk == 0)).astype(float), n_groups)
    n_seen = _sum_by(g, seen.astype(float), n_groups)
    n_in = _sum_by(g, np.ones(n_desks), n_groups)
    concurrency = _group_concurrency(days, grouping, n_desks, n_groups)
    dwell = _group_dwell(days, g, n_groups)

    out = []
    for i, key in enumerate(grouping.keys):
        desks = int(n_in[i])
        window = desks * elapsed
        c = concurrency[i]
        peak_demand = c.pop("peak_demand")
        out.append({
            "key": key, "desks": desks,
            "occupied_seconds": float(sums["occupied"][i]),
            "valid_seconds": float(sums["valid"][i]), "window_seconds": window,
            "time_utilisation": _ratio(sums["occupied"][i], sums["valid"][i]),
            "coverage": _ratio(sums["valid"][i], window),
            "used": {
                "hours": int(sums["used_hours"][i]), "valid_hours": int(sums["valid_hours"][i]),
                "hour_share": _ratio(sums["used_hours"][i], sums["valid_hours"][i]),
                "days": int(used_days[i]), "valid_days": int(valid_days[i]),
                "day_share": _ratio(used_days[i], valid_days[i]),
                "hour_threshold_seconds": thresholds.used_hour,
                "day_threshold_seconds": thresholds.used_day,
            },
            "concurrent": {k: c[k] for k in ("average", "peak", "average_peak", "daily_peaks",
                                             "tue_thu")},
            "surplus": c["surplus"], "bands": c["bands"],
            "dwell": {**dwell[i], "hold_seconds": thresholds.hold},
            "never_used": {"desks": int(never[i]), "seen_desks": int(n_seen[i]),
                           "share": _ratio(never[i], n_seen[i])},
            "sharing": {
                "desks": desks,
                "headcount": headcount if group_is_site else None,
                "desks_per_person": _ratio(desks, headcount)
                if group_is_site and headcount else None,
                "peak_demand": peak_demand,
                "peak_demand_per_desk": _ratio(peak_demand, desks)
                if peak_demand is not None else None,
            },
            "spec_version": SPEC_VERSION,
        })
    return out


def _group_concurrency(
    days: list[DaySummary], grouping: Grouping, n_desks: int, n_groups: int
) -> list[dict[str, Any]]:
    """Concurrency figures per group: from zone counts per bin, or per desk-day counts."""
    if grouping.zone_group is not None:
        used, data, day, weekday = group_bins(days, grouping.zone_group, n_groups)
        return _concurrency(used, data, day, weekday)
    # One desk per group: U(b) is 1 in a bin in use and 0 in a bin with data only, so a
    # day's bin counts give its mean (in use / with data) and its peak (any in use).
    keep = grouping.desk_group >= 0
    used = np.zeros((n_groups, len(days)))
    data = np.zeros((n_groups, len(days)))
    used[grouping.desk_group[keep]] = _stack(days, "used_bins", n_desks)[keep]
    data[grouping.desk_group[keep]] = _stack(days, "data_bins", n_desks)[keep]
    day = np.array([d.day for d in days], dtype=np.int64)
    weekday = np.array([d.weekday for d in days], dtype=np.int64)
    return _desk_concurrency(used, data, day, weekday)


def _desk_concurrency(
    used: FloatArray, data: FloatArray, day: IntArray, weekday: IntArray
) -> list[dict[str, Any]]:
    """Concurrency figures of one-desk groups from their per-day bin counts (rows)."""
    def summary(mask: Any) -> tuple[FloatArray, FloatArray, FloatArray, Any, Any]:
        u, d = used[:, mask], data[:, mask]
        has = d > 0
        in_use = (u > 0) & has
        n_has, n_in = has.sum(axis=1), in_use.sum(axis=1)
        total_u, total_d = u.sum(axis=1), d.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            average = np.where(total_d > 0, total_u / np.maximum(total_d, 1), np.nan)
            average_peak = np.where(n_has > 0, n_in / np.maximum(n_has, 1), np.nan)
        peak = np.where(n_has > 0, (n_in > 0).astype(float), np.nan)
        return average, peak, average_peak, has, in_use

    average, peak, average_peak, has, in_use = summary(np.ones(len(day), dtype=bool))
    m_average, m_peak, m_average_peak, _, _ = summary(np.isin(weekday, TUE_THU))
    labels = [_date(int(x)) for x in day]
    daily: list[list[dict[str, Any]]] = [[] for _ in range(used.shape[0])]
    rows, cols = np.nonzero(has)
    for r, c, busy in zip(rows.tolist(), cols.tolist(), in_use[rows, cols].tolist(),
                          strict=True):
        daily[r].append({"date": labels[c], "peak": 1.0 if busy else 0.0})
    total_d, total_u = data.sum(axis=1), used.sum(axis=1)
    return [{
        "average": _opt(average[i]), "peak": _opt(peak[i]),
        "average_peak": _opt(average_peak[i]), "daily_peaks": daily[i],
        "tue_thu": {"average": _opt(m_average[i]), "peak": _opt(m_peak[i]),
                    "average_peak": _opt(m_average_peak[i])},
        "surplus": (1 if total_u[i] == 0 else 0) if total_d[i] else None,
        "bands": {"below_60": _ratio(total_d[i] - total_u[i], total_d[i]),
                  "from_60_to_100": _ratio(total_u[i], total_d[i]), "peak": _opt(peak[i])},
        "peak_demand": (1 if total_u[i] else 0) if total_d[i] else None,
    } for i in range(used.shape[0])]


def group_bins(
    days: list[DaySummary], zone_group: IntArray, n_groups: int
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """(used, data) desk counts per group and concurrency bin, with each bin's local day
    and weekday: the U(b) series of zone / floor / site groups."""
    if not days:
        empty = np.zeros((n_groups, 0))
        return empty, empty, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    zone_used = np.concatenate([d.zone_used for d in days], axis=1)
    zone_data = np.concatenate([d.zone_data for d in days], axis=1)
    used = _sum_by(zone_group, zone_used.astype(float), n_groups)
    data = _sum_by(zone_group, zone_data.astype(float), n_groups)
    day = np.concatenate([np.full(len(d.bins), d.day, dtype=np.int64) for d in days])
    weekday = np.concatenate([np.full(len(d.bins), d.weekday, dtype=np.int64) for d in days])
    return used, data, day, weekday


def heatmap(
    days: list[DaySummary], grouping: Grouping, *, timezone: str
) -> list[dict[str, Any]]:
    """METRICS.md 5: mean U(b) per local weekday (Monday = 0) x local hour, per group."""
    from hub.metrics.calendar import local_calendar

    if grouping.zone_group is None:
        raise ValueError("a heatmap needs zone, floor or site groups")
    n_groups = len(grouping.keys)
    used, data, _, _ = group_bins(days, grouping.zone_group, n_groups)
    bins = np.concatenate([d.bins for d in days]) if days else np.zeros(0, dtype=np.int64)
    _, weekday, seconds = local_calendar(bins, timezone)
    cell = weekday * 24 + (seconds // 3600).astype(np.int64)
    out = []
    for i, key in enumerate(grouping.keys):
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(data[i] > 0, used[i] / np.maximum(data[i], 1), np.nan)
        ok = ~np.isnan(u)
        total = np.bincount(cell[ok], weights=u[ok], minlength=168)
        count = np.bincount(cell[ok], minlength=168)
        mean = [[_ratio(total[w * 24 + h], count[w * 24 + h]) for h in range(24)]
                for w in range(7)]
        out.append({"key": key, "mean_u": mean,
                    "bins": [[int(count[w * 24 + h]) for h in range(24)] for w in range(7)]})
    return out
