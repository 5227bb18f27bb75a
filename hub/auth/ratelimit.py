"""A sliding-window rate limit kept in the hub database, so it holds across hub processes.

Each allowed action is one row ``(key, at)``; the count and the insert happen in one
``BEGIN IMMEDIATE`` transaction (on PostgreSQL: under a per-key advisory lock,
hub/db/compat.py), so two processes cannot both take the last slot.
Rows older than the window are deleted as new ones arrive.
"""

from __future__ import annotations

import time

from hub.db.compat import is_postgres, take_turn
from hub.db.protocol import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_events (
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_events_key_at ON rate_events (key, at);
"""


def ensure_schema(store: Store) -> None:
    """Create the table if missing (idempotent, safe from several processes); on
    PostgreSQL it comes with the store's migrations (hub/db/postgres/migrations.py)."""
    if not is_postgres(store.db):
        store.db.executescript(_SCHEMA)


def take(
    store: Store, key: str, *, limit: int, window: float, now: float | None = None
) -> float | None:
    """Record one action for ``key`` if fewer than ``limit`` happened in the last ``window``
    seconds and return None; otherwise record nothing and return the seconds to wait."""
    at = time.time() if now is None else now
    since = at - window
    with store.transaction() as db:
        take_turn(db, f"rate:{key}")
        db.execute("DELETE FROM rate_events WHERE key = ? AND at <= ?", [key, since])
        rows = db.execute(
            "SELECT at FROM rate_events WHERE key = ? AND at > ? ORDER BY at LIMIT ?",
            [key, since, limit],
        ).fetchall()
        if len(rows) >= limit:
            return max(float(rows[0][0]) + window - at, 0.0)
        db.execute("INSERT INTO rate_events (key, at) VALUES (?, ?)", [key, at])
    return None
