"""The data inventory agrees with the live schema, and docs/privacy.md with the inventory."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from hub.cli import main
from hub.db.sqlite.store import SqliteStore
from hub.privacy import docs, inventory

ROOT = Path(__file__).resolve().parents[2]


def test_inventory_matches_live_schema(store: SqliteStore) -> None:
    """Every person-referencing column of a freshly migrated database is declared."""
    assert inventory.schema_problems(store.db.conn) == []
    schema = inventory.live_schema(store.db.conn)
    assert {"users", "checkins", "sessions", "audit_log"} <= set(schema)


def test_an_undeclared_person_table_is_caught(store: SqliteStore) -> None:
    store.db.execute("CREATE TABLE parking (id INTEGER PRIMARY KEY, employee_id INTEGER)")
    store.db.execute("ALTER TABLE desks ADD COLUMN assigned_to INTEGER")
    problems = inventory.schema_problems(store.db.conn)
    assert any("parking.employee_id" in p for p in problems)
    assert any("desks.assigned_to" in p for p in problems)


def test_a_new_column_of_a_personal_table_is_caught(store: SqliteStore) -> None:
    """Even a column with an innocent name: the export and deletion must know it."""
    store.db.execute("ALTER TABLE users ADD COLUMN shoe_size INTEGER")
    assert inventory.schema_problems(store.db.conn) == [
        "personal table users has undeclared column shoe_size"]


def test_declarations_of_missing_tables_and_columns_are_caught(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = inventory.table("users")
    ghost = dataclasses.replace(users, name="ghosts")
    extra = dataclasses.replace(users, columns=(*users.columns, inventory.Column("x", "?")))
    monkeypatch.setattr(inventory, "INVENTORY", (extra, ghost))
    problems = inventory.schema_problems(store.db.conn)
    assert "inventory names table 'ghosts', which does not exist" in problems
    assert "inventory names column users.x, which does not exist" in problems
    assert any("checkins.person_id" in p for p in problems)  # no longer declared


def test_person_reference_pattern() -> None:
    for name in ("user_id", "person_id", "username", "email", "name", "owner", "actor_id"):
        assert inventory.PERSON_REFERENCE.search(name), name
    for name in ("desk", "site", "state", "created", "bin_start", "renamed_at"):
        assert not inventory.PERSON_REFERENCE.search(name), name


def test_every_personal_table_says_how_rows_are_found_or_why_not() -> None:
    for entry in inventory.INVENTORY:
        assert entry.purpose and entry.legal_basis and entry.retention and entry.readers
        if entry.link is None:
            assert entry.on_delete == "unlinked" and entry.retain_reason, entry.name
        if entry.on_delete == "retain":
            assert entry.retain_reason, entry.name


def test_docs_are_generated_from_the_inventory(tmp_path: Path) -> None:
    out = tmp_path / "privacy.md"
    assert main(["hub", "privacy", "docs", "--out", str(out)]) == 0
    assert out.read_text() == docs.render()
    committed = docs.DOC_PATH.read_text()
    assert committed == docs.render(), "run `deskpulse hub privacy docs` and commit the result"
    for entry in inventory.INVENTORY:
        assert f"## `{entry.name}`" in committed


def test_every_named_proof_exists() -> None:
    for item, test in docs.PROOFS:
        path, _, function = test.partition("::")
        source = (ROOT / path).read_text()
        assert not function or f"def {function}(" in source, (item, test)


def test_schema_reader_sees_plain_sqlite(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "plain.db")
    conn.execute("CREATE TABLE t (a, user_id)")
    assert inventory.live_schema(conn) == {"t": ["a", "user_id"]}
    conn.close()
