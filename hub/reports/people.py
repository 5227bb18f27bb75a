"""Metrics 10 (zone presence) and 11 (check-in figures) per group of a utilisation report.

Both reuse the modules that define them: :mod:`hub.metrics.presence` (window, agent merge,
"< k" suppression) and :mod:`hub.checkin.figures` (the check-in formulas and the k rule).
This module only groups their inputs and adds two rules a grouped answer needs:

- **Zone presence of a floor or site**: per bin, the sum of its zones' counts (each zone's
  count is the max over its agents); then mean and peak with suppression exactly as for a
  zone. Per-bin values are not repeated here (``GET /api/v1/zones/presence`` lists them
  per zone, suppressed).
- **Check-ins, secondary suppression**: a group with 1..k-1 distinct people is suppressed
  by :func:`hub.checkin.figures.compute`. Its figures could still be recovered by
  subtraction (floor total minus its visible zones), so within each parent (the floor of a
  zone; the site of a floor) further groups, fewest people first, are suppressed until the
  suppressed groups of that parent together hold at least k distinct people.
  Never per desk: one desk's check-ins are one person's. Check-ins per day are given for
  the site group only: a floor's count on one day minus its zones' counts that day
  could single out a day's one or two people even when the window totals are safe.

Walk-ins come from the sensors alone; :func:`hub.checkin.figures.compute` gets the occupied
intervals of the desks that had check-ins, and the desks without any check-in add all of
their occupied intervals as walk-ins (vectorised). They need every desk's raw transitions
(about 2 M for 10,000 desks x 90 days: 4.5 s to read), so a report gives them for windows
of up to ``WALK_IN_MAX_DAYS`` only; the check-in figures themselves read the transitions
of the desks that had check-ins only. Those reads go through :mod:`hub.reports.occupied_cache`,
which on SQLite keeps a recent window's rows in memory and reads only the rows written
since the previous request (a "today" report no longer re-reads the day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hub.checkin.figures import Stay, compute
from hub.db.protocol import Store
from hub.db.zone_counts import zone_counts
from hub.metrics import presence
from hub.metrics.kernel import OCCUPIED, FloatArray, IntArray, intervals_from_transitions
from hub.reports import occupied_cache

WALK_IN_MAX_DAYS = 7


def presence_groups(
    per_zone: Mapping[str, Sequence[tuple[int, int]]],
    zone_group: Mapping[str, int],
    n_groups: int,
    k: int,
) -> list[dict[str, Any]]:
    """Mean / peak devices per group from each zone's window (bin, devices) pairs."""
    presence.check_k(k)
    sums: list[dict[int, int]] = [{} for _ in range(n_groups)]
    zones = [0] * n_groups
    for zone, pairs in per_zone.items():
        g = zone_group.get(zone, -1)
        if g < 0:
            continue
        zones[g] += 1
        for b, devices in pairs:
            sums[g][b] = sums[g].get(b, 0) + devices
    out = []
    for g in range(n_groups):
        figures = presence.summarise(sorted(sums[g].items()), k)
        del figures["bins"]
        out.append({**figures, "k": k, "zones": zones[g]})
    return out


def _secondary(people: Sequence[set[int]], parent: Sequence[str], k: int) -> list[bool]:
    """Which groups to suppress: under k people, plus complements (see module doc)."""
    hidden = [0 < len(p) < k for p in people]
    for top in set(parent):
        members = [i for i in range(len(people)) if parent[i] == top and people[i]]
        while True:
            union: set[int] = set().union(*(people[i] for i in members if hidden[i]))
            visible = sorted((len(people[i]), i) for i in members if not hidden[i])
            if not union or len(union) >= k or not visible:
                break
            hidden[visible[0][1]] = True
    return hidden


