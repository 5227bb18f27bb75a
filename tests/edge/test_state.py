"""The desk state machine: hold time, late departure time, faults, recovery."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from edge.protocol import DeskEvent
from edge.sensors.base import Presence, Reading
from edge.state import DeskStateMachine

HOLD = 600.0


def feed(machine: DeskStateMachine, *readings: tuple[float, Presence]) -> list[DeskEvent]:
    events = [machine.update(Reading(at, presence)) for at, presence in readings]
    return [e for e in events if e is not None]


def ev(state: str, at: float) -> DeskEvent:
    return DeskEvent("d1", state, at)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("presence", "state"),
    [("present", "occupied"), ("absent", "vacant"), ("fault", "unknown")],
)
def test_first_reading_decides_at_once(presence: Presence, state: str) -> None:
    machine = DeskStateMachine(HOLD, desk="d1")
    assert machine.state == "unknown" and not machine.decided
    assert feed(machine, (100.0, presence)) == [ev(state, 100.0)]
    assert machine.state == state and machine.decided


def test_present_is_occupied_at_once_and_repeats_are_silent() -> None:
    machine = DeskStateMachine(HOLD, desk="d1")
    assert feed(machine, (0, "absent"), (10, "present"), (11, "present")) == [
        ev("vacant", 0), ev("occupied", 10)
    ]


def test_short_absence_is_a_person_sitting_still() -> None:
    machine = DeskStateMachine(HOLD, desk="d1")
    events = feed(machine, (0, "present"), (100, "absent"), (699, "absent"), (700, "present"),
                  (800, "absent"), (1399, "absent"))
    assert events == [ev("occupied", 0)]
    assert machine.state == "occupied"


def test_vacant_after_hold_is_dated_at_the_first_absent_reading() -> None:
    machine = DeskStateMachine(HOLD, desk="d1")
    assert feed(machine, (0, "present"), (100, "absent"), (400, "absent")) == [ev("occupied", 0)]
    assert machine.update(Reading(700, "absent")) == ev("vacant", 100)
    assert machine.update(Reading(800, "absent")) is None
    assert machine.state == "vacant"


def test_absence_restarts_after_presence() -> None:
    machine = DeskStateMachine(HOLD, desk="d1")
    events = feed(machine, (0, "present"), (100, "absent"), (500, "present"),
                  (600, "absent"), (1100, "absent"), (1200, "absent"))
    assert events == [ev("occupied", 0), ev("vacant", 600)]


def test_fault_is_unknown_at_once_and_interrupts_an_absent_run() -> None:
    machine = DeskStateMachine(HOLD, desk="d1")
    events = feed(machine, (0, "present"), (100, "absent"), (200, "fault"), (250, "fault"))
    assert events == [ev("occupied", 0), ev("unknown", 200)]
    # Recovering with absence: the run starts after the fault and still needs the hold.
    assert feed(machine, (300, "absent"), (899, "absent")) == []
    assert machine.state == "unknown"
    assert machine.update(Reading(900, "absent")) == ev("vacant", 300)


def test_recovering_with_presence_is_occupied_at_once() -> None:
    machine = DeskStateMachine(HOLD, desk="d1")
    assert feed(machine, (0, "fault"), (5, "present")) == [ev("unknown", 0), ev("occupied", 5)]


def test_zero_hold_means_absent_is_vacant_at_once() -> None:
    machine = DeskStateMachine(0, desk="d1")
    assert feed(machine, (0, "present"), (1, "absent")) == [ev("occupied", 0), ev("vacant", 1)]


def test_snapshot_reports_the_current_state_now() -> None:
    machine = DeskStateMachine(HOLD, desk="d1")
    assert machine.snapshot(5) is None
    feed(machine, (0, "present"), (1, "absent"))
    # Absent since 1 and the hold not over: occupied is only sure up to the present reading
    # at 0 (a vacancy, if it comes, is back-dated to 1; a snapshot at 50 would contradict it).
    assert machine.snapshot(50) == ev("occupied", 0)
    feed(machine, (60, "present"))
    assert machine.snapshot(70) == ev("occupied", 70)
    feed(machine, (80, "absent"), (700, "absent"))
    assert machine.snapshot(710) == ev("vacant", 710)


def test_negative_hold_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="hold_seconds"):
        DeskStateMachine(-1)


@given(
    st.floats(0, 50),
    st.lists(st.tuples(st.floats(0, 20), st.sampled_from(["present", "absent", "fault"])),
             max_size=60),
)
@example(0.0, [(5.0, "present"), (0.0, "absent")])
def test_events_alternate_and_vacancy_needs_the_hold(
    hold: float, steps: list[tuple[float, Presence]]
) -> None:
    """Never the same state twice in a row; times never go backwards; a vacant event is
    dated at an absent reading that was followed only by absences for >= hold."""
    machine = DeskStateMachine(hold, desk="d1")
    at, readings, events = 0.0, [], []
    for gap, presence in steps:
        at += gap
        readings.append(Reading(at, presence))
        if (event := machine.update(readings[-1])) is not None:
            events.append((len(readings) - 1, event))
    states = [e.state for _, e in events]
    assert all(a != b for a, b in zip(states, states[1:], strict=False))
    times = [e.at for _, e in events]
    assert times == sorted(times)
    for index, event in events:
        if event.state == "vacant" and index > 0:
            start = index
            while readings[start - 1].presence == "absent":
                start -= 1
            assert event.at == readings[start].at
            assert readings[index].at - event.at >= hold
    if events:
        assert machine.state == events[-1][1].state
