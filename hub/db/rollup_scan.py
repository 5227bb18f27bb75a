"""The rollup refresh's reads, one slice of desks at a time (portable SQL, both engines).

Why slices: a refresh used to read and rewrite every seen desk in one write transaction;
with 16,000 desks that held the database's write lock for seconds while ingest waited.
Each slice here (desks ordered by id, after the last one done) is read, computed and
written in a transaction of its own, so ingest never waits for more than one slice.

- :func:`dirty_slice`: desks with a dirty mark (new or late events). On PostgreSQL the
  marks read are locked (``FOR UPDATE``) until the slice commits, so an event that
  arrives meanwhile waits and then leaves a fresh mark instead of being cleared unrolled.
- :func:`idle_slice`: the other seen desks, with their newest rollup row and live state:
  enough to extend their bins up to now without reading any transition.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from hub.db import transition_index
from hub.db.protocol import Store

DirtyRow = tuple[str, float | None, float]  # desk, newest rollup bin, dirty from
# desk, state, newest event time, newest rollup bin, its occupied, unknown and span seconds
IdleRow = tuple[str, str, float, float | None, float | None, float | None, float | None]


def _site_filter(column: str, sites: Sequence[str] | None) -> tuple[str, list[str]]:
    if sites is None:
        return "", []
    return (f" AND {column} IN (SELECT id FROM desks WHERE site IN "
            "(SELECT value FROM json_each(?)))", [json.dumps(list(sites))])


def dirty_slice(
    store: Store, sites: Sequence[str] | None, after: str, limit: int
) -> list[DirtyRow]:
    """Up to ``limit`` dirty desks with ids after ``after``; call inside the transaction
    that also writes their rollups and clears their marks."""
    where, params = _site_filter("x.desk", sites)
    lock = " FOR UPDATE" if store.dialect == "postgresql" else ""
    marks = store.db.execute(
        f"SELECT x.desk, x.from_at FROM dirty x WHERE x.desk > ?{where} "  # noqa: S608
        f"ORDER BY x.desk LIMIT ?{lock}", [after, *params, limit],
    ).fetchall()
    if not marks:
        return []
    tips = dict(store.db.execute(
        "SELECT j.value, (SELECT MAX(bin_start) FROM rollups r WHERE r.desk = j.value) "
        "FROM json_each(?) j", [json.dumps([m[0] for m in marks])],
    ).fetchall())
    return [(str(desk), tips.get(desk), float(at)) for desk, at in marks]


def idle_slice(
    store: Store, sites: Sequence[str] | None, after: str, limit: int
) -> list[IdleRow]:
    """Up to ``limit`` seen desks without a dirty mark, ids after ``after``."""
    where, params = _site_filter("s.desk", sites)
    rows = store.db.execute(
        "SELECT s.desk, s.state, s.last_at, r.bin_start, r.occupied_s, r.unknown_s, r.span_s "
        "FROM desk_state s LEFT JOIN rollups r ON r.desk = s.desk AND r.bin_start = "
        "(SELECT MAX(bin_start) FROM rollups x WHERE x.desk = s.desk) "
        f"WHERE s.desk > ? AND s.desk NOT IN (SELECT desk FROM dirty){where} "  # noqa: S608
        "ORDER BY s.desk LIMIT ?", [after, *params, limit],
    ).fetchall()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def first_events(store: Store, desks: Sequence[str]) -> dict[str, float | None]:
    """Each desk's first transition time (for a seen desk that has no rollup yet)."""
    first: dict[str, float | None] = dict(store.db.execute(
        "SELECT j.value, (SELECT MIN(at) FROM transitions t WHERE t.desk = j.value "
        "AND t.pending IS NULL) FROM json_each(?) j", [json.dumps(list(desks))],
    ).fetchall())
    for desk, at in transition_index.pending_by_desk(store.db, "t.at", desks, "", []):
        if first.get(desk) is None or at < first[desk]:
            first[desk] = at  # a pending transition (hub/db/transition_index.py) came first
    return first
