"""Scenario 1: the broker is down while the agents keep producing, then comes back.

Two ground truths: the journaled outboxes (every event exactly once), and firmware_sim's
people model (what a perfect agent sampling every STEP with hold time HOLD reports).
Noise-free sensors here, so that the second comparison can be exact too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_sim.building import Building
from firmware_sim.fleet import (
    FleetRunner,
    expected_occupancy,
    intervals_from_events,
    sample_intervals,
)
from tests.broker import Mosquitto
from tests.faults.harness import (
    FULL,
    STEP,
    HubProcess,
    expected_events,
    outboxes,
    stored_events,
    wait_for_exact,
)

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("faults")]

OUTAGE_HOURS = 8.0 if FULL else 1.0
HOLD = 300.0  # a multiple of STEP: the sampled prediction is exact
MORNING = 7 * 3600.0  # a morning in Berlin: people come and go


def test_an_hour_of_traffic_during_a_broker_outage_arrives_exactly_once(
    tmp_path: Path,
    fresh_broker: Mosquitto,
    hub: HubProcess,
    building: Building,
    make_fleet: Callable[..., FleetRunner],
    sim_start: float,
) -> None:
    fleet = make_fleet(hold_seconds=HOLD, miss_rate=0.0)
    paths = outboxes(tmp_path / "agents", building)
    start = sim_start + MORNING
    fleet.backfill(start, start + 1800, STEP)
    fleet.start()
    assert fleet.wait_drained(20), "the agents could not deliver before the outage"

    fresh_broker.stop()  # graceful: Mosquitto keeps the hub's queued session on disk
    outage_from = start + 1800 + STEP
    end = outage_from + OUTAGE_HOURS * 3600
    fleet.backfill(outage_from, end, STEP)
    waiting = fleet.outbox_depth()
    fresh_broker.start()

    during = [e for e in expected_events(paths) if outage_from <= e[5] <= end]
    assert waiting > 0 and len(during) > 0, "no traffic was produced during the outage"
    assert fleet.wait_drained(60), f"{fleet.outbox_depth()} message(s) still in the outboxes"
    result = wait_for_exact(paths, hub.database, 30)
    assert result.exact, str(result)

    # What the hub stored is what firmware_sim's people did, as sampled and held.
    stored = [(desk, state, at) for _, _, _, desk, state, at in stored_events(hub.database)]
    rebuilt = intervals_from_events(stored, end)
    truth = fleet.people.occupancy(start, end)
    assert set(rebuilt) == set(truth)
    for desk, intervals in truth.items():
        sampled = sample_intervals(intervals, start, end, STEP)
        assert rebuilt[desk] == expected_occupancy(sampled, HOLD, until=end), desk
    print(f"broker outage: {waiting} messages queued in outboxes, {result.expected} events, "
          f"all stored exactly once; {sum(map(len, rebuilt.values()))} visits as simulated")
