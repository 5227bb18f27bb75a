"""Metric 11, check-in figures: aggregated, never per person, suppressed under k.

For a site and a window ``[start, end)`` (all hours; check-ins are clipped to it):

- ``checkins_per_day``: check-ins begun on each local day of the site;
- ``mean_duration_s``: mean checked-in seconds per check-in;
- ``agreement``: share of checked-in time the desk's sensor also saw ``occupied``;
- ``walk_ins``: occupied spells with no overlapping check-in, and the share of sensed
  occupied time that no check-in covers;
- ``by_via``: check-ins per way of checking in (``phone`` = the desk label, ``qr`` = a
  personal code at a desk camera, ``beacon`` = an enrolled badge); a way used by fewer
  than ``k`` people shows no count (nor does the next smallest, as for days).

Every check-in figure is withheld (``None``, ``suppressed: true``) when fewer than ``k``
distinct people checked in during the window; a day with fewer than ``k`` people shows
no count. Walk-ins come from the anonymous sensors only.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.db.protocol import Store

SPEC_VERSION = "11.1"
Interval = tuple[float, float]


@dataclass(frozen=True)
class Stay:
    person: int
    desk: str
    start: float
    end: float
    via: str = "phone"


VIAS = ("phone", "qr", "beacon")


def _overlap(a: Interval, spans: Iterable[Interval]) -> float:
    return sum(max(0.0, min(a[1], e) - max(a[0], s)) for s, e in spans)


def _hidden_days(per_day: Mapping[str, set[int]], k: int) -> set[str]:
    """Days whose count is not shown: fewer than k people, plus (secondary suppression)
    the smallest other days until the hidden days together hold at least k people —
    otherwise the total minus the shown days would give away a hidden day's count."""
    hidden = {day for day, people in per_day.items() if len(people) < k}

    def hidden_people() -> int:
        return len(set().union(*(per_day[d] for d in hidden))) if hidden else 0

    visible = sorted((d for d in per_day if d not in hidden), key=lambda d: len(per_day[d]))
    while hidden and hidden_people() < k and visible:
        hidden.add(visible.pop(0))
    return hidden


def compute(
    stays: Sequence[Stay],
    occupied: Mapping[str, Sequence[Interval]],
    timezone: str,
    k: int,
) -> dict[str, Any]:
    """The figures from clipped stays and each desk's occupied intervals (pure)."""
    zone = ZoneInfo(timezone)
    people = {s.person for s in stays}
    suppressed = len(people) < k
    by_desk: dict[str, list[Interval]] = defaultdict(list)
    for stay in stays:
        by_desk[stay.desk].append((stay.start, stay.end))
    spells = [(desk, span) for desk, spans in occupied.items() for span in spans]
    walk_ins = [(d, sp) for d, sp in spells if _overlap(sp, by_desk.get(d, ())) == 0.0]
    occupied_total = sum(e - s for _, (s, e) in spells)
    uncovered = sum(e - s - _overlap((s, e), by_desk.get(d, ())) for d, (s, e) in spells)
    out: dict[str, Any] = {
        "spec_version": SPEC_VERSION,
        "k": k,
        "suppressed": suppressed,
        "checkins": None,
        "checkins_per_day": None,
        "mean_duration_s": None,
        "agreement": None,
        "by_via": None,
        "walk_ins": {
            "spells": len(walk_ins),
            "uncovered_share": None if occupied_total <= 0 else uncovered / occupied_total,
        },
    }
    if suppressed:
        return out
    per_day: dict[str, set[int]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for stay in stays:
        day = datetime.fromtimestamp(stay.start, zone).date().isoformat()
        per_day[day].add(stay.person)
        counts[day] += 1
    checked_in = sum(s.end - s.start for s in stays)
    seen = sum(_overlap((s.start, s.end), occupied.get(s.desk, ())) for s in stays)
    hidden = _hidden_days(per_day, k)
    via_people: dict[str, set[int]] = {via: set() for via in VIAS}
    via_counts: dict[str, int] = dict.fromkeys(VIAS, 0)
    for stay in stays:
        via_people.setdefault(stay.via, set()).add(stay.person)
        via_counts[stay.via] = via_counts.get(stay.via, 0) + 1
    hidden_vias = _hidden_days({v: p for v, p in via_people.items() if p}, k)
    out.update(
        by_via={
            via: {"checkins": None if via in hidden_vias else via_counts[via],
                  "suppressed": via in hidden_vias}
            for via in via_counts
        },
        checkins=len(stays),
        checkins_per_day=[
            {"date": day, "checkins": None if day in hidden else counts[day],
             "suppressed": day in hidden}
            for day in sorted(counts)
        ],
        mean_duration_s=checked_in / len(stays) if stays else None,
        agreement=seen / checked_in if checked_in > 0 else None,
    )
    return out


def _occupied_intervals(
    store: Store, desks: list[str], start: float, end: float
) -> dict[str, list[Interval]]:
    frame = store.transitions(desks, start, end)
    out: dict[str, list[Interval]] = defaultdict(list)
    rows = list(zip(frame.desk_index.tolist(), frame.at.tolist(), frame.state.tolist(),
                    strict=True))
    for i, (desk, at, state) in enumerate(rows):
        if state != 1:
            continue
        nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1][0] == desk else None
        span = (max(at, start), min(nxt[1] if nxt else end, end))
        if span[1] > span[0]:
            out[frame.desks[desk]].append(span)
    return dict(out)


def site_figures(
    store: Store, site: str, start: float, end: float, *, k: int,
    now: float | None = None,
) -> dict[str, Any]:
    """Metric 11 for ``site`` over ``[start, min(end, now))``."""
    until = min(end, time.time() if now is None else now)
    info = store.site(site)
    desks = [d["id"] for d in store.desks(site)]
    stays = [
        Stay(int(person), desk, max(s, start), min(e if e is not None else until, until), via)
        for person, desk, s, e, via in store.db.execute(
            'SELECT person_id, desk, start, "end", via FROM checkins WHERE site = ? AND start < ? '
            'AND ("end" IS NULL OR "end" > ?)', [site, until, start],
        ).fetchall()
    ]
    stays = [s for s in stays if s.end > s.start]
    figures = compute(stays, _occupied_intervals(store, desks, start, until), info["timezone"],
                      k)
    return {"site": site, "window": {"start": start, "end": until, "hours": "all"}, **figures}