def checkin_groups(
    stays: Sequence[Stay],
    occupied: tuple[IntArray, FloatArray, FloatArray],
    *,
    desks: Sequence[str],
    desk_group: IntArray,
    parent: Sequence[str],
    timezone: str,
    k: int,
    walk_ins: bool = True,
    per_day: bool = True,
) -> list[dict[str, Any]]:
    """Metric 11 per group (``parent`` names each group's parent, one entry per group).

    ``occupied``: (desk index into ``desks``, start, end) clipped to the window: of every
    desk, or with ``walk_ins=False`` at least of the desks with stays (walk-ins are then
    ``None``).
    """
    n_groups = len(parent)
    position = {d: i for i, d in enumerate(desks)}
    by_group: list[list[Stay]] = [[] for _ in range(n_groups)]
    for stay in stays:
        i = position.get(stay.desk, -1)
        g = int(desk_group[i]) if i >= 0 else -1
        if g >= 0:
            by_group[g].append(stay)
    people = [{s.person for s in group} for group in by_group]
    hidden = _secondary(people, parent, k)

    desk, start, end = occupied
    seconds = end - start
    with_stay = np.zeros(len(desks), dtype=bool)
    with_stay[[position[s.desk] for s in stays if s.desk in position]] = True
    others = ~with_stay[desk] & (desk_group[desk] >= 0)
    other_spells = np.bincount(desk_group[desk[others]], minlength=n_groups)
    other_seconds = np.bincount(desk_group[desk[others]], weights=seconds[others],
                                minlength=n_groups)
    mine = with_stay[desk]
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for d, s, e in zip(desk[mine].tolist(), start[mine].tolist(), end[mine].tolist(),
                       strict=True):
        spans[desks[d]].append((s, e))

    out = []
    for g in range(n_groups):
        group_desks = {s.desk for s in by_group[g]}
        occ = {d: spans[d] for d in group_desks if d in spans}
        # compute() suppresses below its k: a secondary suppression asks for one more.
        figures = compute(by_group[g], occ, timezone, len(people[g]) + 1 if hidden[g] else k)
        covered_total = sum(e - s for spells in occ.values() for s, e in spells)
        share = figures["walk_ins"]["uncovered_share"] or 0.0
        total = covered_total + float(other_seconds[g])
        uncovered = share * covered_total + float(other_seconds[g])
        figures["walk_ins"] = {
            "spells": figures["walk_ins"]["spells"] + int(other_spells[g]),
            "uncovered_share": uncovered / total if total > 0 else None,
        } if walk_ins else None
        if not per_day:
            figures["checkins_per_day"] = None
        out.append({**figures, "k": k, "hours": "all"})
    return out


def read_stays(store: Store, site: str, start: float, until: float) -> list[Stay]:
    """The site's check-ins overlapping [start, until), clipped to it (open ones end now)."""
    rows = store.db.execute(
        'SELECT person_id, desk, start, "end" FROM checkins WHERE site = ? AND start < ? '
        'AND ("end" IS NULL OR "end" > ?)', [site, until, start],
    ).fetchall()
    stays = [Stay(int(p), str(d), max(s, start), min(until if e is None else e, until))
             for p, d, s, e in rows]
    return [s for s in stays if s.end > s.start]


def read_occupied(
    store: Store, desks: list[str], start: float, until: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """(desk index, start, end) of the desks' occupied intervals clipped to [start, until)."""
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    if until <= start or not desks:
        return empty
    index, at, state = occupied_cache.transitions(store, desks, start, until)
    d, s, e = intervals_from_transitions(index, at, state, n_desks=len(desks),
                                         until=until)[OCCUPIED]
    s = np.maximum(s, start)
    keep = e > s
    return np.asarray(d)[keep].astype(np.int64), s[keep], np.asarray(e)[keep]


def zone_counts_in_window(
    store: Store, site: dict[str, Any], zones: Sequence[str], start: float, end: float,
    now: float, bin_seconds: int,
) -> dict[str, list[tuple[int, int]]]:
    return presence.window_counts(
        zone_counts(store, site["id"], start, end), zones=zones, timezone=site["timezone"],
        core_hours=site["core_hours"], start=start, end=end, now=now, bin_seconds=bin_seconds)
