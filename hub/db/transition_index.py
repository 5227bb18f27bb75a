"""Transitions are indexed by ``(desk, at)`` in bulk, not one by one as they arrive.

Why: every desk event lands on a random leaf page of the ``transitions (desk, at)`` index,
so a commit of a few thousand events rewrote most of that index into the WAL (and the
checkpoint wrote it again): about half of the ingest writer's time (docs/operations.md,
"Throughput"). Instead, the SQLite ingest path (hub/db/sqlite/apply_set.py) writes its rows with
``pending = 1``, which keeps them out of the partial index ``transitions_desk_at`` (``WHERE
pending IS NULL``) and in the small ``transitions_pending`` one, whose keys only ever grow.
:func:`settle` moves the pending rows into the main index in one statement, a few thousand
events per page write instead of one. The process that writes pending rows runs
:class:`IndexingJob` every few seconds, so the pending part stays small.

Correctness never waits for :func:`settle`: every reader of transitions by desk reads both
parts (:func:`pending_by_desk`), so a pending row counts from the moment it is committed. Rows
written elsewhere (the per-message path, last wills, PostgreSQL) are never pending.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from hub.db.protocol import Store
from hub.periodic import PeriodicJob

SETTLE_SECONDS = 5.0  # how often IndexingJob runs
# How many pending rows one settling transaction indexes: the ingest writer waits for at
# most one of them (a few hundred milliseconds at this size).
SETTLE_ROWS = 50_000


def settle(store: Store, limit: int = SETTLE_ROWS) -> int:
    """Index the oldest pending transitions, at most ``limit`` of them, in a transaction of
    their own; how many. Call until it returns less than ``limit`` to index them all."""
    with store.transaction() as db:
        cursor = db.execute(
            "UPDATE transitions SET pending = NULL WHERE id IN ("
            "SELECT id FROM transitions WHERE pending IS NOT NULL ORDER BY id LIMIT ?)",
            [limit])
        return max(cursor.rowcount, 0)


def settle_all(store: Store) -> int:
    """:func:`settle` until nothing is pending; the rows indexed."""
    total = 0
    while True:
        done = settle(store)
        total += done
        if done < SETTLE_ROWS:
            return total


def pending_by_desk(db: Database, columns: str, desks: Sequence[str], where: str,
            params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``SELECT t.desk, <columns>`` of the *pending* transitions of ``desks`` matching
    ``where`` (on ``t``). The indexed part is each caller's own query with ``t.pending IS
    NULL``: this one scans the pending rows, which stay few, by their own index."""
    return [tuple(row) for row in db.execute(
        f"SELECT t.desk, {columns} FROM transitions t "  # noqa: S608 - the callers' fixed SQL
        "WHERE t.pending IS NOT NULL AND t.desk IN (SELECT value FROM json_each(?))"
        f"{' AND ' + where if where else ''}", [json.dumps(list(desks)), *params],
    ).fetchall()]


class IndexingJob(PeriodicJob):
    """A thread that indexes pending transitions every ``interval`` seconds.

    Run by the processes whose ingest writes pending rows (SQLite, roles ``all`` and
    ``ingest``), whatever the rollup interval: until indexed, every read by desk scans
    the pending rows."""

    thread_name = "transition-index"
    failure = "indexing the pending transitions failed"
    tick_first = False

    def __init__(self, store: Store, interval: float = SETTLE_SECONDS) -> None:
        super().__init__(interval)
        self.store = store

    def tick(self) -> int:
        return settle_all(self.store)
