"""hub/reports/occupied_cache.py against the store's own read: after every batch of new events
(in order, late, before the window, pending or indexed) the cached rows give exactly the
transitions :meth:`hub.db.sqlite.store.SqliteStore.transitions` reads, for any end of the window."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.protocol import DeskEvent, DesksMessage, parse_topic, topic_for
from hub.db import transition_index
from hub.db.sqlite.store import Incoming, SqliteStore
from hub.reports import occupied_cache

DESKS = [f"c{i}" for i in range(6)]


def building() -> dict[str, object]:
    zone = {"id": "z", "name": "Z", "desks": [{"id": d, "name": d, "agent": "ca"} for d in DESKS]}
    return {"sites": [{"id": "c", "name": "C", "timezone": "Europe/Berlin",
                       "floors": [{"id": "f", "name": "F", "level": 0, "zones": [zone]}]}]}


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "hub.db")
    s.import_building(building())
    occupied_cache.clear()
    return s


def send(store: SqliteStore, seq: int, events: list[tuple[str, Any, float]], now: float) -> None:
    topic = parse_topic(topic_for("c", "ca", "desks"))
    batch = tuple(DeskEvent(d, s, at) for d, s, at in sorted(events, key=lambda e: e[2]))
    store.apply([Incoming(topic, DesksMessage(agent="ca", boot=1, seq=seq, sent=now,
                                              events=batch), now)])


def check(store: SqliteStore, desks: list[str], since: float, untils: list[float]) -> None:
    for until in untils:
        got = occupied_cache.transitions(store, desks, since, until)
        tf = store.transitions(desks, since, until)
        want = (tf.desk_index, tf.at, tf.state.astype(np.int64))
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_cached_rows_follow_every_kind_of_new_event(store: SqliteStore) -> None:
    now = time.time()
    since = now - 6 * 3600
    ends = [since + 3600, now - 60, now + 1]
    send(store, 1, [(d, "vacant", since - 600 - i) for i, d in enumerate(DESKS)], now)
    send(store, 2, [("c0", "occupied", since + 100), ("c1", "occupied", since + 200)], now)
    check(store, DESKS, since, ends)
    assert len(occupied_cache._CACHE) == 1
    # In order, later than the cached rows; then indexed.
    send(store, 3, [("c0", "vacant", since + 4000), ("c2", "occupied", now - 300)], now)
    check(store, DESKS, since, ends)
    transition_index.settle_all(store)
    check(store, DESKS, since, ends)
    # Late: inside the window before cached rows, and before the window (a new "before").
    send(store, 4, [("c1", "unknown", since + 50), ("c3", "occupied", since - 10)], now)
    check(store, DESKS, since, ends)
    # Two events of one desk at one time: the one written last wins, as in the store.
    send(store, 5, [("c4", "occupied", since + 500)], now)
    send(store, 6, [("c4", "vacant", since + 500)], now)
    check(store, DESKS, since, ends)
    # Another desk list (a subset) is its own entry, with its own indices.
    check(store, DESKS[2:5], since, ends)
    assert len(occupied_cache._CACHE) == 2


def test_old_windows_and_repeated_desks_read_the_store(store: SqliteStore) -> None:
    now = time.time()
    since = now - 30 * 86_400
    send(store, 1, [("c0", "occupied", now - 100)], now)
    check(store, DESKS, since, [now])
    check(store, ["c0", "c0"], now - 3600, [now])
    assert not occupied_cache._CACHE
