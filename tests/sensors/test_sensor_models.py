"""The simulated drivers: deterministic, realistic enough, and failing like hardware."""

from __future__ import annotations

import numpy as np
import pytest

from edge.sensors.contact import ContactDetector
from edge.sensors.pipeline import DetectingSensor, SensorFault
from edge.sensors.pir import PirDetector
from edge.sensors.thermopile import ThermopileDetector, plausible
from firmware_sim.sensor_models import SimContactDriver, SimPirDriver, SimThermopileDriver

DAY = 86400.0
# Seated 09:00-12:00 and 13:00-17:00 (UTC, tz offset 0) on one day.
VISITS = [(9 * 3600.0, 12 * 3600.0), (13 * 3600.0, 17 * 3600.0)]
TIMES = [float(t) for t in range(0, int(DAY), 10)]
DRIVERS = (SimPirDriver, SimContactDriver, SimThermopileDriver)


def samples(driver: object, times: list[float] = TIMES) -> list[object]:
    out: list[object] = []
    for t in times:
        try:
            out.append(driver.sample(t))  # type: ignore[attr-defined]
        except SensorFault:
            out.append(None)
    return out


def same(a: list[object], b: list[object]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x, y) if isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
        else x == y
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("make", DRIVERS)
def test_drivers_are_deterministic_for_a_seed(make: type) -> None:
    times = TIMES[::6]
    first = samples(make(VISITS, seed=5), times)
    assert same(first, samples(make(VISITS, seed=5), times))
    assert not same(first, samples(make(VISITS, seed=6), times))


@pytest.mark.parametrize("make", DRIVERS)
def test_drivers_fail_sometimes_and_outages_last(make: type) -> None:
    values = samples(make(VISITS, seed=1, glitch_rate=0.05, outage_rate=0.0), TIMES[:2000])
    assert 50 <= sum(v is None for v in values) <= 150
    driver = make(VISITS, seed=1, glitch_rate=0.0, outage_rate=1.0)
    if make is SimThermopileDriver:
        # a wedged device either never answers or repeats a frame: never fresh data
        values = samples(driver, TIMES[:50])
        assert all(v is None for v in values)
    else:
        with pytest.raises(SensorFault):
            driver.sample(0.0)


def test_pir_misses_still_people_and_sees_few_passers_by() -> None:
    values = samples(SimPirDriver(VISITS, seed=2, glitch_rate=0, outage_rate=0))
    seated = [v for t, v in zip(TIMES, values, strict=True) if 9 * 3600 <= t < 12 * 3600]
    assert 0.2 < sum(map(bool, seated)) / len(seated) < 0.6  # motion in a minority-to-half of reads
    night = [v for t, v in zip(TIMES, values, strict=True) if t < 7 * 3600]
    assert not any(night)
    # very still spells: some 10-minute slot with someone seated shows no motion at all
    slots = [seated[k : k + 60] for k in range(0, len(seated), 60)]
    assert any(not any(slot) for slot in slots)


def test_contact_bounces_only_around_transitions() -> None:
    driver = SimContactDriver(VISITS, seed=3, glitch_rate=0, outage_rate=0, stand_share=0,
                              shift_probability=0)
    times = [9 * 3600.0 + dt for dt in np.arange(-5, 10, 0.25)]
    values = samples(driver, times)
    assert not any(v for t, v in zip(times, values, strict=True) if t < 9 * 3600)
    assert all(v for t, v in zip(times, values, strict=True) if t >= 9 * 3600 + 3)
    assert len({v for t, v in zip(times, values, strict=True)
                if 9 * 3600 <= t < 9 * 3600 + 3}) == 2  # bounce: both values


def test_thermopile_frames_are_plausible_and_show_the_person() -> None:
    driver = SimThermopileDriver(VISITS, seed=4, glitch_rate=0, outage_rate=0)
    frames = samples(driver, TIMES[::30])
    assert all(plausible(f) is not None for f in frames)
    assert all(isinstance(f, np.ndarray) and f.shape == (8, 8) and f.dtype == np.float64
               for f in frames)
    night = frames[0]
    seated = driver.sample(10 * 3600.0)
    assert float(np.max(seated - night)) > 3.0  # type: ignore[operator]
    assert np.all(np.asarray(frames) % 0.25 == 0)  # 0.25 °C resolution


@pytest.mark.parametrize("make, detector", [
    (SimPirDriver, PirDetector), (SimContactDriver, ContactDetector),
    (SimThermopileDriver, ThermopileDetector),
])
def test_detectors_follow_the_simulated_day(make: type, detector: type) -> None:
    sensor = DetectingSensor(make(VISITS, seed=7), detector())
    readings = [sensor.read(t).presence for t in TIMES]
    truth = [any(s <= t < e for s, e in VISITS) for t in TIMES]
    agree = np.mean([(r == "present") == seated for r, seated in zip(readings, truth,
                                                                      strict=True)])
    assert agree > 0.9


@pytest.mark.parametrize("poll", [1.0, 20.0])
def test_passers_by_trigger_the_pir_but_the_detector_waits_for_more(poll: float) -> None:
    driver = SimPirDriver([], seed=9, false_per_day=6.0, glitch_rate=0, outage_rate=0)
    pir = PirDetector()
    times = np.arange(7 * 3600.0, 19 * 3600.0, poll)
    triggered = 0
    for t in times:
        motion = driver.sample(float(t))
        triggered += motion
        assert pir.update(float(t), motion).presence == "absent"
    # about 6 pulses of 10 s: seen ~10 times each at 1 Hz, at most once at a 20-s poll
    per_pulse = 10 if poll == 1.0 else 1
    assert 2 * per_pulse <= triggered <= 12 * per_pulse
