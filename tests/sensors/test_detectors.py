"""Exact transitions of each detector on small hand-written traces, fusion and the pipeline."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from edge.sensors.base import Reading
from edge.sensors.contact import ContactDetector
from edge.sensors.fusion import fuse
from edge.sensors.pipeline import DetectingSensor, FusedSensor, SensorFault
from edge.sensors.pir import PirDetector
from edge.sensors.thermopile import ThermopileDetector


def run(detector: object, trace: Sequence[tuple[float, object]]) -> list[tuple[float, str]]:
    update = detector.update  # type: ignore[attr-defined]
    return [(at, update(at, sample).presence) for at, sample in trace]


def changes(readings: list[tuple[float, str]]) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    for at, presence in readings:
        if not out or out[-1][1] != presence:
            out.append((at, presence))
    return out


# -- PIR ----------------------------------------------------------------------------------


def test_pir_confirms_motion_then_holds_and_decays() -> None:
    trace: list[tuple[float, object]] = [
        (0, False), (10, True), (20, True), (30, True), (330, False), (449, False),
        (450, False), (451, False),
    ]
    assert run(PirDetector(), trace) == [
        (0, "absent"), (10, "absent"), (20, "absent"),  # 10 s of motion is not yet 15
        (30, "present"), (330, "present"),  # hold: p = 1 for 300 s after the last motion
        (449, "present"), (450, "present"),  # then one half-life to reach 0.5
        (451, "absent"),
    ]


def test_pir_probability_halves_every_half_life_after_the_hold() -> None:
    pir = PirDetector(confirm_seconds=0)
    assert pir.probability(0) == 0.0
    pir.update(100, True)
    assert pir.probability(400) == 1.0
    assert pir.probability(400 + 240) == pytest.approx(0.25)
    assert pir.absent_after == pytest.approx(420)


def test_pir_ignores_a_lone_passer_by_but_not_a_second_pulse_in_the_window() -> None:
    trace: list[tuple[float, object]] = [
        (1000, True), (1010, False), (1200, True),  # 200 s later: outside the 120-s window
        (1210, False), (1220, True),  # 20 s after the pulse at 1200: confirmed
    ]
    assert run(PirDetector(), trace) == [
        (1000, "absent"), (1010, "absent"), (1200, "absent"), (1210, "absent"),
        (1220, "present"),
    ]


def test_pir_dropouts_keep_the_decaying_verdict_then_fault() -> None:
    pir = PirDetector(confirm_seconds=0, hold_seconds=30, decay_half_life=10)
    trace: list[tuple[float, object]] = [
        (0, True), (20, None), (41, None), (59, None), (60, None), (61, False),
    ]
    assert run(pir, trace) == [
        (0, "present"), (20, "present"), (41, "absent"), (59, "absent"),
        (60, "fault"),  # 60 s without a valid sample
        (61, "absent"),
    ]


def test_pir_faults_on_non_bool_samples_and_before_any_sample() -> None:
    pir = PirDetector()
    assert pir.update(0, None).presence == "fault"
    assert pir.update(1, 1).presence == "fault"
    assert pir.update(2, "yes").presence == "fault"
    assert pir.update(3, np.bool_(False)).presence == "absent"
    assert pir.update(math.nan, False).presence == "fault"


def test_pir_stuck_high_is_a_fault_until_it_drops() -> None:
    pir = PirDetector(confirm_seconds=0, stuck_seconds=100)
    trace = [(float(t), True) for t in range(0, 101, 10)] + [(110.0, False)]
    assert changes(run(pir, trace)) == [(0, "present"), (100, "fault"), (110, "present")]


# -- contact --------------------------------------------------------------------------------


def test_contact_debounces_bounce_and_weight_shifts() -> None:
    trace: list[tuple[float, object]] = [
        (0, False), (1, True), (2, False),  # bounce
        (3, True), (4, True), (5, True),  # sat down: believed after 2 s
        (6, False), (7, True),  # shifting weight
        (8, False), (9, False), (10, False),  # got up
        (20, None), (70, None), (71, "x"), (72, False),
    ]
    assert run(ContactDetector(), trace) == [
        (0, "absent"), (1, "absent"), (2, "absent"),
        (3, "absent"), (4, "absent"), (5, "present"),
        (6, "present"), (7, "present"),
        (8, "present"), (9, "present"), (10, "absent"),
        (20, "absent"), (70, "fault"), (71, "fault"), (72, "absent"),
    ]


def test_contact_at_a_slow_poll_needs_two_samples_and_zero_debounce_needs_one() -> None:
    trace: list[tuple[float, object]] = [(0, False), (10, True), (20, True), (30, False)]
    assert changes(run(ContactDetector(), trace)) == [(0, "absent"), (20, "present")]
    assert changes(run(ContactDetector(debounce_seconds=0), trace)) == [
        (0, "absent"), (10, "present"), (30, "absent"),
    ]


def test_contact_closed_for_too_long_is_stuck() -> None:
    trace = [(float(t), True) for t in range(0, 11)] + [(11.0, False)]
    assert changes(run(ContactDetector(stuck_seconds=5), trace)) == [
        (0, "present"), (5, "fault"), (11, "present"),  # open once: still debouncing
    ]


# -- thermopile -----------------------------------------------------------------------------


ROOM = 22.0 + 0.1 * np.add.outer(np.arange(8), np.arange(8))  # a gentle gradient


def frame(t: float, *, extra: np.ndarray | None = None, drift: float = 0.0) -> np.ndarray:
    """The empty room at ``t`` with a small deterministic dither (never frozen)."""
    dither = np.random.default_rng(int(t)).normal(0.0, 0.05, (8, 8))
    return ROOM + drift + dither + (0.0 if extra is None else extra)


def patch(rows: slice, cols: slice, value: float) -> np.ndarray:
    out = np.zeros((8, 8))
    out[rows, cols] = value
    return out


PERSON = patch(slice(4, 7), slice(3, 6), 5.0)  # 9 pixels, +5 °C


def test_thermopile_person_arrives_and_leaves_despite_room_drift() -> None:
    trace: list[tuple[float, object]] = []
    for t in range(0, 4020, 10):
        drift = max(0.0, t - 600) * 0.0005  # the room warms 1.7 °C while they sit
        trace.append((t, frame(t, drift=drift, extra=PERSON if 610 <= t < 4010 else None)))
    assert changes(run(ThermopileDetector(), trace)) == [
        (0, "absent"), (610, "present"), (4010, "absent"),
    ]


@pytest.mark.parametrize("name, extra", [
    ("laptop", patch(slice(0, 2), slice(0, 2), 12.0)),  # 4 hot pixels < 5
    ("coffee cup", patch(slice(1, 2), slice(6, 7), 25.0)),
    ("thin warm strip", patch(slice(2, 3), slice(0, 4), 8.0)),
])
def test_thermopile_small_hot_things_are_not_people(name: str, extra: np.ndarray) -> None:
    trace: list[tuple[float, object]] = [(t, frame(t)) for t in range(0, 100, 10)]
    trace += [(t, frame(t, extra=extra)) for t in range(100, 2000, 10)]
    assert changes(run(ThermopileDetector(), trace)) == [(0, "absent")], name


def test_thermopile_a_slowly_rising_sun_patch_is_learned() -> None:
    sun = patch(slice(0, 6), slice(0, 3), 1.0)  # 18 pixels, up to +6 °C over 2 hours
    trace: list[tuple[float, object]] = [
        (t, frame(t, extra=sun * min(6.0, t / 1200.0))) for t in range(0, 9000, 10)
    ]
    assert changes(run(ThermopileDetector(), trace)) == [(0, "absent")]


def test_thermopile_a_person_is_never_learned_into_the_background() -> None:
    trace: list[tuple[float, object]] = [(0, frame(0))]
    trace += [(t, frame(t, extra=PERSON)) for t in range(10, 8 * 3600, 30)]
    assert changes(run(ThermopileDetector(), trace)) == [(0, "absent"), (10, "present")]


@pytest.mark.parametrize("name, bad", [
    ("nan", np.where(np.eye(8, dtype=bool), np.nan, ROOM)),
    ("inf", np.where(np.eye(8, dtype=bool), np.inf, ROOM)),
    ("too hot", ROOM + 70.0),
    ("too cold", ROOM - 50.0),
    ("all identical", np.full((8, 8), 22.0)),
    ("wrong shape", ROOM[:, :7]),
    ("flat", ROOM.ravel()),
    ("strings", ROOM.astype(str)),
    ("a list", ROOM.tolist()),
    ("bool pixels", ROOM > 22.5),
])
def test_thermopile_implausible_frames_are_faults(name: str, bad: object) -> None:
    thermo = ThermopileDetector()
    assert thermo.update(0, frame(0)).presence == "absent"
    assert thermo.update(10, bad).presence == "fault", name
    assert thermo.update(20, frame(20)).presence == "absent"


def test_thermopile_a_frozen_frame_is_a_fault_and_dropouts_keep_the_verdict() -> None:
    still = frame(0, extra=PERSON)
    trace: list[tuple[float, object]] = [
        (0, frame(12345)), (10, still), (20, still.copy()), (69, still), (70, still),
        (80, frame(80, extra=PERSON)), (90, None), (139, None), (140, None),
    ]
    assert run(ThermopileDetector(), trace) == [
        (0, "absent"), (10, "present"), (20, "present"), (69, "present"),
        (70, "fault"),  # the same frame for 60 s
        (80, "present"), (90, "present"), (139, "present"), (140, "fault"),
    ]


def test_detectors_refuse_nonsense_settings() -> None:
    for make in (lambda: PirDetector(threshold=0), lambda: PirDetector(decay_half_life=0),
                 lambda: PirDetector(confirm_seconds=200), lambda: ContactDetector(
                     debounce_seconds=-1), lambda: ThermopileDetector(min_pixels=65),
                 lambda: ThermopileDetector(delta=0)):
        with pytest.raises(ValueError):
            make()


# -- fusion and the pipeline -------------------------------------------------------------


@pytest.mark.parametrize("presences, expected", [
    (("present",), "present"),
    (("absent",), "absent"),
    (("fault",), "fault"),
    (("absent", "present"), "present"),
    (("fault", "present"), "present"),
    (("fault", "absent"), "absent"),
    (("fault", "fault"), "fault"),
    (("absent", "absent", "fault"), "absent"),
])
def test_fuse(presences: tuple[str, ...], expected: str) -> None:
    readings = [Reading(float(n), p) for n, p in enumerate(presences)]  # type: ignore[arg-type]
    assert fuse(readings) == Reading(float(len(presences) - 1), expected)  # type: ignore[arg-type]


def test_fuse_needs_a_reading() -> None:
    with pytest.raises(ValueError):
        fuse([])


class ScriptedDriver:
    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)

    def sample(self, now: float) -> object:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class BrokenDetector:
    def update(self, at: float, sample: object | None) -> Reading:
        raise RuntimeError("bug")


def test_detecting_sensor_turns_driver_failures_into_missing_samples() -> None:
    driver = ScriptedDriver(False, SensorFault("i2c"), OSError("gone"), True, SensorFault("x"))
    sensor = DetectingSensor(driver, ContactDetector(debounce_seconds=0))
    assert [sensor.read(t).presence for t in (0, 10, 20, 30, 100)] == [
        "absent", "absent", "absent", "present", "fault",
    ]
    assert DetectingSensor(ScriptedDriver(True), BrokenDetector()).read(5) == Reading(5, "fault")


class Fixed:
    def __init__(self, presence: str) -> None:
        self.presence = presence

    def read(self, now: float) -> Reading:
        if self.presence == "raise":
            raise RuntimeError("broken sensor")
        return Reading(now, self.presence)  # type: ignore[arg-type]


def test_fused_sensor() -> None:
    assert FusedSensor([Fixed("absent"), Fixed("present")]).read(3) == Reading(3, "present")
    assert FusedSensor([Fixed("raise"), Fixed("absent")]).read(3) == Reading(3, "absent")
    assert FusedSensor([Fixed("raise")]).read(3) == Reading(3, "fault")
    with pytest.raises(ValueError):
        FusedSensor([])


def test_detecting_sensor_logs_a_run_of_failures_once(caplog: pytest.LogCaptureFixture) -> None:
    outcomes = [SensorFault("bus")] * 5 + [False, SensorFault("bus"), False]
    sensor = DetectingSensor(ScriptedDriver(*outcomes), ContactDetector())
    with caplog.at_level("INFO", logger="edge.sensors.pipeline"):
        for t in range(len(outcomes)):
            sensor.read(float(t))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "ScriptedDriver failed 3 time(s) in a row (SensorFault: bus)"),
        ("INFO", "ScriptedDriver recovered after 5 failed reads"),
    ]


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_thermopile_accepts_array_subclasses_without_raising() -> None:
    thermo = ThermopileDetector()
    assert thermo.update(0, np.ma.array(ROOM, mask=np.eye(8, dtype=bool))).presence == "absent"
    assert thermo.update(10, np.asmatrix(ROOM + 0.01)).presence == "absent"
    assert thermo.update(20, np.ma.masked_all((8, 8))).presence in {"absent", "fault"}


def _sitting(pir: PirDetector, gaps: list[float]) -> float:
    """Settling in (20 s of motion), then one short stir after each gap; the time after."""
    for t in range(0, 25, 5):
        pir.update(float(t), True)
    t = 20.0
    for gap in gaps:
        pir.update(t + 5.0, False)
        t += gap
        pir.update(t, True)
    return t


def test_adaptive_hold_follows_the_desks_motion_rhythm() -> None:
    typist = PirDetector(min_hold_seconds=120, max_hold_seconds=600)
    _sitting(typist, [20.0] * 10)
    assert typist.hold == 120  # frequent motion: the desk lets go soon
    reader = PirDetector(min_hold_seconds=120, max_hold_seconds=600)
    _sitting(reader, [200.0] * 10)
    assert reader.hold == 400  # 2 x the 90th percentile gap (200 s)
    sleeper = PirDetector(min_hold_seconds=120, max_hold_seconds=600)
    end = _sitting(sleeper, [200.0] * 3 + [380.0] * 6)
    assert sleeper.hold == 600  # capped: the live departure time stays bounded
    assert sleeper.absent_after == pytest.approx(720)
    assert sleeper.update(end + 700.0, False).presence == "present"
    assert sleeper.update(end + 730.0, False).presence == "absent"
    # a new sitting after the desk went absent starts from hold_seconds again
    _sitting_again = end + 3000.0
    for t in range(0, 25, 5):
        sleeper.update(_sitting_again + t, True)
    assert sleeper.hold == sleeper.hold_seconds


def test_after_standing_up_a_passer_by_earns_only_the_minimum_hold() -> None:
    pir = PirDetector(min_hold_seconds=120, max_hold_seconds=600)
    end = _sitting(pir, [200.0] * 10)  # a reader: the learned hold is 400 s
    assert pir.hold == 400
    for t in range(5, 30, 5):  # standing up to leave: a burst
        pir.update(end + t, True)
    left = end + 25.0
    pir.update(left + 5.0, False)
    pir.update(left + 100.0, True)  # a passer-by walks past 100 s later
    pir.update(left + 105.0, False)
    # the burst and the stir hold only 120 s each (+ one 120-s half-life), not 400 s
    assert pir.update(left + 100.0 + 235.0, False).presence == "present"
    assert pir.update(left + 100.0 + 245.0, False).presence == "absent"
    pir.update(left + 600.0, True)  # a lone passer-by near the empty desk: not believed
    assert pir.update(left + 605.0, False).presence == "absent"


@pytest.mark.parametrize(
    ("pir", "seat", "expected"),
    [
        ("present", "absent", "absent"),  # a passer-by near an empty chair
        ("absent", "present", "present"),  # a still reader on the chair
        ("present", "fault", "present"),  # the seat sensor is broken: the PIR stands in
        ("absent", "fault", "absent"),
        ("fault", "fault", "fault"),
    ],
)
def test_fusion_prefers_the_seat_sensor_over_a_pir(pir: str, seat: str, expected: str) -> None:
    readings = [Reading(1.0, pir), Reading(2.0, seat)]  # type: ignore[arg-type]
    assert fuse(readings, [False, True]) == Reading(2.0, expected)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fuse(readings, [True])
