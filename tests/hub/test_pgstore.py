"""PostgreSQL-only behaviour: the SQL translation, schema parity with SQLite, and what must
hold across several hub workers (each a PostgresStore with its own pool) on one database."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.protocol import DeskEvent, DesksMessage, encode, parse_topic, topic_for
from hub.auth import accounts, ratelimit
from hub.auth.accounts import Principal
from hub.config import HubSettings
from hub.db.engines import open_store
from hub.db.postgres.dialect import to_postgres
from hub.db.postgres.store import PostgresStore, redact
from hub.db.sqlite.store import Incoming, SqliteStore
from hub.errors import ConfigError, StoreError
from hub.privacy import audit
from hub.reports.rollup import Rollupper
from hub.server import HubServer
from tests.broker import Mosquitto
from tests.hub.store_data import T0, building
from tests.pg import PostgresCluster

# -- translation (pure) --------------------------------------------------------------------


def test_placeholders_and_literals() -> None:
    assert to_postgres("SELECT a FROM t WHERE b = ? AND c = :name AND d LIKE 'x%?:y'") == (
        "SELECT a FROM t WHERE b = %s AND c = %(name)s AND d LIKE 'x%%?:y'")


def test_insert_or_ignore_becomes_on_conflict_do_nothing() -> None:
    assert to_postgres("INSERT OR IGNORE INTO m (a) VALUES (?)") == (
        "INSERT INTO m (a) VALUES (%s) ON CONFLICT DO NOTHING")


def test_scalar_min_max_only_with_two_arguments() -> None:
    assert to_postgres("SELECT MIN(COALESCE(MIN(a, b), a)), MAX(x, ?) FROM t") == (
        "SELECT MIN(COALESCE(LEAST(a, b), a)), GREATEST(x, %s) FROM t")


def test_json_each_and_group_concat() -> None:
    sql = to_postgres("SELECT group_concat(j.key || ',' || r.b) FROM json_each(?) j JOIN r "
                      "ON r.d = j.value WHERE x IN (SELECT value FROM json_each(?))")
    assert "string_agg((j.key || ',' || r.b)::text, ',')" in sql
    assert sql.count("json_array_elements_text(%s::json) WITH ORDINALITY)") == 2
    assert " AS j JOIN" in sql and sql.endswith("AS _each)")


def test_translated_json_each_keys_are_zero_based(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(to_postgres("SELECT j.key, j.value FROM json_each(?) j"),
                            ['["a", "b"]']).fetchall()
    assert rows == [(0, "a"), (1, "b")]


# -- schema --------------------------------------------------------------------------------


def test_the_postgresql_schema_has_every_sqlite_table_and_column(
    tmp_path: Path, pg_url: str
) -> None:
    """A SQLite migration without its twin in hub/db/postgres/migrations.py fails here (the
    accounts' and rate limits' tables, which those modules create on SQLite, included)."""
    lite = SqliteStore(tmp_path / "hub.db")
    pg = PostgresStore(pg_url)
    try:
        accounts.ensure_schema(lite.db)
        ratelimit.ensure_schema(lite)
        sqlite_tables = {
            name: {row[1] for row in lite.db.execute(f"PRAGMA table_info({name})")}
            for (name,) in lite.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name != '_deskpulse-hub_migrations'")
            if not name.startswith("_")
        }
        pg_tables: dict[str, set[str]] = {}
        for table, column in pg.db.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name != 'schema_migrations'"
        ):
            pg_tables.setdefault(table, set()).add(column)
        assert {t for t in sqlite_tables if t not in pg_tables} == set()
        for table, columns in sqlite_tables.items():
            assert pg_tables[table] == columns, table
    finally:
        lite.close()
        pg.close()


def test_migrations_run_once_with_several_workers_starting_together(pg_url: str) -> None:
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            stores.append(PostgresStore(pg_url))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    (count,) = stores[0].db.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()
    from hub.db.postgres.migrations import MIGRATIONS
    assert count == len(MIGRATIONS)
    for s in stores:
        s.close()


def test_open_store_picks_the_engine_by_url(tmp_path: Path, pg_url: str) -> None:
    pg = open_store(pg_url)
    assert isinstance(pg, PostgresStore) and pg.dialect == "postgresql"
    pg.close()
    lite = open_store(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(lite, SqliteStore) and lite.path == tmp_path / "a.db"
    lite.close()
    with pytest.raises(ConfigError, match="mysql://... is not supported"):
        open_store("mysql://x/y")


def test_an_unreachable_server_is_a_clear_error(postgres: PostgresCluster) -> None:
    from tests.broker import free_port

    url = f"postgresql://u:secret@127.0.0.1:{free_port()}/none"
    with pytest.raises(StoreError, match=r"cannot connect to PostgreSQL at postgresql://u:\*\*\*@"):
        PostgresStore(url, timeout=1)
    assert "secret" not in redact(url)


# -- several workers -----------------------------------------------------------------------


@pytest.fixture
def workers(pg_url: str) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    """Two hub workers on one database: two stores, two pools, no shared memory."""
    a = PostgresStore(pg_url)
    a.import_building(building())
    b = PostgresStore(pg_url)
    yield a, b
    a.close()
    b.close()


def _desks(seq: int, desk: str, state: str, at: float) -> Incoming:
    msg = DesksMessage(agent="a1", boot=1, seq=seq, sent=at,
                       events=(DeskEvent(desk, state, at),))  # type: ignore[arg-type]
    return Incoming(parse_topic(topic_for("s1", "a1", "desks")), msg, at + 1)


def test_a_message_delivered_to_two_workers_is_applied_once(
    workers: tuple[PostgresStore, PostgresStore],
) -> None:
    """Redelivery after a worker died, or a broker handing a copy to each: the primary key
    of (agent, boot, seq) decides, whichever worker commits first."""
    messages = [_desks(seq, "d1" if seq % 2 else "d2", "occupied" if seq % 3 else "vacant",
                       T0 + seq) for seq in range(1, 61)]
    errors: list[BaseException] = []

    def worker(store: PostgresStore) -> None:
        try:
            for i in range(0, len(messages), 5):
                store.apply(messages[i:i + 5])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    a, b = workers
    counters = a.counters()
    assert (counters["messages"], counters["duplicates"], counters["transitions"]) == (60, 60, 60)
    assert len(b.transitions(["d1", "d2"], 0, T0 + 100)) == 60
    assert b.counters() == counters


def test_a_check_in_token_is_used_once_across_workers(
    workers: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = workers
    sql = "INSERT INTO used_tokens (token_id, used_at, source) VALUES (?, ?, ?)"
    a.db.execute(sql, ["tok-1", T0, "a"])
    with pytest.raises(psycopg.errors.UniqueViolation):
        b.db.execute(sql, ["tok-1", T0 + 1, "b"])
    assert list(b.db.query("SELECT token_id, source FROM used_tokens")) == [
        {"token_id": "tok-1", "source": "a"}]


def test_one_rollup_worker_per_site_and_a_dead_workers_sites_are_taken_over(
    workers: tuple[PostgresStore, PostgresStore], tmp_path: Path, postgres: PostgresCluster
) -> None:
    a, b = workers
    a.apply([_desks(1, "d1", "occupied", T0), _desks(2, "e1", "occupied", T0)])
    now = [T0 + 1800]
    settings = HubSettings(data_dir=tmp_path)
    first = Rollupper(settings, a, clock=lambda: now[0])
    second = Rollupper(settings, b, clock=lambda: now[0])
    assert first.tick() > 0
    assert first.my_sites() == ["s1", "s2"]
    assert second.my_sites() == [] and second.tick() == 0  # the other worker has them
    (rows,) = b.db.execute("SELECT COUNT(*) FROM rollups").fetchone()
    assert rows > 0

    # The first worker dies (its server connection ends): its locks go with it.
    with psycopg.connect(postgres.admin_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [a.backend_pid()])
    now[0] += 900
    deadline = time.monotonic() + 10
    while second.my_sites() != ["s1", "s2"]:  # the backend ends a moment after the signal
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert second.tick() > 0
    # The first worker's next round finds its connection broken (an error, logged by the
    # loop), the one after reconnects and finds the sites taken.
    with pytest.raises(psycopg.OperationalError):
        first.tick()
    assert first.tick() == 0 and first.my_sites() == []


def test_a_stopped_rollup_worker_hands_its_sites_over_at_once(
    workers: tuple[PostgresStore, PostgresStore], tmp_path: Path
) -> None:
    a, b = workers
    settings = HubSettings(data_dir=tmp_path, rollup_interval=0.05)
    first = Rollupper(settings, a, clock=lambda: T0)
    first.start()
    deadline = time.monotonic() + 10
    while first.ticks == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    second = Rollupper(settings, b, clock=lambda: T0)
    assert second.my_sites() == []
    first.stop()
    assert second.my_sites() == ["s1", "s2"]


# -- the hub's roles on PostgreSQL ---------------------------------------------------------


def test_ingest_and_aggregate_roles_run_on_postgresql(
    tmp_path: Path, pg_url: str, broker: Mosquitto
) -> None:
    """`hub serve --role ingest` and `--role aggregate` with ``database_url``: a published
    desk event reaches PostgreSQL through one, and the other rolls it up (and runs the
    check-in and retention jobs, as on SQLite)."""
    site, agent = f"pg-{uuid.uuid4().hex[:8]}", f"pa-{uuid.uuid4().hex[:8]}"
    settings = HubSettings(data_dir=tmp_path, database_url=pg_url, mqtt_port=broker.port,
                           rollup_interval=0.1, worker_name="w1")
    setup = open_store(settings.store_url)
    setup.import_building({"sites": [{
        "id": site, "name": "PG", "timezone": "UTC", "floors": [{"id": "f", "name": "F",
        "zones": [{"id": "z", "name": "Z", "desks": [{"id": f"{site}-d", "name": "D",
                                                       "agent": agent}]}]}]}]})
    ingest = HubServer(settings, role="ingest")
    aggregate = HubServer(settings, role="aggregate")
    assert isinstance(ingest.store, PostgresStore)
    assert aggregate.checkin_jobs is not None and aggregate.retention is not None
    ingest.start()
    aggregate.start()
    try:
        assert ingest.ingestor is not None and ingest.ingestor.wait_connected(5)
        at = time.time() - 60
        msg = DesksMessage(agent=agent, boot=1, seq=1, sent=at,
                           events=(DeskEvent(f"{site}-d", "occupied", at),))
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        client.publish(topic_for(site, agent, "desks"), encode(msg), qos=1).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()
        deadline = time.monotonic() + 10
        while True:
            (occupied,) = setup.db.execute(
                "SELECT COALESCE(SUM(occupied_s), 0) FROM rollups WHERE desk = ?",
                [f"{site}-d"]).fetchone()
            if occupied >= 50:
                break
            assert time.monotonic() < deadline, "no rollup of the event within 10 s"
            time.sleep(0.1)
        assert setup.desks(site)[0]["state"] == "occupied"
    finally:
        aggregate.stop()
        ingest.stop()
        setup.close()


@pytest.mark.broker
def test_the_api_role_serves_from_postgresql(tmp_path: Path, pg_url: str) -> None:
    """`--role api` on PostgreSQL: an account made through another process's store signs
    in over HTTP, and the API reads the building from the same database."""
    from tests.broker import free_port

    settings = HubSettings(data_dir=tmp_path, database_url=pg_url, http_port=free_port(),
                           mqtt_port=free_port())
    server = HubServer(settings, role="api")
    server.start()
    setup = PostgresStore(pg_url)
    try:
        setup.import_building(building())
        token = accounts.create_api_token(setup.db, "pg-api-test", role="manager")
        health = httpx.get(f"{server.url}healthz", timeout=5.0).json()
        assert (health["status"], health["database"]) == ("ok", "ok")
        sites = httpx.get(f"{server.url}api/v1/sites", timeout=5.0,
                          headers={"Authorization": f"Bearer {token}"})
        assert sites.status_code == 200
        assert {s["id"] for s in sites.json()} == {"s1", "s2"}
        assert httpx.get(f"{server.url}api/v1/sites", timeout=5.0).status_code == 401
    finally:
        setup.close()
        server.stop()


def _race(*jobs: Callable[[], object]) -> list[BaseException]:
    """Run the jobs in threads released together; the exceptions they raised."""
    barrier, errors = threading.Barrier(len(jobs)), []

    def run(job: Callable[[], object]) -> None:
        try:
            barrier.wait(10)
            job()
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_two_workers_appending_to_the_audit_trail_keep_one_chain(
    workers: tuple[PostgresStore, PostgresStore],
) -> None:
    """Each append reads the last entry and writes the next: without taking turns
    (hub/db/compat.py) two API processes would both write the same next id."""
    actor = Principal(kind="token", name="dpo", role="admin")

    def append(store: PostgresStore) -> None:
        for i in range(40):
            with store.transaction() as db:
                audit.append(db, actor, "read", None, f"entry {i}")

    a, b = workers
    assert _race(lambda: append(a), lambda: append(b)) == []
    assert audit.verify(a.db) == audit.Verdict(True, 80)


def test_a_rate_limit_holds_across_two_workers(
    workers: tuple[PostgresStore, PostgresStore],
) -> None:
    """Two processes asking for the last slot of a key at the same moment: one gets it."""
    rounds, together = 30, threading.Barrier(2)
    allowed: list[str] = []

    def take(store: PostgresStore) -> None:
        for r in range(rounds):
            together.wait(10)
            if ratelimit.take(store, f"login:{r}", limit=1, window=600.0) is None:
                allowed.append(f"login:{r}")

    a, b = workers
    assert _race(lambda: take(a), lambda: take(b)) == []
    assert sorted(allowed) == sorted(f"login:{r}" for r in range(rounds))


def test_workers_applying_several_agents_in_opposite_orders_do_not_deadlock(
    workers: tuple[PostgresStore, PostgresStore],
) -> None:
    """Each worker's batches hold messages of agents a1 and a2 (desks d1, d3), one worker
    a1 first, the other a2 first: without a common lock order PostgreSQL would abort one
    transaction as a deadlock."""
    def message(agent: str, desk: str, seq: int) -> Incoming:
        msg = DesksMessage(agent=agent, boot=1, seq=seq, sent=T0 + seq,
                           events=(DeskEvent(desk, "occupied" if seq % 2 else "vacant",
                                             T0 + seq),))
        return Incoming(parse_topic(topic_for("s1", agent, "desks")), msg, T0 + seq)

    errors: list[BaseException] = []

    def worker(store: PostgresStore, first: tuple[str, str], second: tuple[str, str],
               offset: int) -> None:
        try:
            for seq in range(1 + offset, 200, 2):
                store.apply([message(*first, seq), message(*second, seq)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    a, b = workers
    threads = [threading.Thread(target=worker, args=(a, ("a1", "d1"), ("a2", "d3"), 0)),
               threading.Thread(target=worker, args=(b, ("a2", "d3"), ("a1", "d1"), 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert a.counters()["messages"] == 2 * 199
    assert len(a.transitions(["d1", "d3"], 0, T0 + 300)) == 2 * 199
