"""Keeping the per-desk bin rollups current: reports read rollups, never raw transitions.

Each refresh recomputes, for every desk the hub has seen, the bins from the earliest one
that may have changed up to ``now``: from the bin of the oldest new (possibly late)
event for desks marked dirty, else from the desk's newest rollup bin (the open bin, which
keeps accruing time in the desk's current state). The computation is the numpy kernels
in :mod:`hub.aggregate` over the desks' transitions plus the one before; the whole
refresh is one transaction, so ingest can neither slip an event in between reading the
dirty marks and clearing them nor see half-written rollups.

The bin rollups are the first layer; reports over whole past days read the second, one
:class:`hub.metrics_days.DaySummary` per site and local day (:mod:`hub.report_rollup`).
A refresh that finds late events drops the summaries from the oldest affected local day
on, and every tick summarises finished days that have none.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hub import report_rollup
from hub.aggregate import bin_state_seconds
from hub.config import HubSettings
from hub.store_protocol import Store

if TYPE_CHECKING:
    from hub.ingest import Ingestor

log = logging.getLogger(__name__)


def refresh_rollups(
    store: Store, now: float, bin_seconds: int, sites: Sequence[str] | None = None
) -> int:
    """Bring every seen desk's rollups (of ``sites``, default all) up to ``now``; returns
    the rows written."""
    bs = int(bin_seconds)
    written = 0
    with store.transaction():
        store.claim_bin_seconds(bs)
        starts = store.rollup_starts(sites)
        if not starts:
            return 0
        desks = [row[0] for row in starts]
        tip = np.array([np.nan if r[1] is None else r[1] for r in starts], dtype=np.float64)
        dirty = np.array([np.nan if r[2] is None else r[2] for r in starts], dtype=np.float64)
        first = np.array([np.nan if r[3] is None else r[3] for r in starts], dtype=np.float64)
        start = np.fmin(np.fmin(tip, np.floor(dirty / bs) * bs), np.floor(first / bs) * bs)
        is_dirty = ~np.isnan(dirty)
        # Two groups so that one desk with a week-old late event does not widen the grid of
        # all the desks that only need their open bin extended.
        for group in (is_dirty, ~is_dirty & ~np.isnan(start)):
            index = np.flatnonzero(group)
            if len(index):
                written += _recompute([desks[i] for i in index], start[index], now, bs, store)
        _invalidate_summaries(store, [desks[i] for i in np.flatnonzero(is_dirty)])
        store.clear_dirty(desks[i] for i in np.flatnonzero(is_dirty))
    return written


def _invalidate_summaries(store: Store, desks: list[str]) -> None:
    """Late events re-open days: drop the day summaries from each site's oldest dirty day."""
    if not desks:
        return
    rows = store.db.execute(
        "SELECT d.site, s.timezone, MIN(x.from_at) FROM dirty x JOIN desks d ON d.id = x.desk "
        "JOIN sites s ON s.id = d.site WHERE x.desk IN (SELECT value FROM json_each(?)) "
        "GROUP BY d.site, s.timezone", [json.dumps(desks)],
    ).fetchall()
    for site, timezone, since in rows:
        report_rollup.invalidate(store, site, timezone, float(since))


def _recompute(
    desks: list[str], start: np.ndarray, now: float, bs: int, store: Store
) -> int:
    """Recompute bins ``start[d] .. now`` of each desk d and upsert them."""
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


class Rollupper:
    """A thread that expires silent agents and refreshes rollups every ``rollup_interval``."""

    def __init__(
        self,
        settings: HubSettings,
        store: Store,
        *,
        ingestor: Ingestor | None = None,
        clock: Callable[[], float] = time.time,
        expire_agents: bool = True,
    ) -> None:
        self.settings = settings
        self.store = store
        self.ingestor = ingestor
        # False for `hub serve --role aggregate`: liveness belongs to the ingest workers,
        # which know whether the agents' queued messages have arrived (hub/server.py).
        self.expire_agents = expire_agents
        self.clock = clock
        self.ticks = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rollup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

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
        written = refresh_rollups(self.store, now, self.settings.bin_seconds, sites)
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

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("rollup refresh failed; retrying in %.1f s",
                              self.settings.rollup_interval)
            self._stop.wait(self.settings.rollup_interval)
        try:  # hand this worker's sites over at once, not when its connection ends
            self.store.release_site_locks()
        except Exception:
            log.exception("releasing the rollup site locks failed")
