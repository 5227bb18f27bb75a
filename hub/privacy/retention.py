"""Retention: nothing is kept longer than its configured window (PRIVACY.md 12).

A thread (started by ``hub.server.HubServer``) runs :meth:`RetentionJobs.tick` every
``retention_interval`` seconds and deletes identified check-ins, raw transitions, message
keys, dead letters and audit entries older than their window, plus expired sessions. Each pass notes
when it ran and what it removed (meta row ``retention_last_run``, shown on /admin/privacy).

- Open check-ins are never purged; a finished one counts from its end.
- Per desk, the newest transition before the cutoff is kept (it says what state the desk
  was in at the cutoff), and transitions of bins not yet rolled up are kept.
- Audit entries go from the start of the chain, which stays verifiable (hub.privacy.audit).
- Message keys ``(agent, boot, seq)`` (not personal: they only recognise a redelivered
  message) go after ``retention_messages_days``, except each boot's newest.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from hub.config import HubSettings
from hub.db import transition_index
from hub.db.protocol import Store
from hub.periodic import PeriodicJob
from hub.privacy import audit

log = logging.getLogger(__name__)
DAY = 86400.0
LAST_RUN_KEY = "retention_last_run"  # meta row: JSON {"at": time, "removed": {table: rows}}


def purge_checkins(db: Database, cutoff: float) -> int:
    cursor = db.execute('DELETE FROM checkins WHERE "end" IS NOT NULL AND "end" < ?', [cutoff])
    return max(cursor.rowcount, 0)


def purge_transitions(db: Database, cutoff: float) -> int:
    """Transitions before ``cutoff``, but each desk's last one before it. Call with every
    transition indexed (hub/db/transition_index.py, ``settle_all``): the lookups below read
    the index only."""
    dirty = db.execute("SELECT MIN(from_at) FROM dirty").fetchone()
    if dirty is not None and dirty[0] is not None:
        cutoff = min(cutoff, float(dirty[0]))
    cursor = db.execute(
        "DELETE FROM transitions WHERE at < :cut AND pending IS NULL AND id NOT IN ("
        " SELECT (SELECT t.id FROM transitions t WHERE t.desk = d.desk AND t.at < :cut"
        "  AND t.pending IS NULL ORDER BY t.at DESC, t.id DESC LIMIT 1)"
        " FROM (SELECT DISTINCT desk FROM transitions WHERE pending IS NULL) d)",
        {"cut": cutoff},
    )
    return max(cursor.rowcount, 0)


def purge_message_keys(store: Store, cutoff: float, chunk: int = 20_000) -> int:
    """Drop the dedup keys of messages received before ``cutoff``, except each (agent,
    boot)'s newest, which gap and late counting compare with. In transactions of ``chunk``
    keys, so a first purge of a long history does not hold ingest up for long."""
    removed = 0
    while True:
        with store.transaction() as db:
            cursor = db.execute(
                "DELETE FROM messages WHERE (agent, boot, seq) IN ("
                " SELECT m.agent, m.boot, m.seq FROM messages m WHERE m.received < ?"
                " AND m.seq < (SELECT MAX(n.seq) FROM messages n"
                "  WHERE n.agent = m.agent AND n.boot = m.boot) LIMIT ?)", [cutoff, chunk])
            count = max(cursor.rowcount, 0)
        removed += count
        if count < chunk:
            return removed


def purge_dead_letters(db: Database, cutoff: float) -> int:
    return max(db.execute("DELETE FROM dead_letters WHERE received < ?", [cutoff]).rowcount, 0)


def purge_sessions(db: Database, now: float) -> int:
    return max(db.execute("DELETE FROM sessions WHERE expires <= ?", [now]).rowcount, 0)


def run(store: Store, settings: HubSettings, now: float) -> dict[str, int]:
    """One pass over every retention window; the counts of rows removed."""
    transition_index.settle_all(store)  # pending rows are never purged; index them first
    with store.transaction() as db:
        counts = {
            "checkins": purge_checkins(db, now - settings.retention_checkins_days * DAY),
            "transitions": purge_transitions(
                db, now - settings.retention_transitions_days * DAY),
            "dead_letters": purge_dead_letters(
                db, now - settings.retention_dead_letters_days * DAY),
            "audit_log": audit.purge_before(db, now - settings.retention_audit_days * DAY),
            "sessions": purge_sessions(db, now),
        }
    counts["messages"] = purge_message_keys(store, now - settings.retention_messages_days * DAY)
    with store.transaction() as db:
        db.execute("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) "
                   "DO UPDATE SET value = excluded.value",
                   [LAST_RUN_KEY, json.dumps({"at": now, "removed": counts})])
    if any(counts.values()):
        log.info("retention purged %s", ", ".join(f"{k}={v}" for k, v in counts.items() if v))
    return counts


def last_run(db: Database) -> dict[str, Any] | None:
    """When retention last ran and what it removed (shown on /admin/privacy); None if never."""
    row = db.execute("SELECT value FROM meta WHERE name = ?", [LAST_RUN_KEY]).fetchone()
    if row is None:
        return None
    try:
        value = json.loads(row[0])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class RetentionJobs(PeriodicJob):
    """A thread that runs :func:`run` every ``retention_interval`` seconds until stopped."""

    thread_name = "retention"
    failure = "retention pass failed"

    def __init__(
        self,
        settings: HubSettings,
        store: Store,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings.retention_interval if interval is None else interval)
        self.settings = settings
        self.store = store
        self.clock = clock

    def tick(self) -> dict[str, int]:
        return run(self.store, self.settings, self.clock())

