"""The fleet drives REAL edge agents through a real Mosquitto; what arrives is the truth."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import MqttConfig
from edge.protocol import DesksMessage, decode
from firmware_sim.building import Building, generate_building
from firmware_sim.fleet import (
    FleetRunner,
    Transition,
    expected_occupancy,
    intervals_from_events,
    sample_intervals,
)
from firmware_sim.people import PeopleModel
from tests.broker import Mosquitto

TZ = ZoneInfo("Europe/Berlin")
WEDNESDAY = date(2025, 3, 12)
STEP = 30.0
HOLD = 600.0  # a multiple of STEP, so the sampled prediction is exact


def local(day: date, hour: float = 0.0) -> float:
    return (datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(hours=hour)).timestamp()


def small_building() -> Building:
    site = f"sim-{uuid.uuid4().hex[:8]}"
    return generate_building(seed=5, site_id=site, floors=1, desks=6, desks_per_agent=3)


class Capture:
    """A plain paho subscriber that decodes every desks message strictly."""

    def __init__(self, port: int, site: str) -> None:
        self.messages: list[DesksMessage] = []
        self.errors: list[str] = []
        self.subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        self.client.on_connect = lambda c, *_: c.subscribe(f"deskpulse/v1/{site}/+/desks", 1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def _message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        try:
            message = decode(msg.topic, bytes(msg.payload), now=time.time())
        except Exception as exc:  # recorded, asserted on by the test
            self.errors.append(str(exc))
            return
        assert isinstance(message, DesksMessage)
        self.messages.append(message)

    def settle(self, quiet: float = 0.5, timeout: float = 20.0) -> None:
        """Wait until no message arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline and seen != len(self.messages):
            seen = len(self.messages)
            time.sleep(quiet)

    def events(self) -> list[Transition]:
        return [(e.desk, e.state, e.at) for m in self.messages for e in m.events]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def fleet_factory(tmp_path: Path) -> Iterator[Callable[..., FleetRunner]]:
    made: list[FleetRunner] = []

    def make(building: Building, people: PeopleModel, port: int = 1, **kw: object) -> FleetRunner:
        fleet = FleetRunner(building, people, mqtt=MqttConfig(port=port),
                            data_dir=tmp_path / f"fleet{len(made)}", **kw)  # type: ignore[arg-type]
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        fleet.stop()


@pytest.mark.broker
def test_backfilled_day_arrives_over_mqtt_as_the_ground_truth(
    broker: Mosquitto, fleet_factory: Callable[..., FleetRunner]
) -> None:
    building = small_building()
    people = PeopleModel(building, seed=3)
    fleet = fleet_factory(building, people, port=broker.port, hold_seconds=HOLD, seed=9)
    assert sorted(fleet.agents) == [f"{building.site.id}-agent-01", f"{building.site.id}-agent-02"]
    capture = Capture(broker.port, building.site.id)
    try:
        start, end = local(WEDNESDAY), local(WEDNESDAY + timedelta(days=1))
        reached: list[float] = []
        assert fleet.backfill(start, end, STEP, progress=reached.append) == 2881
        assert reached[-1] == end and reached == sorted(reached)
        assert 90 <= len(reached) <= 110  # about every 1 %
        assert fleet.outbox_depth() > 10  # stored, waiting for the broker
        fleet.start()
        assert fleet.wait_drained(20)
        capture.settle()
    finally:
        capture.close()
    assert capture.errors == []
    # Every agent's messages arrive complete: seq 1..N without gaps, one boot.
    for agent_id in fleet.agents:
        mine = [m for m in capture.messages if m.agent == agent_id]
        assert sorted(m.seq for m in mine) == list(range(1, len(mine) + 1))
        assert {m.boot for m in mine} == {1}
        assert all(start <= e.at <= end for m in mine for e in m.events)
    rebuilt = intervals_from_events(capture.events(), end)
    truth = people.occupancy(start, end)
    assert set(rebuilt) == set(truth)
    merged_somewhere = False
    for desk, intervals in truth.items():
        sampled = sample_intervals(intervals, start, end, STEP)
        expected = expected_occupancy(sampled, HOLD, until=end)
        assert rebuilt[desk] == expected, desk
        merged_somewhere |= expected != sampled
        # Within the step of the continuous truth (allowing for gaps the hold merged).
        for s, e in expected:
            assert any(abs(s - ts) <= STEP for ts, _ in intervals)
            assert any(abs(e - te) <= STEP for _, te in intervals)
    assert merged_somewhere  # the hold time was exercised
    assert sum(len(iv) for iv in rebuilt.values()) >= 6  # a busy Wednesday
    # ground_truth_transitions agrees with what arrived, within a step.
    predicted = fleet.ground_truth_transitions(start, end)
    assert [(d, s) for d, s, _ in predicted if s == "occupied"] != []
    predicted_iv = intervals_from_events(predicted, end)
    for desk, intervals in rebuilt.items():
        assert len(intervals) == len(predicted_iv[desk])
        for (s1, e1), (s2, e2) in zip(intervals, predicted_iv[desk], strict=True):
            assert abs(s1 - s2) <= STEP and abs(e1 - e2) <= STEP


