"""The PostgreSQL set-wise apply (hub/db/postgres/apply_set.py) must leave every table exactly as
hub/db/apply.py's message-by-message path does, alone and beside other workers."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence

import psycopg
import pytest

from edge import protocol as p
from hub.db.apply import ApplyResult, ClockPolicy, Incoming
from hub.db.postgres.store import PostgresStore
from hub.db.sqlite.store import StoreQueries
from tests.hub.batches import BUILDING, NOW, TABLES, _random_batch
from tests.pg import PostgresCluster


@pytest.fixture
def stores(postgres: PostgresCluster) -> Iterator[dict[str, PostgresStore]]:
    """Two databases with the same building: "plain" (per-message) and "set" (set-wise)."""
    opened = {name: PostgresStore(postgres.create_database()) for name in ("plain", "set")}
    for store in opened.values():
        store.import_building(BUILDING)
        with store.transaction() as db:  # a4 may only speak for s2
            db.conn.execute("INSERT INTO provisioned_agents (name, site, created) "
                            "VALUES ('a4', 's2', 0)")
    yield opened
    for store in opened.values():
        store.close()


def _plain(store: PostgresStore, batch: Sequence[Incoming], clock: ClockPolicy) -> ApplyResult:
    """The per-message path, in the order PostgresStore.apply gives it (grouped by agent)."""
    return StoreQueries.apply(store, sorted(batch, key=lambda item: item.topic.agent), clock)


def _dump(store: PostgresStore) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the compared tables, in a full order (not insertion order)."""
    with psycopg.connect(store.url) as conn:
        return {table: conn.execute(
            f"SELECT {columns} FROM {table} ORDER BY "  # noqa: S608 - fixed names
            + ", ".join(str(k + 1) for k in range(columns.count(",") + 1))
        ).fetchall() for table, columns in TABLES.items()}


def _desks(agent: str, boot: int, seq: int, *events: tuple[str, str, float]) -> Incoming:
    message = p.DesksMessage(agent, boot, seq, NOW + seq,
                             tuple(p.DeskEvent(d, state, at) for d, state, at in events))
    return Incoming(p.Topic("s1", agent, "desks"), message, NOW + 100 + seq)


def test_duplicates_reordering_gap_and_late_event(stores: dict[str, PostgresStore]) -> None:
    batches = [
        [_desks("a1", 1, 1, ("s1-d0", "occupied", NOW + 1)),
         _desks("a1", 1, 4, ("s1-d0", "vacant", NOW + 40), ("s1-d1", "occupied", NOW + 41)),
         _desks("a1", 1, 2, ("s1-d0", "vacant", NOW + 20)),  # late: d0 stays at seq 4's state
         _desks("a1", 1, 4, ("s1-d0", "vacant", NOW + 40), ("s1-d1", "occupied", NOW + 41)),
         _desks("a2", 1, 7, ("s1-d2", "occupied", NOW + 5))],
        [_desks("a1", 1, 1, ("s1-d0", "occupied", NOW + 1)),  # redelivered from batch one
         _desks("a1", 1, 3, ("s1-d0", "occupied", NOW + 30)),  # late, older than d0's state
         _desks("a1", 1, 6, ("s1-d0", "vacant", NOW + 60)),  # a gap (5 missing)
         _desks("a2", 1, 8, ("s1-d2", "occupied", NOW + 9))],  # same state: since is kept
    ]
    clock = ClockPolicy()
    for batch in batches:
        assert stores["set"].apply(batch, clock) == _plain(stores["plain"], batch, clock)
    dump = _dump(stores["set"])
    assert dump == _dump(stores["plain"])
    counters = dict(dump["counters"])
    assert (counters["messages"], counters["duplicates"], counters["gaps"],
            counters["late"]) == (7, 2, 2, 2)
    states = {row[0]: row[1:4] for row in dump["desk_state"]}
    assert states["s1-d0"] == ("vacant", NOW + 40, NOW + 106)  # since seq 4's event
    assert states["s1-d2"] == ("occupied", NOW + 5, NOW + 108)
    assert dict(dump["dirty"])["s1-d0"] == NOW + 1


