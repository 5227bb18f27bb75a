"""RSSI smoothing, path-loss distance and calibration, presence hysteresis and absence."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.ble.rssi import (
    Calibration,
    DeviceTrack,
    PresencePolicy,
    PresenceTracker,
    RssiSmoother,
    calibrate,
    distance_m,
    rssi_at,
)


def reference_estimate(window: list[float], reject_db: float) -> float:
    """The smoother's formula, written plainly: mean of samples within reject_db of the median."""
    median = statistics.median(window)
    kept = [v for v in window if abs(v - median) <= reject_db]
    return statistics.fmean(kept) if kept else median


def test_smoother_ignores_fades_and_follows_a_real_step() -> None:
    smoother = RssiSmoother(window=5, reject_db=8.0)
    readings = [-60, -61, -85, -59, -90]  # two deep fades among five
    estimates = [smoother.update(r, t) for t, r in enumerate(readings)]
    assert estimates[-1] == pytest.approx(-60.0)
    assert min(e for e in estimates if e is not None) >= -73  # never dragged to a fade
    for t in range(5, 8):  # the person moves away: three adverts at the new level
        estimate = smoother.update(-80, t)
    assert estimate == pytest.approx(-80.0, abs=0.5)


def test_smoother_rejects_sentinels_and_forgets_stale_readings() -> None:
    smoother = RssiSmoother(window=5, max_age_s=10.0)
    assert smoother.update(127, 0.0) is None  # BlueZ "not available"
    assert smoother.update(math.nan, 0.0) is None
    assert smoother.update(-128, 0.0) is None
    assert smoother.update(-70, 1.0) == -70
    # -70 and -50 are both more than reject_db from their median -60: the median stands.
    assert smoother.update(-50, 5.0) == pytest.approx(-60.0)
    assert smoother.value(11.5) == -50  # the reading at t=1 is older than 10 s
    assert smoother.value(15.5) is None
    with pytest.raises(ValueError):
        RssiSmoother(window=0)


def test_smoother_matches_the_reference_formula_on_random_data() -> None:
    rng = random.Random(7)
    smoother = RssiSmoother(window=7, max_age_s=1e9, reject_db=6.0)
    history: list[float] = []
    for t in range(2000):
        value = rng.gauss(-70, 4) if rng.random() > 0.2 else rng.uniform(-110, -40)
        history.append(value)
        assert smoother.update(value, float(t)) == pytest.approx(
            reference_estimate(history[-7:], 6.0))


@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(0, 1e6)), max_size=40))
def test_smoother_never_raises_and_stays_within_its_readings(
        samples: list[tuple[float, float]]) -> None:
    smoother = RssiSmoother()
    valid: list[float] = []
    for rssi, now in samples:
        estimate = smoother.update(rssi, now)
        if -127 <= rssi <= 20:
            valid.append(rssi)
        assert estimate is None or min(valid) - 1e-9 <= estimate <= max(valid) + 1e-9


def test_distance_follows_the_log_distance_model() -> None:
    cal = Calibration(exponent=2.0, offset=3.0)
    assert distance_m(-56, -59, cal) == pytest.approx(1.0)  # rssi == power + offset
    assert distance_m(-76, -59, cal) == pytest.approx(10.0)  # 20 dB weaker at n = 2
    assert distance_m(-69, -59, Calibration(4.0, 0.0)) == pytest.approx(10 ** 0.25)
    for d in (0.3, 1.0, 2.5, 12.0):
        assert distance_m(rssi_at(d, -59, cal), -59, cal) == pytest.approx(d)
    assert distance_m(-1000, 20, Calibration(0.5, 130)) == 1e9  # clamped, no overflow
    with pytest.raises(ValueError):
        rssi_at(0, -59, cal)


def test_calibration_bounds() -> None:
    for exponent, offset in ((0.1, 0.0), (math.inf, 0.0), (2.0, 131.0), (2.0, math.nan)):
        with pytest.raises(ValueError):
            Calibration(exponent, offset)


def test_calibrate_recovers_exponent_and_offset() -> None:
    truth = Calibration(exponent=2.7, offset=-4.0)
    exact = [(d, rssi_at(d, -59, truth)) for d in (0.5, 1, 2, 4, 8)]
    fitted = calibrate(exact, power=-59)
    assert fitted.exponent == pytest.approx(2.7) and fitted.offset == pytest.approx(-4.0)
    rng = random.Random(3)
    noisy = [(d, rssi_at(d, -59, truth) + rng.gauss(0, 2)) for d in (0.5, 1, 2, 4, 8)
             for _ in range(40)]
    rough = calibrate(noisy, power=-59)
    assert abs(rough.exponent - 2.7) < 0.25 and abs(rough.offset + 4.0) < 1.0
    absolute = calibrate(exact)  # power 0: offset is the receiver's RSSI at 1 m
    assert absolute.offset == pytest.approx(-63.0)