def test_backfill_never_steps_past_the_wall_clock_nor_backwards(
    fleet_factory: Callable[..., FleetRunner]
) -> None:
    building = small_building()
    fleet = fleet_factory(building, PeopleModel(building, seed=1))
    now = time.time()
    steps = fleet.backfill(now - 300, now + 3600, 60)
    assert steps == 6
    assert fleet.last_step is not None and fleet.last_step <= time.time()
    with pytest.raises(ValueError, match="never goes backwards"):
        fleet.backfill(now - 600, now - 500, 60)
    with pytest.raises(ValueError, match="step_seconds"):
        fleet.backfill(now, now + 1, 0)


def test_run_live_replays_fast_then_follows_the_wall_clock(
    fleet_factory: Callable[..., FleetRunner]
) -> None:
    """A fake wall clock that moves 5 s per look; at speed 10 the fleet replays the last
    10 minutes, catches up and from then on steps at the wall clock, never beyond it."""
    wall = [1_750_000_000.0]
    stop = threading.Event()

    def clock() -> float:
        wall[0] += 5.0
        if wall[0] > 1_750_000_000.0 + 400:
            stop.set()
        return wall[0]

    building = small_building()
    fleet = fleet_factory(building, PeopleModel(building, seed=2), clock=clock,
                          poll_seconds=0.001)
    steps: list[tuple[float, float]] = []  # (simulated time, wall clock when stepped)
    for agent in fleet.agents.values():
        real_step = agent.step

        def spy(now: float, real_step: Callable[[float], object] = real_step) -> object:
            steps.append((now, wall[0]))
            return real_step(now)

        agent.step = spy  # type: ignore[method-assign,assignment]
    start = 1_750_000_000.0 - 600
    fleet.run_live(stop, speed=10.0, start=start)
    times = [t for t, _ in steps[:: len(fleet.agents)]]
    assert times[0] == pytest.approx(start + 50.0, abs=10.0)
    assert times == sorted(times)
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= 30.0 + 1e-6
    assert all(t <= w for t, w in steps)
    assert times[-1] == pytest.approx(wall[0] - 5.0, abs=5.0)  # caught up
    with pytest.raises(ValueError, match="speed"):
        fleet.run_live(stop, speed=0.5)


def test_stop_ends_a_backfill_and_a_live_run_on_other_threads(
    fleet_factory: Callable[..., FleetRunner]
) -> None:
    building = small_building()
    fleet = fleet_factory(building, PeopleModel(building, seed=4), poll_seconds=0.01)
    now = time.time()
    done: list[int] = []
    errors: list[BaseException] = []

    def backfill() -> None:
        try:
            done.append(fleet.backfill(now - 60 * 86400, now, 30))
        except BaseException as exc:  # asserted below
            errors.append(exc)

    worker = threading.Thread(target=backfill)
    worker.start()
    while fleet.last_step is None:
        time.sleep(0.005)
    time.sleep(0.05)
    fleet.stop()
    worker.join(10)
    assert errors == [] and not worker.is_alive()
    assert 0 < done[0] < 60 * 2880  # stopped part-way, without touching closed outboxes
    live = threading.Thread(target=fleet.run_live, args=(threading.Event(),))
    live.start()
    live.join(5)
    assert not live.is_alive()  # a stopped fleet does not run
