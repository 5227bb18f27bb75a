"""The metrics of METRICS.md in plain Python, obviously correct and slow: the yardstick.

Everything starts from raw transitions (desk, at, state) in arrival order and walks bins,
hours, days and seconds with loops and ``zoneinfo`` calls, never numpy and never the hub's
code, so that the vectorised implementation can be checked against it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

Transition = tuple[int, float, str]  # desk index, at, state


@dataclass
class Case:
    desks: list[str]
    transitions: list[Transition]  # arrival order: among equal times the later one wins
    timezone: str
    core: dict[str, Any]
    bin_seconds: int
    t0: int  # first bin start (a multiple of bin_seconds)
    n_bins: int
    until: float  # "now": nothing after it is known
    used_hour: float
    used_day: float
    hold: float


def segments(case: Case, desk: int) -> list[tuple[float, float, str]]:
    """(start, end, state) of the desk's step function from t0 to until; unknown first."""
    own = [(at, i, state) for i, (d, at, state) in enumerate(case.transitions) if d == desk]
    own.sort()
    out = []
    cursor, state = float(case.t0), "unknown"
    for at, _, new in own:
        if at > cursor:
            out.append((cursor, min(at, case.until), state))
            cursor = at
        state = new
        if cursor >= case.until:
            break
    if cursor < case.until:
        out.append((cursor, case.until, state))
    return [(a, b, s) for a, b, s in out if b > a and b > case.t0]


def overlap(a: float, b: float, lo: float, hi: float) -> float:
    return max(0.0, min(b, hi) - max(a, lo))


def in_window(case: Case, start: int) -> bool:
    moment = datetime.fromtimestamp(start, ZoneInfo(case.timezone))
    clock = moment.hour * 3600 + moment.minute * 60 + moment.second
    h, m = case.core["start"].split(":")
    h2, m2 = case.core["end"].split(":")
    return (moment.weekday() in case.core["days"]
            and int(h) * 3600 + int(m) * 60 <= clock < int(h2) * 3600 + int(m2) * 60
            and moment.date().isoformat() not in case.core.get("closed", []))


def bins(case: Case) -> list[dict[str, Any]]:
    """Per bin: start, local date/weekday/hour key, window flag, and per desk occ/unk/span."""
    zone = ZoneInfo(case.timezone)
    segs = [segments(case, d) for d in range(len(case.desks))]
    out = []
    for i in range(case.n_bins):
        lo = case.t0 + i * case.bin_seconds
        hi = lo + case.bin_seconds
        span = max(0.0, min(hi, case.until) - lo)
        moment = datetime.fromtimestamp(lo, zone)
        row = {"start": lo, "date": moment.date(), "weekday": moment.weekday(),
               "hour": (moment.date(), moment.hour, moment.utcoffset()),
               "window": in_window(case, lo), "span": span, "occ": [], "unk": []}
        for d in range(len(case.desks)):
            occ = sum(overlap(a, b, lo, hi) for a, b, s in segs[d] if s == "occupied")
            known = sum(overlap(a, b, lo, hi) for a, b, s in segs[d] if s != "unknown")
            row["occ"].append(occ)
            row["unk"].append(span - known)
        out.append(row)
    return out


