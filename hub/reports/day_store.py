"""Day summaries in the store: kept by the Rollupper, read by reports, recomputed when stale.

A report window is cut into local days. A whole past day is read from ``day_summaries``
when its key (window, thresholds, bin width, desk-to-zone map) still matches; any other
part of the window (today, a partial first or last day, a day never summarised or
summarised under other settings) is summarised on the fly from the bin rollups plus the
transitions of that stretch (for dwell spells). Either way the figures are the same:
both go through :func:`hub.metrics.days.summarise`.

Today: the Rollupper keeps a *live* summary of each site's current day up to date after
every rollup refresh (:mod:`hub.reports.live_day`, rows keyed ``live:`` + the summary key); a
report that covers today from its midnight reads it (see :func:`_live`) instead of
summarising the day again.

Late events: :func:`hub.reports.rollup.refresh_rollups` calls :func:`invalidate` with the oldest
dirty event per site, which drops that site's summaries from that local day on; the
next :func:`refresh_day_summaries` (or a report) recomputes them.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from hub.db.protocol import Store
from hub.metrics.calendar import window_mask
from hub.metrics.days import DaySummary, Thresholds, pack, summarise, summary_key, unpack
from hub.metrics.kernel import (
    OCCUPIED,
    FloatArray,
    IntArray,
    RollupFrame,
    intervals_from_transitions,
)

log = logging.getLogger(__name__)
MAX_DAYS_PER_REFRESH = 31
COMPUTE_DAYS = 7
LIVE_PREFIX = "live:"  # the key prefix of a live summary (hub/reports/live_day.py)
# A report uses a live summary of an unfinished day at most this old (seconds); an older
# one means no Rollupper keeps it up to date, and the report summarises the day itself.
LIVE_MAX_AGE = 300.0


@dataclass(frozen=True)
class SiteLayout:
    """A site's desks (sorted by id) and zones, as the summaries index them."""

    site: dict[str, Any]
    desks: list[dict[str, Any]]
    zones: list[str]
    desk_zone: IntArray
    key: str
    thresholds: Thresholds
    bin_seconds: int


_LAYOUTS: dict[tuple[str, str, int, Thresholds], tuple[list[Any], SiteLayout]] = {}


def site_layout(
    store: Store, site: dict[str, Any], bin_seconds: int, thresholds: Thresholds
) -> SiteLayout:
    """The site's layout; every report needs it. The desk rows are read each time, but
    if they and the site are as last time the layout built from them is reused (the
    dicts, the zone map and the key's hash over 10,000 desks are half of the ~16 ms)."""
    desks = store.db.execute(
        "SELECT id, name, floor, zone FROM desks WHERE site = ? ORDER BY id", [site["id"]]
    ).fetchall()
    cache_key = (str(store.path), json.dumps(site, sort_keys=True, default=str),
                 int(bin_seconds), thresholds)
    known = _LAYOUTS.get(cache_key)
    if known is not None and known[0] == desks:
        return known[1]
    layout = _site_layout(copy.deepcopy(site), desks, bin_seconds, thresholds)
    if len(_LAYOUTS) >= 64:  # sites x settings; a dict, so a clear is the simple bound
        _LAYOUTS.clear()
    _LAYOUTS[cache_key] = (desks, layout)
    return layout


def _site_layout(
    site: dict[str, Any], desks: list[Any], bin_seconds: int, thresholds: Thresholds
) -> SiteLayout:
    rows = [{"id": d[0], "name": d[1], "floor": d[2], "zone": d[3]} for d in desks]
    zones = sorted({d["zone"] for d in rows})
    position = {z: i for i, z in enumerate(zones)}
    desk_zone = np.array([position[d["zone"]] for d in rows], dtype=np.int64)
    key = summary_key(bin_seconds=bin_seconds, timezone=site["timezone"],
                      core_hours=site["core_hours"], thresholds=thresholds,
                      desk_zones=[(d["id"], d["zone"]) for d in rows])
    return SiteLayout(site, rows, zones, desk_zone, key, thresholds, bin_seconds)


def live_key(layout: SiteLayout) -> str:
    return LIVE_PREFIX + layout.key


