"""The hub's fast ingest path gives exactly the answers of the plain one.

hub/db/sqlite/apply_set.py must leave every table as hub/db/apply.py's message-by-message
apply does, for batches mixing duplicates, gaps, late and out-of-order messages,
last-wills, clock skew, unknown desks and agents speaking for the wrong site.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from hub.db import apply as rules
from hub.db.apply import ClockPolicy, Incoming
from hub.db.sqlite import apply_set
from hub.db.sqlite.store import SqliteStore
from tests.hub.batches import BUILDING, TABLES, _random_batch

# -- set-wise apply ----------------------------------------------------------------------





def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(
            f"SELECT {columns} FROM {table} ORDER BY 1, 2"  # noqa: S608 - fixed names
        ).fetchall() for table, columns in TABLES.items()}
    finally:
        conn.close()


def _assert_same_tables(tmp_path: Path) -> None:
    """set.db holds what plain.db holds; and every gap was counted for its agent too (the
    random seqs jump now and then)."""
    tables = _dump(tmp_path / "set.db")
    assert tables == _dump(tmp_path / "plain.db")
    per_agent = sum(int(row[-1]) for row in tables["agents"])
    assert per_agent == dict(tables["counters"]).get("gaps", 0) > 0


@pytest.mark.parametrize("seed", range(12))
def test_set_wise_apply_leaves_the_tables_as_the_plain_apply(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    policy = ClockPolicy(120.0, "reject" if seed % 3 == 0 else "correct")
    stores = {name: SqliteStore(tmp_path / f"{name}.db") for name in ("plain", "set")}
    for store in stores.values():
        store.import_building(BUILDING)
        with store.transaction() as db:  # a4 may only speak for s2
            db.conn.execute("INSERT INTO provisioned_agents (name, site, created) "
                            "VALUES ('a4', 's2', 0)")
    sent: list[Incoming] = []
    for _ in range(15):
        batch = _random_batch(rng, sent)
        with stores["plain"].transaction() as db:
            plain = rules.apply_batch(db.conn, batch, policy)
        with stores["set"].transaction() as db:
            fast = apply_set.apply_batch(db.conn, batch, policy)
        assert fast == plain
    for store in stores.values():
        store.close()
    _assert_same_tables(tmp_path)



# Edits another connection makes between batches, each applied to both stores: the cached
# set-wise path must notice every one of them (a desk given to another agent or removed
# from it, an agent provisioned for the other site) and must not be fooled by commits
# that touch none of what it caches (a rollup's dirty marks being cleared).
EDITS = [
    "UPDATE desks SET agent = 'a2' WHERE id = 's1-d0'",
    "UPDATE desks SET agent = NULL WHERE id = 's1-d1'",
    "INSERT INTO provisioned_agents (name, site, created) VALUES ('a5', 's2', 0)",
    "UPDATE provisioned_agents SET site = 's1' WHERE name = 'a4'",
    "UPDATE agents SET site = 's2' WHERE id = 'a3'",
    "DELETE FROM dirty",
    "UPDATE desks SET agent = 'a1' WHERE id = 's1-d0'",
]


@pytest.mark.parametrize("seed", range(6))
def test_cached_set_wise_apply_sees_every_edit_made_by_another_connection(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(100 + seed)
    policy = ClockPolicy(120.0, "correct")
    stores = {name: SqliteStore(tmp_path / f"{name}.db") for name in ("plain", "set")}
    for store in stores.values():
        store.import_building(BUILDING)
        with store.transaction() as db:
            db.conn.execute("INSERT INTO provisioned_agents (name, site, created) "
                            "VALUES ('a4', 's2', 0)")
    sent: list[Incoming] = []
    edits = iter(EDITS)
    for step in range(20):
        batch = _random_batch(rng, sent)
        with stores["plain"].transaction() as db:
            plain = rules.apply_batch(db.conn, batch, policy)
        fast = stores["set"].apply(batch, policy)  # the store's cached path
        assert fast == plain, f"step {step}"
        if step % 3 == 1 and (edit := next(edits, None)) is not None:
            for name in stores:
                other = sqlite3.connect(tmp_path / f"{name}.db")
                with other:
                    other.execute(edit)
                other.close()
    for store in stores.values():
        store.close()
    _assert_same_tables(tmp_path)
