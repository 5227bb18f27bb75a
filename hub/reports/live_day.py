"""Today's day summary, kept up to date as the rollups advance (issue 23, item 1).

A report that includes today would otherwise summarise today on the fly: read the day's
window rollups of every desk (400,000 rows at 18:00 on a 10,000-desk site) and its
transitions, about 0.8 s a request. Instead the Rollupper holds, per site, today's window
rollups and occupied intervals in memory (:class:`LiveDay`) and after each refresh
re-reads only what that refresh changed:

- every desk's bins from the previous refresh's open bin on (an idle desk's open bin is
  extended each tick, nothing before it changes), and
- the whole day (rollups and transitions) of the desks the refresh recomputed from their
  transitions (new or late events, :func:`hub.reports.rollup.refresh_rollups` names them).

It then summarises the day with :func:`hub.metrics.days.summarise` (the same code as every
other summary) and stores it as a *live* row of ``day_summaries``: key ``live:`` + the
layout key, ``computed`` = the refresh's time (``as_of``). The figures are exactly those of
:func:`hub.reports.day_store.compute` at ``as_of`` (tests/hub/test_live_day.py): the rollups a
report can read are never newer than the last refresh anyway. A finished day's row is
replaced by its final summary (same primary key); a late event's ``invalidate`` drops it,
and the next tick writes it again from the updated state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from hub.db.protocol import Store
from hub.metrics.calendar import window_mask
from hub.metrics.days import DaySummary, Thresholds, summarise
from hub.metrics.kernel import (
    OCCUPIED,
    FloatArray,
    IntArray,
    RollupFrame,
    intervals_from_transitions,
)
from hub.reports.day_store import (
    SiteLayout,
    empty_summary,
    live_key,
    local_days,
    read_rollups,
    save,
    site_layout,
)


@dataclass
class LiveDay:
    """One site's local day: its window rollups and occupied intervals, as of ``as_of``."""

    layout: SiteLayout
    day: date
    start: float  # local midnight
    end: float  # the next local midnight
    bins: IntArray  # the day's window bins
    occupied: FloatArray  # (desks, bins)
    unknown: FloatArray
    span: FloatArray
    spell_desk: IntArray  # the day's occupied intervals (open ones end at ``end``)
    spell_start: FloatArray
    spell_end: FloatArray
    as_of: float

    @classmethod
    def build(cls, store: Store, layout: SiteLayout, day: date, start: float, end: float,
              now: float) -> LiveDay:
        """Read the whole day once (a new day, a restart, a changed building)."""
        bs = layout.bin_seconds
        first = -(-int(np.ceil(start)) // bs) * bs
        every = np.arange(first, end, bs, dtype=np.int64)
        bins = every[window_mask(every, layout.site["timezone"], layout.site["core_hours"])]
        n = len(layout.desks)
        zeros = np.zeros((n, len(bins)))
        none = np.zeros(0)
        live = cls(layout, day, start, end, bins, zeros, zeros.copy(), zeros.copy(),
                   np.zeros(0, dtype=np.int64), none, none, now)
        live._reread(store, np.arange(n), np.arange(len(bins)), now)
        return live

    def advance(self, store: Store, now: float, recomputed: set[str]) -> None:
        """Bring the state to ``now`` after a refresh that recomputed ``recomputed``."""
        bs = self.layout.bin_seconds
        index = {d["id"]: i for i, d in enumerate(self.layout.desks)}
        changed = np.array(sorted(index[d] for d in recomputed if d in index), dtype=np.int64)
        if len(changed):
            self._reread(store, changed, np.arange(len(self.bins)), now)
        # Every desk's bins from the previous refresh's open bin on (idle desks extended).
        since = np.floor(self.as_of / bs) * bs
        open_bins = np.flatnonzero((self.bins >= since) & (self.bins < now))
        if len(open_bins):
            self._read_rollups(store, np.arange(len(self.layout.desks)), open_bins)
        self.as_of = now

    def _reread(self, store: Store, rows: IntArray, cols: IntArray, now: float) -> None:
        """Rollups of ``rows`` x ``cols`` and the day's intervals of ``rows`` up to ``now``."""
        self._read_rollups(store, rows, cols)
        ids = [self.layout.desks[i]["id"] for i in rows.tolist()]
        until = min(now, self.end)
        keep = ~np.isin(self.spell_desk, rows)
        desk, start, end = self.spell_desk[keep], self.spell_start[keep], self.spell_end[keep]
        if until > self.start and ids:
            tf = store.transitions(ids, self.start, until)
            d, s, e = intervals_from_transitions(
                tf.desk_index, tf.at, tf.state, n_desks=len(ids), until=self.end)[OCCUPIED]
            desk = np.concatenate([desk, rows[np.asarray(d, dtype=np.int64)]])
            start, end = np.concatenate([start, s]), np.concatenate([end, e])
        self.spell_desk, self.spell_start, self.spell_end = desk, start, end

    def _read_rollups(self, store: Store, rows: IntArray, cols: IntArray) -> None:
        """Overwrite ``rows`` x ``cols`` from the store, one query per run of adjacent bins."""
        bs = self.layout.bin_seconds
        ids = [self.layout.desks[i]["id"] for i in rows.tolist()]
        if not ids or not len(cols):
            return
        bins = self.bins[cols]
        cuts = np.flatnonzero(np.diff(bins) != bs) + 1
        for part in np.split(np.arange(len(cols)), cuts):
            c = cols[part]
            occ, unk, span = read_rollups(store, ids, int(self.bins[c[0]]),
                                          int(self.bins[c[-1]]) + bs, bs)
            grid = np.ix_(rows, c)
            self.occupied[grid], self.unknown[grid], self.span[grid] = occ, unk, span

    def summary(self) -> DaySummary:
        """The day's summary as of ``as_of`` (empty without window bins, as stored ones)."""
        layout = self.layout
        frame = RollupFrame([d["id"] for d in layout.desks], self.bins, self.occupied,
                            self.unknown, self.span, layout.bin_seconds, self.start,
                            min(self.end, self.as_of))
        out = summarise(frame, desk_zone=layout.desk_zone, n_zones=len(layout.zones),
                        timezone=layout.site["timezone"], core_hours=layout.site["core_hours"],
                        thresholds=layout.thresholds,
                        occupied=(self.spell_desk, self.spell_start, self.spell_end))
        return out[0] if out else empty_summary(self.day, len(layout.desks), len(layout.zones))


def save_live(store: Store, live: LiveDay) -> None:
    save(store, live.layout, [live.summary()], key=live_key(live.layout), computed=live.as_of)


class LiveSummaries:
    """The Rollupper's live days, one per site: advanced after every rollup refresh."""

    def __init__(self, bin_seconds: int, thresholds: Thresholds | None = None) -> None:
        self.bin_seconds = bin_seconds
        self.thresholds = thresholds or Thresholds()
        self.days: dict[str, LiveDay] = {}

    def refresh(self, store: Store, now: float, recomputed: set[str],
                sites: Sequence[str] | None = None) -> int:
        """Advance (or build) today's state of each site and store its summary."""
        written = 0
        kept: dict[str, LiveDay] = {}
        for site in store.sites():
            if sites is not None and site["id"] not in sites:
                continue
            layout = site_layout(store, site, self.bin_seconds, self.thresholds)
            tz = ZoneInfo(site["timezone"])
            today = datetime.fromtimestamp(now, tz).date()
            ((day, start, end),) = [d for d in local_days(now, now + 1, tz) if d[0] == today]
            live = self.days.get(site["id"])
            if live is None or live.day != day or live.layout.key != layout.key:
                live = LiveDay.build(store, layout, day, start, end, now)
            else:
                live.advance(store, now, recomputed)
            save_live(store, live)
            kept[site["id"]] = live
            written += 1
        # A site this worker no longer refreshes is rebuilt if it comes back.
        self.days = kept
        return written
