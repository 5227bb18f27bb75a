"""Scenario 6: three ingest workers on a shared subscription, one aggregator, one store.

The fleet's real agents publish (QoS 1) through journaled outboxes while three
`deskpulse hub serve --role ingest` processes split the messages through the broker's
`$share/deskpulse/...` group. One worker is ``kill -9``ed mid-run and, after a while,
started again under the same name, as systemd's ``Restart=`` would: Mosquitto keeps that
worker's share of the messages in its persistent session meanwhile (it does not hand them
to the other members), so they arrive when it is back. The store must then hold exactly
the journaled events, none twice, and every worker must have applied some of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firmware_sim.building import Building
from firmware_sim.fleet import FleetRunner
from hub.config import HubSettings
from tests.broker import Mosquitto
from tests.faults.harness import STEP, compare, expected_events, outboxes, wait_until
from tests.faults.workers import RoleProcess, StoreBackend

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("faults")]

WORKERS = 3
GROUP = "deskpulse"
CHUNK = 600.0  # simulated seconds of load between checks of the stop flag


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    """The shared store: a SQLite file (WAL), or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield StoreBackend("sqlite", tmp_path / "hub")
        return
    if "database_url" not in HubSettings.model_fields:
        pytest.skip("this build has no PostgreSQL store (no database_url setting)")
    from tests.pg import PostgresCluster

    cluster = PostgresCluster().start()
    try:
        yield StoreBackend("postgresql", tmp_path / "hub", database_url=cluster.create_database())
    finally:
        cluster.stop()


def run_load(fleet: FleetRunner, start: float, stop: threading.Event) -> None:
    t = start
    while not stop.is_set():
        fleet.backfill(t, t + CHUNK - STEP, STEP)
        t += CHUNK


def test_three_ingest_workers_one_killed_store_every_event_exactly_once(
    tmp_path: Path,
    fresh_broker: Mosquitto,
    backend: StoreBackend,
    building: Building,
    make_fleet: Callable[..., FleetRunner],
    sim_start: float,
) -> None:
    backend.import_building(building.to_dict())
    shared = {"DESKPULSE_MQTT_SHARED_GROUP": GROUP}
    workers = [RoleProcess(backend, fresh_broker.port, "ingest", f"w{k}", shared)
               for k in range(1, WORKERS + 1)]
    aggregator = RoleProcess(backend, fresh_broker.port, "aggregate")
    processes = [*workers, aggregator]
    fleet = make_fleet()
    paths = outboxes(tmp_path / "agents", building)
    stop = threading.Event()
    load = threading.Thread(target=run_load, args=(fleet, sim_start, stop), daemon=True)
    try:
        for process in processes:
            process.start()
        fleet.start()
        load.start()
        assert wait_until(lambda: len(backend.events()) >= 300, 20), "no load reached the store"
        victim = workers[1]
        victim.kill()
        at_kill = len(backend.events())
        time.sleep(2.0)  # the load goes on: the others keep applying, the victim's share waits
        assert len(backend.events()) > at_kill, "the surviving workers stopped applying"
        assert load.is_alive(), "the load generator died"
        victim.start()  # as systemd's Restart= would: same name, same broker session
        time.sleep(1.0)
    finally:
        stop.set()
        load.join(30)
    try:
        assert fleet.wait_drained(30), f"{fleet.outbox_depth()} message(s) still in outboxes"
        expected = expected_events(paths)
        result = compare(expected, backend.events())
        deadline = time.monotonic() + 30
        while not result.exact and not result.twice and time.monotonic() < deadline:
            time.sleep(0.2)
            result = compare(expected, backend.events())
        assert result.exact, str(result)
        stats = [worker.stop() for worker in workers]
        assert all(s.get("applied", 0) > 0 for s in stats), stats
        # Shared, not copied: with plain subscriptions each worker would get every message.
        messages = backend.count("SELECT COUNT(*) FROM messages")
        survivors = [s for k, s in enumerate(stats) if workers[k] is not victim]
        assert all(s["received"] < 0.6 * messages for s in survivors), (messages, stats)
        rollups = backend.count("SELECT COUNT(*) FROM rollups")
        assert rollups > 0, "the aggregator wrote no rollups"
    finally:
        for process in processes:
            process.kill()
    print(f"{backend.name}: {result.expected} events stored exactly once by {WORKERS} workers "
          f"(one kill -9ed after {at_kill} and restarted); applied per worker since its "
          f"last start: {[s['applied'] for s in stats]} of {messages} messages; "
          f"{rollups} rollup rows")


def test_worker_stopped_for_good_leaves_no_messages_behind(
    tmp_path: Path,
    fresh_broker: Mosquitto,
    backend: StoreBackend,
    building: Building,
    make_fleet: Callable[..., FleetRunner],
    sim_start: float,
) -> None:
    """Scale-down: SIGTERM makes a worker leave the group and finish what it was handed,
    so nothing waits in its broker session for a restart that never comes."""
    backend.import_building(building.to_dict())
    shared = {"DESKPULSE_MQTT_SHARED_GROUP": GROUP}
    stays, leaves = (RoleProcess(backend, fresh_broker.port, "ingest", name, shared)
                     for name in ("stays", "leaves"))
    fleet = make_fleet()
    paths = outboxes(tmp_path / "agents", building)
    stop = threading.Event()
    load = threading.Thread(target=run_load, args=(fleet, sim_start, stop), daemon=True)
    try:
        stays.start()
        leaves.start()
        fleet.start()
        load.start()
        assert wait_until(lambda: len(backend.events()) >= 300, 20), "no load reached the store"
        left = leaves.stop()  # for good: never started again
        time.sleep(2.0)
    finally:
        stop.set()
        load.join(30)
    try:
        assert fleet.wait_drained(30), f"{fleet.outbox_depth()} message(s) still in outboxes"
        expected = expected_events(paths)
        result = compare(expected, backend.events())
        deadline = time.monotonic() + 30
        while not result.exact and not result.twice and time.monotonic() < deadline:
            time.sleep(0.2)
            result = compare(expected, backend.events())
        assert result.exact, str(result)
        assert left.get("applied", 0) > 0, left
    finally:
        stays.kill()
        leaves.kill()
    print(f"{backend.name}: worker stopped mid-run after applying {left['applied']} messages; "
          f"{result.expected} events stored exactly once, none stranded")
