"""Keeping the per-desk bin rollups current: reports read rollups, never raw transitions.

Each refresh does work in proportion to what changed, in short transactions
(:mod:`hub.db.rollup_scan` reads one slice of desks at a time), so the ingest writer never
waits long for the database's write lock:

- Desks marked dirty (new or late events) are recomputed from the bin of their oldest
  new event (or their newest rollup bin, if earlier) up to ``now`` with the numpy kernels
  of :mod:`hub.metrics.kernel` over their transitions plus the one before. A slice reads its
  marks, writes the bins and clears the marks in one transaction, so ingest can never
  slip an event in between reading a mark and clearing it.
- Every other seen desk only has its open bin (and any bins since) extended in its live
  state, from its newest rollup row and ``desk_state``, without reading transitions:
  the same figures the kernels would give, at a fraction of the cost.

A report that runs during a refresh may see some desks' open bins already extended to
``now`` and others still at the previous refresh (at most ``rollup_interval`` behind).

The bin rollups are the first layer; reports over whole past days read the second, one
:class:`hub.metrics.days.DaySummary` per site and local day (:mod:`hub.reports.day_store`).
A refresh that finds late events drops the summaries from the oldest affected local day
on, and every tick summarises finished days that have none.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hub.config import HubSettings
from hub.db import rollup_scan
from hub.db.protocol import Store
from hub.metrics.kernel import bin_state_seconds
from hub.periodic import PeriodicJob
from hub.reports import day_store as report_rollup
from hub.reports.live_day import LiveSummaries

if TYPE_CHECKING:
    from hub.ingest.ingestor import Ingestor

log = logging.getLogger(__name__)


DIRTY_SLICE = 500  # desks per transaction: each one holds the write lock for a few ms
IDLE_SLICE = 2000
# At most this many (desk, bin) cells per transaction and per kernel call: it bounds the
# write-lock time and the memory of one slice however far back its desks' events reach.
MAX_SLICE_CELLS = 2_000
DEFAULT_HORIZON = 14 * 86400.0  # HubSettings.event_horizon_days
_PAUSE = 0.001  # between slices: the ingest writer, if waiting, takes the lock first


def refresh_rollups(
    store: Store,
    now: float,
    bin_seconds: int,
    sites: Sequence[str] | None = None,
    *,
    horizon: float = DEFAULT_HORIZON,
    recomputed: set[str] | None = None,
) -> int:
    """Bring every seen desk's rollups (of ``sites``, default all) up to ``now``; returns
    the rows written. ``recomputed``, if given, gains the desks whose bins were recomputed
    from their transitions (the others only had their open bin extended): the live day
    summaries (hub/reports/live_day.py) re-read just those.

    No bin older than ``horizon`` before ``now`` is ever recomputed, whatever time stamps
    reached the store, so one desk costs at most ``horizon / bin_seconds + 1`` rows.
    """
    bs = int(bin_seconds)
    store.claim_bin_seconds(bs)
    oldest = float(np.floor((now - horizon) / bs) * bs)
    written = 0
    after = ""
    while True:  # desks with new or late events: recomputed from their transitions
        with store.transaction():
            marks = rollup_scan.dirty_slice(store, sites, after, DIRTY_SLICE)
            if not marks:
                break
            tip = np.array([np.nan if m[1] is None else m[1] for m in marks], dtype=np.float64)
            dirty = np.array([m[2] for m in marks], dtype=np.float64)
            start = np.fmax(np.fmin(tip, np.floor(dirty / bs) * bs), oldest)
            take = _fitting(start, now, bs)
            desks = [m[0] for m in marks[:take]]
            written += _recompute(desks, start[:take], now, bs, store, recomputed)
            _invalidate_summaries(store, desks, oldest)
            store.clear_dirty(desks)
        after = desks[-1]
        time.sleep(_PAUSE)
    after = ""
    while True:  # the others: their bins extended in their current state
        with store.transaction():
            idle = rollup_scan.idle_slice(store, sites, after, IDLE_SLICE)
            if not idle:
                break
            written += _extend(idle, now, bs, store, horizon, recomputed)
        after = idle[-1][0]
        time.sleep(_PAUSE)
    return written


def _extend(
    idle: list[rollup_scan.IdleRow], now: float, bs: int, store: Store, horizon: float,
    recomputed: set[str] | None = None,
) -> int:
    """Extend the bins of desks without new events from their newest rollup up to ``now``.

    Every event of such a desk is older than the time its newest rollup covers (bin
    start + span), so from there on the desk stays in its live state: each bin from the
    newest one up to ``now`` gains ``clip(now - bin, 0, bs)`` minus what it already
    covered, in the column of that state (vacant time is span minus the other two). A
    desk without a rollup, or with an event beyond what its rollups cover (a future
    time stamp cut off earlier), is recomputed from its transitions instead.
    """
    desks = np.array([row[0] for row in idle], dtype=object)
    state = np.array([row[1] for row in idle], dtype=object)
    last = np.array([row[2] for row in idle], dtype=np.float64)
    tip, occupied, unknown, span = (
        np.array([np.nan if row[k] is None else row[k] for row in idle], dtype=np.float64)
        for k in (3, 4, 5, 6))
    covered = tip + span
    oldest = float(np.floor((now - horizon) / bs) * bs)
    # A newest bin beyond the horizon (the hub was off longer): recomputed from the horizon.
    fast = ~np.isnan(tip) & (last <= covered) & (covered < now) & (tip >= oldest)
    slow = ~np.isnan(tip) & ~fast & (covered < now)
    written = 0
    if slow.any():
        written += _recompute(desks[slow].tolist(), np.fmax(tip[slow], oldest), now, bs, store,
                              recomputed)
    missing = np.isnan(tip)
    if missing.any():
        first = rollup_scan.first_events(store, desks[missing].tolist())
        known = {d: at for d, at in first.items() if at is not None}
        if known:
            starts = np.floor(np.array(list(known.values()), dtype=np.float64) / bs) * bs
            written += _recompute(list(known), np.fmax(starts, oldest), now, bs, store,
                                  recomputed)
    index = np.flatnonzero(fast)
    if not len(index):
        return written
    # One row per (desk, bin) from the desk's newest bin to the bin holding ``now``.
    count = (np.ceil((now - tip[index]) / bs)).astype(np.int64)
    d = np.repeat(index, count)
    step = np.arange(len(d)) - np.repeat(np.cumsum(count) - count, count)
    bins = tip[d] + step * bs
    new_span = np.clip(now - bins, 0.0, float(bs))
    gained = new_span - np.where(step == 0, span[d], 0.0)
    occ = np.where(step == 0, occupied[d], 0.0) + np.where(state[d] == "occupied", gained, 0.0)
    unk = np.where(step == 0, unknown[d], 0.0) + np.where(state[d] == "unknown", gained, 0.0)
    rows = zip(desks[d].tolist(), bins.astype(np.int64).tolist(), occ.tolist(), unk.tolist(),
               new_span.tolist(), strict=True)
    return written + store.write_rollups(rows)


def _fitting(start: np.ndarray, now: float, bs: int) -> int:
    """How many of the desks (in order, at least one) one slice of MAX_SLICE_CELLS holds:
    the kernel's matrix is desks x bins from the oldest start, so the cost of the first k
    desks is k times the most bins any of them needs."""
    bins = np.maximum(np.ceil((now - start) / bs), 1.0)
    cost = np.arange(1, len(bins) + 1) * np.maximum.accumulate(bins)
    return max(1, int(np.searchsorted(cost, MAX_SLICE_CELLS, side="right")))


def _invalidate_summaries(store: Store, desks: list[str], oldest: float) -> None:
    """Late events re-open days: drop the day summaries from each site's oldest dirty day
    (never before ``oldest``, the horizon: older days are not recomputed)."""
    if not desks:
        return
    rows = store.db.execute(
        "SELECT d.site, s.timezone, MIN(x.from_at) FROM dirty x JOIN desks d ON d.id = x.desk "
        "JOIN sites s ON s.id = d.site WHERE x.desk IN (SELECT value FROM json_each(?)) "
        "GROUP BY d.site, s.timezone", [json.dumps(desks)],
    ).fetchall()
    for site, timezone, since in rows:
        report_rollup.invalidate(store, site, timezone, max(float(since), oldest))


def _recompute(
    desks: list[str], start: np.ndarray, now: float, bs: int, store: Store,
    recomputed: set[str] | None = None,
) -> int:
    """Recompute bins ``start[d] .. now`` of each desk d and upsert them, in groups of at
    most MAX_SLICE_CELLS (desk, bin) cells so that memory stays bounded."""
    if recomputed is not None:
        recomputed.update(desks)
    written = 0
    while desks:
        take = _fitting(start, now, bs)
        written += _recompute_group(desks[:take], start[:take], now, bs, store)
        desks, start = desks[take:], start[take:]
    return written


def _recompute_group(
    desks: list[str], start: np.ndarray, now: float, bs: int, store: Store
) -> int:
    t0 = float(start.min())
    n_bins = int(np.ceil((now - t0) / bs))
    if n_bins <= 0:
        return 0
    frame = store.transitions(desks, t0, now)
    occupied, unknown, span = bin_state_seconds(
        frame, t0=t0, bin_seconds=bs, n_bins=n_bins, until=now
    )
    bin_starts = t0 + np.arange(n_bins, dtype=np.float64) * bs
    d, b = np.nonzero(bin_starts[None, :] >= start[:, None])
    rows = zip(
        np.asarray(desks, dtype=object)[d].tolist(),
        bin_starts[b].astype(np.int64).tolist(),
        occupied[d, b].tolist(),
        unknown[d, b].tolist(),
        span[d, b].tolist(),
        strict=True,
    )
    return store.write_rollups(rows)


class Rollupper(PeriodicJob):
    """A thread that expires silent agents and refreshes rollups every ``rollup_interval``."""

    thread_name = "rollup"
    failure = "rollup refresh failed"

    def __init__(
        self,
        settings: HubSettings,
        store: Store,
        *,
        ingestor: Ingestor | None = None,
        clock: Callable[[], float] = time.time,
        expire_agents: bool = True,
    ) -> None:
        super().__init__(settings.rollup_interval)
        self.settings = settings
        self.store = store
        self.ingestor = ingestor
        # False for `hub serve --role aggregate`: liveness belongs to the ingest workers,
        # which know whether the agents' queued messages have arrived (hub/server.py).
        self.expire_agents = expire_agents
        self.clock = clock
        self.ticks = 0
        self.live = LiveSummaries(settings.bin_seconds)  # today's summaries, per site

    def tick(self) -> int:
        """One round: agents without heartbeat -> offline, then rollups up to now."""
        now = self.clock()
        if not self.expire_agents:
            pass
        elif self.ingestor is not None:
            self.ingestor.expire_agents(now)
        else:
            self.store.expire_agents(now - self.settings.heartbeat_timeout, now)
        sites = self.my_sites()
        if sites == []:
            self.ticks += 1
            return 0
        recomputed: set[str] = set()
        written = refresh_rollups(self.store, now, self.settings.bin_seconds, sites,
                                  horizon=self.settings.event_horizon_seconds,
                                  recomputed=recomputed)
        try:
            self.live.refresh(self.store, now, recomputed, sites)
        except Exception:  # reports then summarise today themselves; finished days go on
            log.exception("live day summary failed; rebuilt on the next tick")
            self.live.days.clear()
        report_rollup.refresh_day_summaries(self.store, now, self.settings.bin_seconds,
                                            sites=sites)
        self.ticks += 1
        return written

    def my_sites(self) -> list[str] | None:
        """The sites this worker does rollups for: None (all) on SQLite; on PostgreSQL those
        whose advisory lock it holds or takes now (another live worker keeps the others)."""
        if self.store.dialect == "sqlite":
            return None
        return [site["id"] for site in self.store.sites()
                if self.store.try_site_lock("rollup", site["id"])]

    def finished(self) -> None:
        try:  # hand this worker's sites over at once, not when its connection ends
            self.store.release_site_locks()
        except Exception:
            log.exception("releasing the rollup site locks failed")
