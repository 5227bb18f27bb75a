"""The transitions behind a short report's walk-ins, kept in memory and advanced by row id.

A utilisation report of up to a week (hub/reports/people.py) needs the occupied intervals
of every desk: walk-ins are the occupied time of desks without a check-in. The day
figures themselves come from stored or live day summaries in well under a millisecond,
but reading a 10,000-desk day's transitions again (about 32,000 rows plus the one before
the window per desk) took ~50 ms of every "today" report, most of its cost (issue 23).

So on SQLite each process keeps, per (database, window start, desk list), the rows that
:meth:`hub.db.sqlite.store.SqliteStore.transitions` would return for any end (every row at or after
the start, and per desk the last row before it) together with the highest row id seen.
A later request reads only the rows with a higher id (``WHERE id > ?``: a primary-key
range, empty or tiny between refreshes) and folds them in, then derives the intervals
up to its own end with the same kernel as before. Why row ids suffice on SQLite: one
writer at a time, so rows become visible in id order; the ids only grow (retention
deletes old rows but keeps each desk's newest, so the largest id is never reused); and
no row is ever updated except its ``pending`` index flag, which does not change it. The
one deletion that can reach a cached window is retention: an entry is only used for
windows starting within :data:`MAX_AGE` of now, far inside any retention period.
PostgreSQL (several writers, ids not committed in order) reads the transitions as before.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hub.db import transition_index
from hub.db.protocol import Store
from hub.metrics.kernel import FloatArray, IntArray

ENTRIES = 8  # windows held per process (a 10,000-desk day is about 1 MB)
MAX_AGE = 8 * 86_400.0  # seconds: only windows starting this recently are cached
_STATE = "CASE state WHEN 'vacant' THEN 0 WHEN 'occupied' THEN 1 ELSE 2 END"


@dataclass
class _Entry:
    position: dict[str, int]  # desk id -> index into the desk list
    desk: IntArray  # rows at or after the start
    at: FloatArray
    state: IntArray
    row_id: IntArray
    before: dict[int, tuple[float, int, int]]  # desk index -> (at, state, id) before start
    last_id: int
    # Both parts merged and sorted by (desk, at, id), with a mark on the rows before the
    # start; made again only after new rows came in (:func:`_advance` drops it).
    merged: tuple[IntArray, FloatArray, IntArray, npt.NDArray[np.bool_]] | None = None


_CACHE: OrderedDict[tuple[str, float, str], _Entry] = OrderedDict()
_LOCK = threading.Lock()


def transitions(
    store: Store, desks: list[str], since: float, until: float
) -> tuple[IntArray, FloatArray, IntArray]:
    """(desk index, at, state code) as ``store.transitions(desks, since, until)`` gives
    them, sorted by (desk, at, id); from the cache where it applies."""
    if (store.dialect != "sqlite" or since < time.time() - MAX_AGE
            or len(set(desks)) != len(desks)):
        tf = store.transitions(desks, since, until)
        return tf.desk_index, tf.at, tf.state.astype(np.int64)
    key = (str(store.path), float(since), hashlib.sha256("\n".join(desks).encode()).hexdigest())
    with _LOCK:  # one request at a time per process brings an entry up to date
        entry = _CACHE.get(key)
        if entry is None:
            entry = _build(store, desks, since)
        else:
            _CACHE.move_to_end(key)
            _advance(store, entry, since)
        _CACHE[key] = entry
        while len(_CACHE) > ENTRIES:
            _CACHE.popitem(last=False)
        if entry.merged is None:
            entry.merged = _merge(entry)
        d, at, state, early = entry.merged
    keep = early | (at < until)
    return d[keep], at[keep], state[keep]


def _merge(entry: _Entry) -> tuple[IntArray, FloatArray, IntArray, npt.NDArray[np.bool_]]:
    before = sorted(entry.before.items())
    d = np.concatenate([np.array([k for k, _ in before], dtype=np.int64), entry.desk])
    at = np.concatenate([np.array([v[0] for _, v in before]), entry.at])
    state = np.concatenate([np.array([v[1] for _, v in before], dtype=np.int64), entry.state])
    row_id = np.concatenate([np.array([v[2] for _, v in before], dtype=np.int64),
                             entry.row_id])
    early = np.zeros(len(d), dtype=bool)
    early[:len(before)] = True
    order = np.lexsort((row_id, at, d))
    return d[order], at[order], state[order], early[order]


def _build(store: Store, desks: list[str], since: float) -> _Entry:
    """Read the window's rows as :meth:`hub.db.sqlite.store.SqliteStore.transitions` does (indexed
    and pending rows apart), but with their ids and up to the newest id only."""
    (last_id,) = store.db.execute("SELECT COALESCE(MAX(id), 0) FROM transitions").fetchone()
    code = _STATE.replace("state", "t.state")
    params = [json.dumps(desks), since, last_id]
    rows = store.db.execute(
        f"SELECT j.key, t.at, {code}, t.id FROM json_each(?) j "  # noqa: S608 - constant SQL
        "JOIN transitions t ON t.desk = j.value AND t.at >= ? AND t.id <= ? "
        "AND t.pending IS NULL", params).fetchall()
    before_rows = store.db.execute(
        f"SELECT j.key, t.at, {code}, t.id FROM json_each(?) j "  # noqa: S608 - constant SQL
        "JOIN transitions t ON t.id = (SELECT id FROM transitions WHERE desk = j.value "
        "AND at < ? AND id <= ? AND pending IS NULL ORDER BY at DESC, id DESC LIMIT 1)",
        params).fetchall()
    position = {d: i for i, d in enumerate(desks)}
    before = {int(k): (float(a), int(s), int(i)) for k, a, s, i in before_rows}
    for desk, at, state, row_id in transition_index.pending_by_desk(
            store.db, f"t.at, {code}, t.id", desks, "t.id <= ?", [last_id]):
        k = position[desk]
        if at >= since:
            rows.append((k, at, state, row_id))
        elif (old := before.get(k)) is None or (at, row_id) > (old[0], old[2]):
            before[k] = (at, state, row_id)
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return _Entry(position=position, desk=table[:, 0].astype(np.int64), at=table[:, 1].copy(),
                  state=table[:, 2].astype(np.int64), row_id=table[:, 3].astype(np.int64),
                  before=before, last_id=int(last_id))


def _advance(store: Store, entry: _Entry, since: float) -> None:
    """Fold in the rows written since the entry's last read."""
    rows = store.db.execute(
        f"SELECT desk, at, {_STATE}, id FROM transitions WHERE id > ? ORDER BY id",  # noqa: S608
        [entry.last_id]).fetchall()
    if not rows:
        return
    new: list[tuple[int, float, int, int]] = []
    for desk, at, state, row_id in rows:
        k = entry.position.get(desk)
        if k is None:
            continue
        if at >= since:
            new.append((k, at, state, row_id))
        elif (old := entry.before.get(k)) is None or (at, row_id) > (old[0], old[2]):
            entry.before[k] = (at, state, row_id)
            entry.merged = None
    entry.last_id = int(rows[-1][3])
    if new:
        entry.merged = None
        table = np.array(new, dtype=np.float64)
        entry.desk = np.concatenate([entry.desk, table[:, 0].astype(np.int64)])
        entry.at = np.concatenate([entry.at, table[:, 1]])
        entry.state = np.concatenate([entry.state, table[:, 2].astype(np.int64)])
        entry.row_id = np.concatenate([entry.row_id, table[:, 3].astype(np.int64)])


def clear() -> None:
    with _LOCK:
        _CACHE.clear()