def _midnight(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def local_days(lo: float, hi: float, tz: ZoneInfo) -> list[tuple[date, float, float]]:
    """(local date, its midnight, the next midnight) of every local day meeting [lo, hi)."""
    day = datetime.fromtimestamp(lo, tz).date()
    out: list[tuple[date, float, float]] = []
    while True:
        start = _midnight(day, tz)
        if start >= hi:
            return out
        end = _midnight(day + timedelta(days=1), tz)
        out.append((day, start, end))
        day += timedelta(days=1)


def compute(
    store: Store, layout: SiteLayout, lo: float, hi: float, now: float
) -> list[DaySummary]:
    """Summaries of [lo, hi) straight from the bin rollups and transitions."""
    site = layout.site
    frame = window_rollups(store, layout, lo, hi, now)
    until = min(hi, now)
    ids = [d["id"] for d in layout.desks]
    occupied = None
    if until > lo and ids:
        tf = store.transitions(ids, lo, until)
        occupied = intervals_from_transitions(
            tf.desk_index, tf.at, tf.state, n_desks=len(ids), until=until)[OCCUPIED]
    return summarise(frame, desk_zone=layout.desk_zone, n_zones=len(layout.zones),
                     timezone=site["timezone"], core_hours=site["core_hours"],
                     thresholds=layout.thresholds, occupied=occupied)


def window_rollups(
    store: Store, layout: SiteLayout, lo: float, hi: float, now: float
) -> RollupFrame:
    """The rollups of the window bins of [lo, hi) only: a summary never looks at a bin
    outside the core hours, and reading rows is most of the cost of a live day (a
    10,000-desk site has 960,000 rows a day, 400,000 of them in 08:00-18:00)."""
    site, bs = layout.site, layout.bin_seconds
    first = -(-int(np.ceil(lo)) // bs) * bs
    bins = np.arange(first, hi, bs, dtype=np.int64)
    inside = window_mask(bins, site["timezone"], site["core_hours"])
    edges = np.flatnonzero(np.diff(np.r_[0, inside.astype(np.int8), 0]))
    ids = [d["id"] for d in layout.desks]
    parts = [read_rollups(store, ids, int(bins[a]), int(bins[b - 1]) + bs, bs)
             for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)]
    if not parts:
        none = np.zeros((len(ids), 0))
        return RollupFrame(ids, bins[:0], none, none, none, bs, lo, min(hi, now))
    occupied, unknown, span = (np.concatenate([part[i] for part in parts], axis=1)
                               for i in range(3))
    return RollupFrame(ids, bins[inside], occupied, unknown, span, bs, lo, min(hi, now))


def read_rollups(
    store: Store, ids: list[str], first: int, end: int, bs: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(occupied, unknown, span) of ``ids`` x the bins ``first, first + bs, .. < end``, as
    :meth:`hub.db.sqlite.store.StoreQueries.rollups` reads them (a missing row is zeros, an
    unaligned one is
    ignored), in two parts: rows of a wholly vacant bin (most of them) come as one
    ``desk,bin`` text parsed by numpy, the others as rows; half the cost of all rows."""
    shape = (len(ids), (end - first) // bs)
    occupied, unknown, span = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    join = ("FROM json_each(?) j JOIN rollups r ON r.desk = j.value AND r.bin_start >= ? "
            "AND r.bin_start < ? AND ")
    vacant = "(r.occupied_s = 0 AND r.unknown_s = 0 AND r.span_s = ?)"
    params = [json.dumps(ids), first, end, bs]
    rows = store.db.execute(  # noqa: S608 - constant SQL fragments only
        f"SELECT j.key, r.bin_start, r.occupied_s, r.unknown_s, r.span_s {join} NOT {vacant}",
        params).fetchall()
    (text,) = store.db.execute(  # noqa: S608 - constant SQL fragments only
        f"SELECT group_concat(j.key || ',' || r.bin_start) {join} {vacant}", params).fetchone()
    idle = np.fromstring(text or "", sep=",", dtype=np.float64).reshape(-1, 2)
    table = np.array(rows, dtype=np.float64).reshape(-1, 5)
    for part, is_idle in ((table, False), (idle, True)):
        offset = part[:, 1] - first
        aligned = offset % bs == 0
        d = part[aligned, 0].astype(np.int64)
        b = (offset[aligned] // bs).astype(np.int64)
        if is_idle:
            span[d, b] = float(bs)
        else:
            occupied[d, b] = part[aligned, 2]
            unknown[d, b] = part[aligned, 3]
            span[d, b] = part[aligned, 4]
    return occupied, unknown, span


_CACHE: OrderedDict[tuple[str, str, str, str, float], DaySummary] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_ENTRIES = 2048  # site-days; about 0.4 MB each for 10,000 desks


def stored(
    store: Store, layout: SiteLayout, days: list[str], key: str | None = None
) -> dict[str, DaySummary]:
    """The stored, still valid summaries of these local dates.

    Unpacked summaries are kept in a small in-process LRU keyed by (database, site, day,
    key, computed time), so a repeated report reads only the (day, computed) index rows;
    a recomputed summary has a new computed time and is read afresh.
    """
    if not days:
        return {}
    return {day: summary for day, (_, summary) in _read(store, layout, days, key).items()}


def _read(
    store: Store, layout: SiteLayout, days: list[str], key: str | None = None
) -> dict[str, tuple[float, DaySummary]]:
    """(computed, summary) per day of the rows under ``key`` (default the layout's)."""
    if not days:
        return {}
    key = key or layout.key
    site = layout.site["id"]
    index = store.db.execute(
        "SELECT day, computed FROM day_summaries WHERE site = ? AND key = ? AND day >= ? "
        "AND day <= ?", [site, key, min(days), max(days)],
    ).fetchall()
    wanted = set(days)
    found: dict[str, tuple[float, DaySummary]] = {}
    missing = []
    with _CACHE_LOCK:
        for day, computed in index:
            if day not in wanted:
                continue
            cache_key = (str(store.path), site, day, key, computed)
            if cache_key in _CACHE:
                _CACHE.move_to_end(cache_key)
                found[day] = (computed, _CACHE[cache_key])
            else:
                missing.append(day)
    if missing:
        rows = store.db.execute(
            "SELECT day, computed, data FROM day_summaries WHERE site = ? AND key = ? "
            "AND day IN (SELECT value FROM json_each(?))",
            [site, key, json.dumps(missing)],
        ).fetchall()
        with _CACHE_LOCK:
            if key.startswith(LIVE_PREFIX):  # a live row replaces its older versions
                for old in [k for k in _CACHE if k[1] == site and k[3] == key
                            and k[0] == str(store.path) and k[2] in missing]:
                    del _CACHE[old]
            for day, computed, data in rows:
                summary = _CACHE[(str(store.path), site, day, key, computed)] = unpack(data)
                found[day] = (computed, summary)
            while len(_CACHE) > CACHE_ENTRIES:
                _CACHE.popitem(last=False)
    return found


def window_summaries(
    store: Store, layout: SiteLayout, lo: float, hi: float, now: float
) -> tuple[list[DaySummary], dict[str, int]]:
    """Every day summary of [lo, hi): stored where possible, else computed; with counts."""
    tz = ZoneInfo(layout.site["timezone"])
    days = local_days(lo, hi, tz)
    whole = [d.isoformat() for d, start, end in days if lo <= start and end <= min(hi, now)]
    found = stored(store, layout, whole)
    found.update(_live(store, layout, days, lo, hi, now, found))
    out = list(found.values())
    # Days to summarise now, as runs of at most COMPUTE_DAYS days: one dense frame of
    # desks x bins per run keeps memory bounded on a big site.
    pending: list[tuple[float, float, int]] = []
    for day, start, end in days:
        if day.isoformat() in found:
            continue
        a, b = max(lo, start), min(hi, end)
        if pending and pending[-1][1] == a and pending[-1][2] < COMPUTE_DAYS:
            pending[-1] = (pending[-1][0], b, pending[-1][2] + 1)
        else:
            pending.append((a, b, 1))
    for a, b, _ in pending:
        out.extend(compute(store, layout, a, b, now))
    out.sort(key=lambda s: s.day)
    return out, {"stored_days": len(found), "computed_days": len(days) - len(found)}


def _live(
    store: Store, layout: SiteLayout, days: list[tuple[date, float, float]], lo: float,
    hi: float, now: float, found: dict[str, DaySummary],
) -> dict[str, DaySummary]:
    """Live summaries (hub/reports/live_day.py) of days the window covers from their midnight up to
    at least the summary's time: today's figures as of the Rollupper's last refresh."""
    wanted = {d.isoformat(): (start, end) for d, start, end in days
              if lo <= start and d.isoformat() not in found}
    out = {}
    for day, (as_of, summary) in _read(store, layout, list(wanted), live_key(layout)).items():
        start, end = wanted[day]
        covered = min(as_of, end)
        if min(hi, now, end) >= covered and (covered == end or now - as_of <= LIVE_MAX_AGE):
            out[day] = summary
    return out


def empty_summary(day: date, n_desks: int, n_zones: int) -> DaySummary:
    """The summary of a local day with no window bins."""
    zeros, counts = np.zeros(n_desks), np.zeros(n_desks, dtype=np.int16)
    none = np.zeros(0, dtype=np.int64)
    return DaySummary(
        day=(day - date(1970, 1, 1)).days, weekday=day.weekday(), elapsed=0.0,
        occupied=zeros, valid=zeros, used_hours=counts, valid_hours=counts,
        used_bins=counts, data_bins=counts, bins=none,
        zone_used=np.zeros((n_zones, 0), dtype=np.int32),
        zone_data=np.zeros((n_zones, 0), dtype=np.int32), spell_desk=none.astype(np.int32),
        spell_seconds=np.zeros(0),
    )


def save(
    store: Store, layout: SiteLayout, summaries: list[DaySummary], *, key: str | None = None,
    computed: float | None = None,
) -> None:
    """Upsert summaries under ``key`` (default the layout's; a live one passes its own and
    its time as ``computed``)."""
    computed = time.time() if computed is None else computed
    with store.transaction() as db:
        db.conn.executemany(
            "INSERT INTO day_summaries (site, day, key, computed, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (site, day) DO UPDATE SET key = excluded.key, "
            "computed = excluded.computed, data = excluded.data",
            [(layout.site["id"], (date(1970, 1, 1) + timedelta(days=s.day)).isoformat(),
              key or layout.key, computed, pack(s)) for s in summaries],
        )


def invalidate(store: Store, site: str, timezone: str, since: float) -> None:
    """Drop the site's summaries from the local day of ``since`` on (a late event)."""
    day = datetime.fromtimestamp(since, ZoneInfo(timezone)).date().isoformat()
    with store.transaction() as db:
        db.conn.execute("DELETE FROM day_summaries WHERE site = ? AND day >= ?", [site, day])


def refresh_day_summaries(
    store: Store,
    now: float,
    bin_seconds: int,
    thresholds: Thresholds | None = None,
    *,
    max_days: int = MAX_DAYS_PER_REFRESH,
    sites: Sequence[str] | None = None,
) -> int:
    """Summarise up to ``max_days`` finished local days per site (of ``sites``, default
    all) that lack a valid summary."""
    thresholds = thresholds or Thresholds()
    written = 0
    for site in store.sites():
        if sites is not None and site["id"] not in sites:
            continue
        layout = site_layout(store, site, bin_seconds, thresholds)
        (first,) = store.db.execute(
            "SELECT MIN((SELECT MIN(bin_start) FROM rollups r WHERE r.desk = d.id)) "
            "FROM desks d WHERE d.site = ?", [site["id"]],
        ).fetchone()
        if first is None:
            continue
        tz = ZoneInfo(site["timezone"])
        finished = [(d, a, b) for d, a, b in local_days(float(first), now, tz) if b <= now]
        have = {row[0] for row in store.db.execute(
            "SELECT day FROM day_summaries WHERE site = ? AND key = ?", [site["id"], layout.key])}
        todo = [(d, a, b) for d, a, b in finished if d.isoformat() not in have][:max_days]
        for day, a, b in todo:
            # A day without window bins (a weekend) is stored empty, so it is not redone.
            summaries = compute(store, layout, a, b, now) or [
                empty_summary(day, len(layout.desks), len(layout.zones))]
            save(store, layout, summaries)
            written += len(summaries)
    if written:
        log.info("day summaries written: %d", written)
    return written
