"""Scenario 2: the hub is ``kill -9``ed at random points during a load, and restarted.

Before the random kills, one precise crash: right after a commit, before the acks, so
the redelivery that dedup must absorb is certain to happen.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_sim.building import Building
from firmware_sim.fleet import FleetRunner
from tests.faults.harness import FULL, STEP, HubProcess, counters, outboxes, wait_for_exact

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("faults")]

KILLS = 10 if FULL else 3
CHUNK = 600.0  # simulated seconds the load produces between checks of its stop flag


def run_load(fleet: FleetRunner, start: float, stop: threading.Event) -> None:
    """Step the fleet through simulated time as fast as it goes until ``stop``."""
    t = start
    while not stop.is_set():
        fleet.backfill(t, t + CHUNK - STEP, STEP)
        t += CHUNK


def test_hub_killed_at_random_points_loses_and_doubles_nothing(
    tmp_path: Path,
    hub: HubProcess,
    building: Building,
    make_fleet: Callable[..., FleetRunner],
    sim_start: float,
    rng: random.Random,
) -> None:
    fleet = make_fleet()
    paths = outboxes(tmp_path / "agents", building)
    fleet.start()
    stop = threading.Event()
    load = threading.Thread(target=run_load, args=(fleet, sim_start, stop), daemon=True)
    load.start()
    try:
        # First the narrowest window: committed, not yet acknowledged (deterministic).
        hub.kill()
        hub.run_until_crash(after_commits=rng.randint(1, 5))
        hub.start()
        for kill in range(1, KILLS + 1):
            time.sleep(rng.uniform(0.05, 1.5))  # some kills land in the restart's backlog
            before = counters(hub.database).get("messages", 0)
            hub.kill()
            time.sleep(rng.uniform(0.0, 0.5))
            hub.start()
            assert load.is_alive(), "the load generator died"
            print(f"kill {kill}: {before} messages stored before it")
    finally:
        stop.set()
        load.join(30)
    assert fleet.wait_drained(60), f"{fleet.outbox_depth()} message(s) still in the outboxes"
    result = wait_for_exact(paths, hub.database, 60)
    assert result.exact, str(result)
    stored = counters(hub.database)
    assert stored.get("duplicates", 0) > 0, "the batch committed before the crash came back"
    print(f"hub killed {KILLS} times at random and once after a commit: {result.expected} "
          f"events stored exactly once; {stored.get('duplicates', 0)} redeliveries absorbed")
