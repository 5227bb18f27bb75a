"""Deferred indexing of transitions (hub/db/transition_index.py): what the ingest writer left
pending is read exactly as if it were indexed, and settling changes no answer."""

from __future__ import annotations

import random
import time
from pathlib import Path

from edge.protocol import DeskEvent, DesksMessage, Topic
from hub.db import rollup_scan, transition_index
from hub.db.sqlite.store import Incoming, SqliteStore
from tests.hub.store_data import T0, building

DESKS = ["d1", "d2", "d3"]
OWNER = {"d1": "a1", "d2": "a1", "d3": "a2"}


def _ingest(store: SqliteStore, rng: random.Random, seqs: dict[str, int], n: int) -> None:
    """``n`` messages through the store's set-wise ingest path, events out of time order."""
    batch = []
    for _ in range(n):
        agent = rng.choice(["a1", "a2"])
        seqs[agent] += 1
        desks = [d for d in DESKS if OWNER[d] == agent]
        events = tuple(DeskEvent(rng.choice(desks), rng.choice(["occupied", "vacant"]),
                                 T0 + rng.uniform(0, 1000)) for _ in range(rng.randint(1, 3)))
        batch.append(Incoming(Topic("s1", agent, "desks"),
                              DesksMessage(agent, 1, seqs[agent], T0 + 1000, events), T0 + 1000))
    result = store.apply(batch)
    assert not result.rejected


def _ingested(path: Path, seed: int, messages: int) -> SqliteStore:
    """A store of the test building holding ``messages`` messages, their rows pending."""
    store = SqliteStore(path)
    store.import_building(building())
    _ingest(store, random.Random(seed), {"a1": 0, "a2": 0}, messages)
    return store


def _pending(store: SqliteStore) -> int:
    return int(store.db.execute(
        "SELECT COUNT(*) FROM transitions WHERE pending IS NOT NULL").fetchone()[0])


def _frames(store: SqliteStore, windows: list[tuple[float, float]]) -> list[object]:
    out: list[object] = []
    for since, until in windows:
        frame = store.transitions(DESKS + ["d4", "d1"], since, until)  # d1 twice
        out.append((frame.desks, frame.desk_index.tolist(), frame.at.tolist(),
                    frame.state.tolist()))
    out.append(rollup_scan.first_events(store, DESKS + ["d4"]))
    return out


def test_pending_transitions_read_exactly_as_indexed_ones(tmp_path: Path) -> None:
    rng = random.Random(7)
    windows = [(T0 + rng.uniform(-50, 900), 0.0) for _ in range(25)]
    windows = [(since, since + rng.uniform(1, 400)) for since, _ in windows]
    store = SqliteStore(tmp_path / "hub.db")
    store.import_building(building())
    seqs = {"a1": 0, "a2": 0}
    _ingest(store, rng, seqs, 30)
    transition_index.settle_all(store)
    _ingest(store, rng, seqs, 30)  # these stay pending: half the rows, mixed in time
    assert 0 < _pending(store) < store.db.execute("SELECT COUNT(*) FROM transitions"
                                                  ).fetchone()[0]
    mixed = _frames(store, windows)
    assert transition_index.settle_all(store) > 0 and _pending(store) == 0
    assert _frames(store, windows) == mixed
    store.close()


def test_settling_goes_in_slices_oldest_first(tmp_path: Path) -> None:
    store = _ingested(tmp_path / "hub.db", 1, 40)
    pending = _pending(store)
    assert transition_index.settle(store, limit=10) == 10
    oldest_left = store.db.execute(
        "SELECT MIN(id) FROM transitions WHERE pending IS NOT NULL").fetchone()[0]
    indexed = [r[0] for r in store.db.execute(
        "SELECT id FROM transitions WHERE pending IS NULL ORDER BY id")]
    assert len(indexed) == 10 and max(indexed) < oldest_left
    assert transition_index.settle_all(store) == pending - 10
    store.close()


def test_the_reads_use_the_indexes_not_a_scan(tmp_path: Path) -> None:
    """A reader query without ``pending IS NULL`` would scan the whole table: the plans
    name the partial index for the indexed part and the pending index for the rest."""
    store = SqliteStore(tmp_path / "hub.db")
    plans = {}
    for name, sql in {
        "before": "SELECT id FROM transitions WHERE desk = ? AND at < ? AND pending IS NULL "
                  "ORDER BY at DESC, id DESC LIMIT 1",
        "inside": "SELECT id FROM transitions t WHERE t.desk = ? AND t.at >= ? AND t.at < ? "
                  "AND t.pending IS NULL",
        "pending": "SELECT t.desk FROM transitions t WHERE t.pending IS NOT NULL "
                   "AND t.desk IN (SELECT value FROM json_each(?))",
    }.items():
        params = {"before": ["d1", 1.0], "inside": ["d1", 0.0, 1.0], "pending": ['["d1"]']}
        plans[name] = " ".join(str(row[-1]) for row in store.db.execute(
            "EXPLAIN QUERY PLAN " + sql, params[name]))
    assert "USING INDEX transitions_desk_at" in plans["before"]
    assert "USING INDEX transitions_desk_at" in plans["inside"]
    assert "USING INDEX transitions_pending" in plans["pending"]
    store.close()


def test_rollups_from_pending_rows_equal_those_from_indexed_rows(tmp_path: Path) -> None:
    from hub.reports.rollup import refresh_rollups

    pending, indexed = (_ingested(tmp_path / f"{name}.db", 3, 20) for name in ("p", "i"))
    transition_index.settle_all(indexed)
    assert _pending(pending) > 0 and _pending(indexed) == 0
    tables = []
    for store in (pending, indexed):
        refresh_rollups(store, T0 + 2000, 900)
        tables.append(store.db.execute(
            "SELECT desk, bin_start, occupied_s, unknown_s, span_s FROM rollups "
            "ORDER BY desk, bin_start").fetchall())
        store.close()
    assert tables[0] == tables[1] and len(tables[0]) > 0


def test_the_indexing_job_settles_whatever_the_rollup_interval(tmp_path: Path) -> None:
    store = _ingested(tmp_path / "hub.db", 4, 20)
    pending = _pending(store)
    job = transition_index.IndexingJob(store, interval=0.05)
    job.start()
    try:
        deadline = time.monotonic() + 10
        while _pending(store) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        job.stop()
    assert pending > 0 and _pending(store) == 0
    store.close()