@pytest.mark.parametrize("seed", range(6))
def test_random_batches_leave_the_tables_as_the_plain_apply(
    stores: dict[str, PostgresStore], seed: int
) -> None:
    """Status, health (clock skew), zones-free mixes, wrong sites and desks, redeliveries."""
    rng = random.Random(seed)
    clock = ClockPolicy(120.0, "reject" if seed % 3 == 0 else "correct")
    sent: list[Incoming] = []
    for _ in range(12):
        batch = _random_batch(rng, sent)
        assert stores["set"].apply(batch, clock) == _plain(stores["plain"], batch, clock)
    assert _dump(stores["set"]) == _dump(stores["plain"])


def test_concurrent_workers_store_each_message_once(stores: dict[str, PostgresStore]) -> None:
    """Three workers (threads, each its own connection) apply overlapping shares of the same
    messages at once, each in its own order: every message and event is stored once, and
    the live state is the newest event's, as one worker applying them would leave it."""
    rng = random.Random(7)
    messages = [_desks(agent, 1, seq, *[  # distinct times: the newest event is unambiguous
        (f"s1-d{rng.choice(desks)}", rng.choice(["occupied", "vacant"]),
         NOW + seq + shift + k / 100)
        for k in range(rng.randint(1, 3))])
        for seq in range(1, 121) for agent, desks, shift in (("a1", [0, 1, 3], 0.25),
                                                              ("a2", [2, 3], 0.5))]
    shares = [rng.sample(messages, 150) for _ in range(3)]
    errors: list[BaseException] = []

    def work(share: list[Incoming]) -> None:
        try:
            for k in range(0, len(share), 25):
                stores["set"].apply(share[k:k + 25])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    chosen = {id(m) for share in shares for m in share}
    union = [m for m in messages if id(m) in chosen]
    _plain(stores["plain"], union, ClockPolicy())
    got, want = _dump(stores["set"]), _dump(stores["plain"])
    assert len(got["messages"]) == len(union)
    key = slice(1, 8)  # transitions without their ids (the workers interleave)
    assert sorted(r[key] for r in got["transitions"]) == sorted(r[key] for r in want["transitions"])
    assert [r[:2] + r[3:5] for r in got["desk_state"]] == [
        r[:2] + r[3:5] for r in want["desk_state"]]  # state and newest event; since may differ
    assert got["dirty"] == want["dirty"]
    counters, expected = dict(got["counters"]), dict(want["counters"])
    assert counters["messages"] == expected["messages"] == len(union)
    assert counters["messages"] + counters["duplicates"] == 450


def test_a_live_state_another_worker_inserts_meanwhile_is_moved_on_not_replaced(
    stores: dict[str, PostgresStore],
) -> None:
    """The desk had no live state when the batch read it; another worker's first event for it
    commits while the batch waits: the batch's events then apply on top of that one (the
    newest wins, ``since`` kept for the same state), as one after the other would."""
    store = stores["set"]
    other = psycopg.connect(store.url)
    other.execute("INSERT INTO desk_state (desk, state, since, updated, last_at, agent) "
                  "VALUES ('s1-d3', 'occupied', %s, %s, %s, 'a2')", (NOW + 50, NOW + 51, NOW + 50))
    batch = [_desks("a1", 1, 1, ("s1-d3", "vacant", NOW + 10), ("s1-d3", "occupied", NOW + 60))]
    results: list[ApplyResult] = []
    applying = threading.Thread(target=lambda: results.append(store.apply(batch)))
    applying.start()
    try:
        with psycopg.connect(store.url, autocommit=True) as watcher:
            for _ in range(200):  # until the batch waits for the other worker's row
                waiting = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                          "wait_event_type = 'Lock'").fetchone()
                if waiting and waiting[0]:
                    break
                threading.Event().wait(0.05)
            else:
                pytest.fail("the batch never waited for the other worker's desk state")
        other.commit()
    finally:
        other.close()
        applying.join(10)
    assert results and results[0].transitions == 2
    assert _dump(store)["desk_state"] == [
        ("s1-d3", "occupied", NOW + 50, NOW + 101, NOW + 60, "a1")]
