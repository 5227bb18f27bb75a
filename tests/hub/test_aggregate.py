"""The numpy kernels against plain-Python references, and incremental rollups."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.protocol import DeskEvent, DesksMessage, Status, parse_topic, topic_for
from hub.db.protocol import Store
from hub.db.sqlite.store import Incoming
from hub.metrics.kernel import (
    OCCUPIED,
    UNKNOWN,
    VACANT,
    TransitionFrame,
    bin_state_seconds,
    intervals_from_transitions,
    occupied_seconds,
)
from hub.reports.rollup import refresh_rollups
from tests.hub.reference_metrics import reference_overlap
from tests.support.stores import StoreFactory

T0 = 1_700_000_100.0


# -- occupied_seconds ----------------------------------------------------------------------



@st.composite
def interval_sets(draw: st.DrawFn) -> tuple[list[tuple[int, float, float]], int, float, int]:
    n_desks = draw(st.integers(1, 4))
    bs = float(draw(st.sampled_from([60, 300, 900, 3600])))
    n_bins = draw(st.integers(1, 12))
    span = bs * n_bins
    offsets = st.floats(-span * 0.5, span * 1.5, allow_nan=False)
    intervals = []
    for _ in range(draw(st.integers(0, 15))):
        a, b = draw(offsets), draw(offsets)
        intervals.append((draw(st.integers(0, n_desks - 1)), T0 + a, T0 + b))
    return intervals, n_desks, bs, n_bins


@settings(max_examples=300, deadline=None)
@given(interval_sets())
def test_occupied_seconds_matches_the_reference(
    case: tuple[list[tuple[int, float, float]], int, float, int],
) -> None:
    intervals, n_desks, bs, n_bins = case
    desk = np.array([i[0] for i in intervals], dtype=np.int64)
    start = np.array([i[1] for i in intervals])
    end = np.array([i[2] for i in intervals])
    got = occupied_seconds(desk, start, end, n_desks=n_desks, t0=T0, bin_seconds=bs,
                           n_bins=n_bins)
    expected = reference_overlap(intervals, n_desks, T0, bs, n_bins)
    assert got.shape == (n_desks, n_bins)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_occupied_seconds_by_hand() -> None:
    got = occupied_seconds([0, 0, 1, 1], [10, 50, -100, 450], [40, 400, 1000, 450],
                           n_desks=3, t0=0, bin_seconds=100, n_bins=5)
    assert got.tolist() == [[80, 100, 100, 100, 0], [100, 100, 100, 100, 100], [0] * 5]
    empty = occupied_seconds([], [], [], n_desks=2, t0=0, bin_seconds=60, n_bins=3)
    assert empty.tolist() == [[0, 0, 0], [0, 0, 0]]


def test_occupied_seconds_refuses_a_desk_out_of_range() -> None:
    with pytest.raises(ValueError, match="desk index out of range"):
        occupied_seconds([2], [0], [10], n_desks=2, t0=0, bin_seconds=60, n_bins=1)


# -- intervals_from_transitions ------------------------------------------------------------

def reference_intervals(
    transitions: list[tuple[int, float, int]], until: float
) -> dict[int, list[tuple[int, float, float]]]:
    out: dict[int, list[tuple[int, float, float]]] = {VACANT: [], OCCUPIED: [], UNKNOWN: []}
    by_desk: dict[int, list[tuple[float, int, int]]] = {}
    for order, (desk, at, code) in enumerate(transitions):
        by_desk.setdefault(desk, []).append((at, order, code))
    for desk, items in by_desk.items():
        items.sort()
        for k, (at, _, code) in enumerate(items):
            end = items[k + 1][0] if k + 1 < len(items) else until
            start, end = min(at, until), min(end, until)
            if end > start:
                out[code].append((desk, start, end))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20).map(float),
                          st.sampled_from([VACANT, OCCUPIED, UNKNOWN])), max_size=25),
       st.integers(0, 25).map(float))
def test_intervals_match_the_reference(
    transitions: list[tuple[int, float, int]], until: float
) -> None:
    got = intervals_from_transitions(
        [t[0] for t in transitions], [t[1] for t in transitions], [t[2] for t in transitions],
        n_desks=4, until=until,
    )
    expected = reference_intervals(transitions, until)
    for code in (VACANT, OCCUPIED, UNKNOWN):
        d, s, e = got[code]
        assert sorted(zip(d.tolist(), s.tolist(), e.tolist(), strict=True)) == sorted(
            expected[code])


def test_intervals_from_out_of_order_transitions_with_a_tie() -> None:
    got = intervals_from_transitions(
        desk_index=[1, 0, 0, 0, 0], at=[5.0, 30.0, 10.0, 20.0, 20.0],
        state_code=[OCCUPIED, VACANT, OCCUPIED, UNKNOWN, OCCUPIED], n_desks=2, until=50.0,
    )
    # Desk 0: occupied 10-20, (unknown 20-20 loses the tie to occupied written later),
    # occupied 20-30, vacant 30-50. Desk 1: occupied 5-50.
    d, s, e = got[OCCUPIED]
    assert sorted(zip(d.tolist(), s.tolist(), e.tolist(), strict=True)) == [
        (0, 10.0, 20.0), (0, 20.0, 30.0), (1, 5.0, 50.0)]
    assert [a.tolist() for a in got[VACANT]] == [[0], [30.0], [50.0]]
    assert [a.size for a in got[UNKNOWN]] == [0, 0, 0]


def test_time_before_the_first_transition_is_unknown() -> None:
    frame = TransitionFrame(["a", "b"], np.array([0, 0]), np.array([150.0, 250.0]),
                            np.array([OCCUPIED, VACANT], dtype=np.int8))
    occupied, unknown, span = bin_state_seconds(frame, t0=0, bin_seconds=100, n_bins=4,
                                                until=330)
    assert occupied.tolist() == [[0, 50, 50, 0], [0, 0, 0, 0]]
    assert unknown.tolist() == [[100, 50, 0, 0], [100, 100, 100, 30]]
    assert span.tolist() == [[100, 100, 100, 30]] * 2


# -- rollups -------------------------------------------------------------------------------

BUILDING = {"sites": [{"id": "r1", "name": "R", "timezone": "UTC", "floors": [
    {"id": "f1", "name": "F", "level": 0, "zones": [{"id": "z1", "name": "Z", "desks": [
        {"id": f"r1-d{i}", "name": f"D{i}", "agent": "ra"} for i in range(5)
    ]}]},
]}]}
TOPIC = parse_topic(topic_for("r1", "ra", "desks"))


def random_events(seed: int) -> list[tuple[float, list[DeskEvent]]]:
    """(received, events) per message: mostly in order, some late by up to two hours."""
    rng = random.Random(seed)
    t = T0
    out = []
    for _ in range(60):
        t += rng.uniform(0, 900)
        at = t - (rng.uniform(0, 7200) if rng.random() < 0.15 else 0)
        events = [DeskEvent(f"r1-d{rng.randrange(4)}", rng.choice(("occupied", "vacant",
                                                                    "unknown")), at)]
        out.append((t, events))
    return out


def rollup_table(store: Store) -> dict[tuple[str, int], tuple[float, float, float]]:
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in store.db.execute(
        "SELECT desk, bin_start, occupied_s, unknown_s, span_s FROM rollups")}


SEED = int(os.environ.get("DESKPULSE_TEST_SEED", "7"))


@pytest.mark.parametrize("seed", [SEED, SEED + 1, SEED + 2])
def test_incremental_rollups_equal_a_full_recompute(
    open_test_store: StoreFactory, seed: int
) -> None:
    events = random_events(seed)
    incremental = open_test_store("inc")
    full = open_test_store("full")
    for s in (incremental, full):
        s.import_building(BUILDING)
    for seq, (received, evs) in enumerate(events, start=1):
        msg = DesksMessage(agent="ra", boot=1, seq=seq, sent=received, events=tuple(evs))
        incremental.apply([Incoming(TOPIC, msg, received)])
        full.apply([Incoming(TOPIC, msg, received)])
        if seq % 7 == 0:
            refresh_rollups(incremental, received, 900)
    # A late last-will and one more very late event after the last refresh.
    now = events[-1][0] + 1000
    will = Status(online=False, boot=1)
    late = DesksMessage(agent="ra", boot=1, seq=999, sent=now,
                        events=(DeskEvent("r1-d1", "occupied", T0 + 3000),))
    for s in (incremental, full):
        s.apply([Incoming(parse_topic(topic_for("r1", "ra", "status")), will, now - 500),
                 Incoming(TOPIC, late, now - 400)])
    refresh_rollups(incremental, now, 900)
    refresh_rollups(full, now, 900)
    got, expected = rollup_table(incremental), rollup_table(full)
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        np.testing.assert_allclose(got[key], values, atol=1e-6, err_msg=str(key))
    assert all(span <= 900 for _, _, span in got.values())
    incremental.close()
    full.close()


def test_rollups_extend_in_the_current_state_without_new_events(
    open_test_store: StoreFactory,
) -> None:
    store = open_test_store()
    store.import_building(BUILDING)
    start = 1_700_001_000.0  # a bin boundary (900 s)
    msg = DesksMessage(agent="ra", boot=1, seq=1, sent=start + 100, events=(
        DeskEvent("r1-d0", "occupied", start + 100), DeskEvent("r1-d1", "vacant", start)))
    store.apply([Incoming(TOPIC, msg, start + 100)])
    assert refresh_rollups(store, start + 400, 900) == 2
    assert rollup_table(store)[("r1-d0", int(start))] == (300.0, 100.0, 400.0)
    refresh_rollups(store, start + 2000, 900)
    table = rollup_table(store)
    assert table[("r1-d0", int(start))] == (800.0, 100.0, 900.0)
    assert table[("r1-d0", int(start) + 900)] == (900.0, 0.0, 900.0)
    assert table[("r1-d0", int(start) + 1800)] == (200.0, 0.0, 200.0)
    assert table[("r1-d1", int(start) + 1800)] == (0.0, 0.0, 200.0)
    assert ("r1-d2", int(start)) not in table  # never seen: no rollups at all
    frame = store.rollups("r1", start, start + 2000)
    assert frame.occupied[0].tolist() == [800.0, 900.0, 200.0]
    store.close()


def test_rollups_refuse_a_changed_bin_width(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    refresh_rollups(store, T0, 900)
    from hub.errors import ConfigError
    with pytest.raises(ConfigError, match="this database's rollups use bin_seconds=900"):
        refresh_rollups(store, T0, 300)
    store.close()


def test_rollups_in_slices_equal_one_pass_with_future_stamps(
    open_test_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slices of one desk per transaction, idle desks extended without their transitions,
    and an event stamped after a refresh's ``now`` (cut off, then counted when its time
    comes): the same rollups as one full recompute at the end."""
    import hub.reports.rollup

    sliced, full = open_test_store("sliced"), open_test_store("full")
    for s in (sliced, full):
        s.import_building(BUILDING)
    start = 1_700_001_000.0  # a bin boundary (900 s)
    steps = [
        (start + 100, [DeskEvent("r1-d0", "occupied", start + 100),
                       DeskEvent("r1-d1", "vacant", start + 50),
                       DeskEvent("r1-d2", "unknown", start + 60)]),
        (start + 500, [DeskEvent("r1-d3", "occupied", start + 530)]),  # 30 s ahead
        (start + 1300, [DeskEvent("r1-d1", "occupied", start + 1250)]),
    ]
    monkeypatch.setattr(hub.reports.rollup, "DIRTY_SLICE", 1)
    monkeypatch.setattr(hub.reports.rollup, "IDLE_SLICE", 1)
    for seq, (received, evs) in enumerate(steps, start=1):
        msg = DesksMessage(agent="ra", boot=1, seq=seq, sent=received, events=tuple(evs))
        for s in (sliced, full):
            s.apply([Incoming(TOPIC, msg, received)])
        refresh_rollups(sliced, received + 10, 900)
        refresh_rollups(sliced, received + 200, 900)  # nothing dirty: extension only
    now = start + 4000
    refresh_rollups(sliced, now, 900)
    refresh_rollups(full, now, 900)
    got, expected = rollup_table(sliced), rollup_table(full)
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        np.testing.assert_allclose(got[key], values, atol=1e-6, err_msg=str(key))
    assert got[("r1-d3", int(start))] == pytest.approx((370.0, 530.0, 900.0))
    assert got[("r1-d2", int(start) + 3600)] == pytest.approx((0.0, 400.0, 400.0))
