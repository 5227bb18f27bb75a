"""Simulated sensors replay the truth exactly; knobs are deterministic; GroundTruth extends."""

from __future__ import annotations

import random
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from edge.sensors.base import Reading
from firmware_sim.building import generate_building
from firmware_sim.people import PeopleModel, merge_intervals
from firmware_sim.sensors import GroundTruth, SimulatedSensor

INTERVALS = [(100.0, 200.0), (250.5, 251.0), (1000.0, 5000.0)]


def test_perfect_sensor_reports_exactly_the_intervals() -> None:
    sensor = SimulatedSensor(INTERVALS, seed=1)
    expected = {
        0.0: "absent", 99.999: "absent", 100.0: "present", 199.9: "present",
        200.0: "absent", 250.5: "present", 250.99: "present", 251.0: "absent",
        999.0: "absent", 1000.0: "present", 4999.0: "present", 5000.0: "absent",
        1e9: "absent",
    }
    for now, presence in expected.items():
        assert sensor.read(now) == Reading(now, presence)  # type: ignore[arg-type]
    # Random probes agree with a plain linear scan.
    rng = random.Random(3)
    for _ in range(2000):
        now = rng.uniform(0, 6000)
        truth = any(s <= now < e for s, e in INTERVALS)
        assert sensor.read(now).presence == ("present" if truth else "absent")


def test_extend_merges_with_what_is_held() -> None:
    sensor = SimulatedSensor([(0.0, 10.0)])
    sensor.extend([(10.0, 20.0), (30.0, 40.0), (5.0, 8.0)])
    assert sensor.intervals == [(0.0, 20.0), (30.0, 40.0)]
    assert merge_intervals([(3.0, 3.0), (2.0, 4.0), (1.0, 2.5)]) == [(1.0, 4.0)]


def test_knobs_are_deterministic_and_roughly_their_rate() -> None:
    always = [(0.0, 1e6)]
    times = [t * 7.3 for t in range(20_000)]
    a = SimulatedSensor(always, seed=5, miss_rate=0.2, dropout_rate=0.05)
    b = SimulatedSensor(always, seed=5, miss_rate=0.2, dropout_rate=0.05)
    forward = [a.read(t).presence for t in times]
    backward = [b.read(t).presence for t in reversed(times)][::-1]
    assert forward == backward  # a pure function of (seed, time), not of call order
    faults = forward.count("fault") / len(times)
    misses = forward.count("absent") / len(times)
    assert 0.03 < faults < 0.07
    assert 0.15 < misses < 0.25
    other = SimulatedSensor(always, seed=6, miss_rate=0.2, dropout_rate=0.05)
    assert [other.read(t).presence for t in times] != forward
    # A miss never invents presence at an empty desk.
    empty = SimulatedSensor([], seed=5, miss_rate=0.9)
    assert {empty.read(t).presence for t in times} == {"absent"}


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        SimulatedSensor([], miss_rate=1.5)


def test_ground_truth_fills_day_by_day_and_matches_the_model() -> None:
    tz = ZoneInfo("Europe/Berlin")
    building = generate_building(seed=1, desks=20, floors=1)
    people = PeopleModel(building, seed=2)
    origin = datetime(2025, 3, 11, 9, 30, tzinfo=tz).timestamp()
    truth = GroundTruth(people, origin=origin)
    assert truth.covered_until == origin
    truth.ensure(origin + 60)
    midnight = datetime(2025, 3, 12, tzinfo=tz).timestamp()
    assert truth.covered_until == midnight
    truth.ensure(midnight + 3 * 86400 + 5)  # lazily, a few days later
    assert truth.covered_until == datetime(2025, 3, 16, tzinfo=tz).timestamp()
    end = datetime(2025, 3, 15, 3, tzinfo=tz).timestamp()
    assert truth.intervals(origin, end) == people.occupancy(origin, end)
    assert date(2025, 3, 11).weekday() == 1
    desk, intervals = next((d, iv) for d, iv in people.occupancy(origin, end).items() if iv)
    s, e = intervals[0]
    sensor = truth.sensors[desk]
    assert sensor.read(s).presence == "present" and sensor.read(e).presence == "absent"
    assert sensor.read(origin - 3600).presence == "absent"  # before the origin nothing is loaded
