"""Scenario 4: every message delivered again, shuffled, some three times: nothing changes."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_sim.building import Building
from firmware_sim.fleet import FleetRunner
from tests.faults.harness import (
    FULL,
    STEP,
    HubProcess,
    Plain,
    counters,
    journal_payloads,
    outboxes,
    stored_events,
    wait_for_exact,
    wait_until,
)

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("faults")]

HOURS = 12.0 if FULL else 2.0


def live_state(database: Path) -> list[tuple[str, str, float]]:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return db.execute("SELECT desk, state, since FROM desk_state ORDER BY desk").fetchall()
    finally:
        db.close()


def test_redelivered_and_reordered_messages_change_nothing(
    tmp_path: Path,
    hub: HubProcess,
    building: Building,
    make_fleet: Callable[..., FleetRunner],
    plain: Plain,
    sim_start: float,
    rng: random.Random,
) -> None:
    fleet = make_fleet()
    paths = outboxes(tmp_path / "agents", building)
    fleet.backfill(sim_start, sim_start + HOURS * 3600, STEP)
    fleet.start()
    assert fleet.wait_drained(30)
    result = wait_for_exact(paths, hub.database, 30)
    assert result.exact, str(result)
    events, state = sorted(stored_events(hub.database)), live_state(hub.database)
    before = counters(hub.database)

    replay = [item for path in paths for item in journal_payloads(path)]
    replay += rng.sample(replay, len(replay) // 3)  # a third of them a third time
    rng.shuffle(replay)
    for topic, payload in replay:
        plain.send(topic, payload)
    plain.flush()

    def absorbed() -> bool:
        return counters(hub.database).get("duplicates", 0) - before.get("duplicates", 0) \
            >= len(replay)

    assert wait_until(absorbed, 30), (len(replay), counters(hub.database), before)
    after = counters(hub.database)
    assert after["duplicates"] - before.get("duplicates", 0) == len(replay)
    assert after["messages"] == before["messages"]
    assert after.get("dead_letters", 0) == before.get("dead_letters", 0)
    assert sorted(stored_events(hub.database)) == events
    assert live_state(hub.database) == state
    print(f"{len(replay)} redeliveries in random order: all counted as duplicates, "
          f"{len(events)} events unchanged")