def spells(case: Case, rows: list[dict[str, Any]], desk: int) -> list[float]:
    """Occupied time clipped to each stretch of adjacent window bins of one local day;
    pieces closer than the hold time (or touching) merge; duration = first start to last end."""
    stretches: list[list[float]] = []
    for row in rows:
        if not row["window"] or row["span"] <= 0:
            continue
        lo, hi = row["start"], row["start"] + row["span"]
        if stretches and stretches[-1][1] == lo and stretches[-1][2] == row["date"]:
            stretches[-1][1] = hi
        else:
            stretches.append([lo, hi, row["date"]])
    out = []
    occupied = [(a, b) for a, b, s in segments(case, desk) if s == "occupied"]
    for lo, hi, _ in stretches:
        pieces = sorted((max(a, lo), min(b, hi)) for a, b in occupied if min(b, hi) > max(a, lo))
        current: list[float] | None = None
        for a, b in pieces:
            if current is not None and (a - current[1] <= 0 or a - current[1] < case.hold):
                current[1] = max(current[1], b)
            else:
                if current is not None:
                    out.append(current[1] - current[0])
                current = [a, b]
        if current is not None:
            out.append(current[1] - current[0])
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def report(case: Case, members: list[int], *, headcount: int | None = None) -> dict[str, Any]:
    """Every metric for the group of desks ``members``."""
    rows = bins(case)
    bs = case.bin_seconds
    window = [r for r in rows if r["window"]]
    occupied = sum(r["occ"][d] for r in window for d in members)
    valid = sum(r["span"] - r["unk"][d] for r in window for d in members)
    window_seconds = len(members) * sum(r["span"] for r in window)
    used_hours = valid_hours = used_days = valid_days = never = seen = 0
    for d in members:
        hours: dict[Any, list[float]] = {}
        days: dict[date, list[float]] = {}
        for r in window:
            hours.setdefault(r["hour"], [0.0, 0.0])
            days.setdefault(r["date"], [0.0, 0.0])
            for bucket in (hours[r["hour"]], days[r["date"]]):
                bucket[0] += r["occ"][d]
                bucket[1] += r["span"] - r["unk"][d]
        used_hours += sum(1 for o, _ in hours.values() if o >= case.used_hour)
        valid_hours += sum(1 for _, v in hours.values() if v > 0)
        used = sum(1 for o, v in days.values() if o >= case.used_day and v > 0)
        used_days += used
        known = sum(1 for _, v in days.values() if v > 0)
        valid_days += known
        seen += known > 0
        never += known > 0 and used == 0
    u_rows = []
    for r in window:
        if r["start"] + bs > case.until:
            continue
        data = [d for d in members if r["span"] >= bs and r["unk"][d] < bs / 2]
        used = [d for d in data if r["occ"][d] >= bs / 2]
        if data:
            u_rows.append((r, len(used) / len(data), len(data) - len(used), len(used)))

    def concurrency(selected: list[tuple[dict[str, Any], float, int, int]]) -> dict[str, Any]:
        peaks: dict[date, float] = {}
        for r, u, _, _ in selected:
            peaks[r["date"]] = max(peaks.get(r["date"], 0.0), u)
        return {"average": _mean([u for _, u, _, _ in selected]),
                "peak": max((u for _, u, _, _ in selected), default=None),
                "average_peak": _mean(list(peaks.values())),
                "daily_peaks": [{"date": k.isoformat(), "peak": v}
                                for k, v in sorted(peaks.items())]}

    every = concurrency(u_rows)
    midweek = concurrency([x for x in u_rows if x[0]["weekday"] in (1, 2, 3)])
    durations = [s for d in members for s in spells(case, rows, d)]
    n = len(u_rows)
    return {
        "desks": len(members), "occupied_seconds": occupied, "valid_seconds": valid,
        "window_seconds": window_seconds,
        "time_utilisation": occupied / valid if valid > 0 else None,
        "coverage": valid / window_seconds if window_seconds > 0 else None,
        "used": {"hours": used_hours, "valid_hours": valid_hours, "days": used_days,
                 "valid_days": valid_days},
        "concurrent": {**every, "tue_thu": {k: midweek[k] for k in
                                            ("average", "peak", "average_peak")}},
        "surplus": min((x[2] for x in u_rows), default=None),
        "bands": {"below_60": sum(1 for x in u_rows if x[1] < 0.6) / n if n else None,
                  "from_60_to_100": sum(1 for x in u_rows if x[1] >= 0.6) / n if n else None,
                  "peak": every["peak"]},
        "dwell": {"count": len(durations), "mean_seconds": _mean(durations),
                  "median_seconds": statistics.median(durations) if durations else None,
                  "longest_seconds": max(durations, default=None)},
        "never_used": {"desks": never, "seen_desks": seen,
                       "share": never / seen if seen else None},
        "peak_demand": max((x[3] for x in u_rows), default=None),
    }


def reference_overlap(
    intervals: list[tuple[int, float, float]], n_desks: int, t0: float, bs: float, n_bins: int
) -> list[list[float]]:
    out = [[0.0] * n_bins for _ in range(n_desks)]
    for desk, start, end in intervals:
        for i in range(n_bins):
            lo, hi = t0 + i * bs, t0 + (i + 1) * bs
            out[desk][i] += max(0.0, min(end, hi) - max(start, lo))
    return out