@pytest.mark.parametrize(("samples", "message"), [
    ([(1.0, -60.0), (1.0, -61.0)], "two or more different distances"),
    ([], "two or more different distances"),
    ([(0.0, -60.0), (2.0, -66.0)], "bad calibration sample"),
    ([(1.0, math.nan), (2.0, -66.0)], "bad calibration sample"),
    ([(1.0, -70.0), (4.0, -60.0)], "calibration fit is implausible"),  # stronger further away
])
def test_calibrate_refuses_unusable_samples(samples: list[tuple[float, float]],
                                            message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate(samples, power=-59)


POLICY = PresencePolicy(enter_dbm=-70, exit_dbm=-80, enter_dwell_s=3, exit_dwell_s=5,
                        window=1, absence_floor_s=5, initial_timeout_s=30)


def feed(track: DeviceTrack, readings: Sequence[tuple[float, float]]) -> list[bool]:
    return [track.observe(rssi, t) for t, rssi in readings]


def test_presence_needs_the_enter_threshold_for_the_dwell_time() -> None:
    track = DeviceTrack(POLICY, 0.0)
    states = feed(track, [(0, -65), (1, -65), (2, -65), (3, -65), (4, -65)])
    assert states == [False, False, False, True, True]
    brief = DeviceTrack(POLICY, 0.0)  # a passer-by: strong for 2 s only
    assert not any(feed(brief, [(0, -60), (1, -60), (2, -60), (3, -75), (4, -60)]))


def test_hysteresis_does_not_flap_between_the_thresholds() -> None:
    track = DeviceTrack(POLICY, 0.0)
    feed(track, [(t, -65) for t in range(4)])
    assert track.present
    hovering = [(4 + t, -72 if t % 2 else -79) for t in range(30)]  # between exit and enter
    assert all(feed(track, hovering))
    leaving = feed(track, [(34 + t, -85) for t in range(7)])
    assert leaving == [True] * 5 + [False] * 2  # exit after 5 s at or below -80
    assert not any(feed(track, [(41 + t, -72) for t in range(10)]))  # no re-entry at -72


def test_zero_dwell_flips_on_the_first_qualifying_advert() -> None:
    policy = PresencePolicy(enter_dbm=-70, exit_dbm=-80, enter_dwell_s=0, exit_dwell_s=0,
                            window=1)
    track = DeviceTrack(policy, 0.0)
    assert feed(track, [(0, -71), (1, -70), (2, -79), (3, -80)]) == [False, True, True, False]


def test_absence_timeout_follows_each_devices_own_interval() -> None:
    fast, slow = DeviceTrack(POLICY, 0.0), DeviceTrack(POLICY, 0.0)
    assert fast.absent_after() == 30  # nothing known yet: the initial timeout
    feed(fast, [(t * 0.1, -60) for t in range(20)])  # 100 ms advertiser
    feed(slow, [(t * 8.0, -60) for t in range(6)])  # 8 s advertiser
    assert fast.absent_after() == 5  # 3 x 0.1 s is below the 5 s floor
    assert slow.absent_after() == pytest.approx(24)  # 3 x 8 s
    assert not slow.gone(40 + 24) and slow.gone(40 + 24.5)
    lazy = DeviceTrack(POLICY, 0.0)
    feed(lazy, [(t * 100.0, -60) for t in range(4)])
    assert lazy.absent_after() == 120  # ceiling
    missed = DeviceTrack(POLICY, 0.0)  # a few missed adverts do not stretch the timeout
    feed(missed, [(t, -60) for t in (0, 2, 4, 6, 8, 18, 20, 22, 36, 38)])
    assert missed.absent_after() == 6


def test_tracker_sweeps_silent_devices_and_reports_who_left() -> None:
    tracker = PresenceTracker(POLICY)
    for t in range(6):
        tracker.observe("desk-phone", -60, float(t))
        tracker.observe("corridor", -90, float(t))
    assert tracker.present(5.0) == ["desk-phone"] and len(tracker) == 2
    assert tracker.sweep(9.0) == []  # 4 s silent < max(3 x 1 s, 5 s floor)
    assert tracker.present(10.5) == []  # silent 5.5 s: excluded even before a sweep
    assert tracker.sweep(10.5) == ["desk-phone"]
    assert len(tracker) == 0 and "desk-phone" not in tracker


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="hysteresis"):
        PresencePolicy(enter_dbm=-80, exit_dbm=-80)
    with pytest.raises(ValueError):
        PresencePolicy(enter_dwell_s=-1)
    with pytest.raises(ValueError):
        PresencePolicy(absence_floor_s=200, absence_ceiling_s=100)
    with pytest.raises(ValueError):
        PresencePolicy(gap_samples=0)


@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(-200, 200),
                          st.floats(0, 1e5)), max_size=60))
def test_tracker_never_raises_on_any_sequence(events: list[tuple[str, float, float]]) -> None:
    tracker = PresenceTracker()
    for key, rssi, now in events:
        assert tracker.observe(key, rssi, now) in (True, False)
    left = tracker.sweep(2e5)
    assert len(tracker) == 0 and len(left) <= 3
