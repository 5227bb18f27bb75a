"""What a perfect agent should report: hold-time merging, grid sampling, transitions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.sensors.base import Reading
from edge.state import DeskStateMachine
from firmware_sim.fleet import (
    expected_occupancy,
    grid_times,
    intervals_from_events,
    sample_intervals,
    transitions_from,
)
from firmware_sim.people import merge_intervals
from firmware_sim.sensors import SimulatedSensor

H = 600.0


def test_gaps_up_to_the_hold_time_are_merged() -> None:
    intervals = [(0.0, 100.0), (699.0, 800.0), (1400.0, 1500.0), (2100.5, 2200.0)]
    # gaps: 599 (merged), 600 (merged: a vacancy needs a reading h after leaving), 600.5.
    assert expected_occupancy(intervals, H) == [(0.0, 1500.0), (2100.5, 2200.0)]
    assert expected_occupancy([], H) == []
    assert expected_occupancy([(5.0, 6.0)], 0.0) == [(5.0, 6.0)]


def test_until_keeps_a_recent_departure_open_and_clips() -> None:
    assert expected_occupancy([(0.0, 100.0)], H, until=650.0) == [(0.0, 650.0)]
    assert expected_occupancy([(0.0, 100.0)], H, until=700.0) == [(0.0, 100.0)]
    assert expected_occupancy([(0.0, 100.0), (900.0, 2000.0)], H, until=1000.0) == [
        (0.0, 100.0), (900.0, 1000.0)]
    assert expected_occupancy([(0.0, 100.0), (900.0, 2000.0)], H, until=850.0) == [
        (0.0, 100.0)]


def test_sampling_on_a_grid() -> None:
    assert grid_times(10.0, 100.0, 30.0) == [10.0, 40.0, 70.0, 100.0]
    assert grid_times(10.0, 9.0, 30.0) == []
    truth = [(0.0, 15.0), (41.0, 69.0), (75.0, 95.0), (99.0, 500.0)]
    # Present at 10 (first), absent at 40; 41-69 falls between readings; 75-95 seen at
    # none; 99-500 seen at 100, the last reading, so it ends there.
    assert sample_intervals(truth, 10.0, 100.0, 30.0) == [(10.0, 40.0)]
    assert sample_intervals([(40.0, 71.0)], 10.0, 130.0, 30.0) == [(40.0, 100.0)]
    assert sample_intervals([(60.0, 70.0)], 10.0, 130.0, 30.0) == []


def test_transitions_and_rebuilding_are_inverse() -> None:
    occupied = [(0.0, 50.0), (80.0, 90.0), (95.0, 100.0)]
    events = transitions_from("d1", occupied, 0.0, 100.0)
    assert events == [("d1", "occupied", 0.0), ("d1", "vacant", 50.0),
                      ("d1", "occupied", 80.0), ("d1", "vacant", 90.0),
                      ("d1", "occupied", 95.0)]
    assert intervals_from_events(events, 100.0) == {"d1": occupied}
    assert transitions_from("d2", [], 0.0, 10.0) == [("d2", "vacant", 0.0)]


windows = st.lists(
    st.tuples(st.integers(0, 3000), st.integers(1, 400)), max_size=12
).map(lambda xs: merge_intervals((float(s), float(s + n)) for s, n in xs))


@given(truth=windows, step=st.sampled_from([10.0, 30.0, 60.0]))
def test_the_real_state_machine_matches_expected_occupancy(
    truth: list[tuple[float, float]], step: float
) -> None:
    """Replay a perfect sensor through edge.state on a grid; the hold is a multiple of the
    step, so the prediction is exact."""
    start, end, hold = 5.0, 3500.0, 300.0
    sensor, machine = SimulatedSensor(truth), DeskStateMachine(hold, desk="d")
    events = [
        (e.desk, e.state, e.at)
        for t in grid_times(start, end, step)
        if (e := machine.update(sensor.read(t))) is not None
    ]
    last = grid_times(start, end, step)[-1]
    rebuilt = intervals_from_events(events, last)["d"]
    assert rebuilt == expected_occupancy(sample_intervals(truth, start, end, step), hold,
                                         until=last)
    assert events[0][2] == start


def test_state_machine_reads_as_documented() -> None:
    machine = DeskStateMachine(H, desk="d")
    assert machine.update(Reading(0.0, "present")) is not None
    assert machine.update(Reading(10.0, "absent")) is None
    assert machine.update(Reading(609.0, "absent")) is None
    event = machine.update(Reading(610.0, "absent"))
    assert event is not None and (event.state, event.at) == ("vacant", 10.0)
