"""PRIVACY.md 13: the audit trail is append-only and hash-chained; tampering is detected."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hub.auth.accounts import Principal
from hub.cli import main
from hub.config import HubSettings
from hub.db.compat import DatabaseError
from hub.db.postgres.connection import PgDb
from hub.db.sqlite.store import SqliteStore
from hub.privacy import audit
from tests.support.web import SECRET

ADMIN = Principal(kind="session", name="root", role="admin", user_id=99)


def _fill(store: SqliteStore, count: int, *, start: float = 1000.0) -> None:
    with store.transaction() as db:
        for i in range(count):
            audit.append(db, ADMIN, "read", f"subject-{i % 2}", f"read entry {i}",
                         now=start + i)


class _RawPg(PgDb):
    def close(self) -> None:
        self.raw.close()


def _raw(settings: HubSettings) -> Any:
    """What an attacker with the database can do: switch the trigger off and edit rows."""
    if settings.database_url is not None:
        conn = _RawPg(psycopg.connect(settings.database_url, autocommit=True))
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        return conn
    raw = sqlite3.connect(settings.database_path, isolation_level=None)
    raw.execute("DROP TRIGGER audit_log_no_update")
    return raw


def test_chain_verifies(store: SqliteStore) -> None:
    assert audit.verify(store.db) == audit.Verdict(True, 0)
    _fill(store, 5)
    assert audit.verify(store.db) == audit.Verdict(True, 5)
    assert [e["detail"] for e in audit.about(store.db, "subject-1")] == [
        "read entry 1", "read entry 3"]


def test_updates_are_refused(store: SqliteStore) -> None:
    _fill(store, 2)
    with pytest.raises(DatabaseError, match="append-only"):
        store.db.execute("UPDATE audit_log SET actor = 'someone else' WHERE id = 1")


@pytest.mark.parametrize(("sql", "problem"), [
    ("UPDATE audit_log SET actor = 'nobody' WHERE id = 3", "entry 3 was changed"),
    ("DELETE FROM audit_log WHERE id = 2", "entries missing before id 3"),
    ("DELETE FROM audit_log WHERE id = 1", "entries missing before id 2"),
    ("UPDATE audit_log SET hash = 'f' || substr(hash, 2) WHERE id = 4",
     "entry 4 was changed"),
])
def test_verify_detects_tampering(
    store: SqliteStore, settings: HubSettings, tmp_path: Path, sql: str, problem: str
) -> None:
    _fill(store, 5)
    conn = _raw(settings)
    conn.execute(sql)
    conn.close()
    verdict = audit.verify(store.db)
    assert not verdict.ok and verdict.problem == problem
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{settings.data_dir}"\nsecret_key = "{SECRET}"\n'
                      + (f'database_url = "{settings.database_url}"\n'
                         if settings.database_url else ""))
    assert main(["hub", "privacy", "verify-audit", "--config", str(config)]) == 1


def test_rewriting_the_whole_tail_is_detected_after_the_edit(
    store: SqliteStore, settings: HubSettings
) -> None:
    """Recomputing one entry's hash still breaks the link to the next one."""
    _fill(store, 3)
    row = store.db.execute("SELECT * FROM audit_log WHERE id = 2").fetchone()
    conn = _raw(settings)
    fields = dict(zip([d[0] for d in conn.execute("SELECT * FROM audit_log").description],
                      row, strict=True))
    fields["detail"] = "nothing happened"
    forged = audit._entry_hash(fields["prev_hash"], audit._fields(fields))
    conn.execute("UPDATE audit_log SET detail = ?, hash = ? WHERE id = 2",
                 ["nothing happened", forged])
    conn.close()
    assert audit.verify(store.db).problem == "entry 3 does not follow the one before"


def test_purging_old_entries_keeps_the_chain_verifiable(
    store: SqliteStore, settings: HubSettings
) -> None:
    _fill(store, 6, start=1000.0)
    assert audit.purge_before(store.db, 1003.0) == 3
    assert audit.verify(store.db) == audit.Verdict(True, 3)
    with store.transaction() as db:
        audit.append(db, ADMIN, "read", "subject-0", "after the purge", now=2000.0)
    assert audit.verify(store.db) == audit.Verdict(True, 4)
    conn = _raw(settings)
    conn.execute("DELETE FROM audit_log WHERE id = 4")  # the oldest kept entry
    conn.close()
    assert audit.verify(store.db).problem == "entries missing before id 5"
