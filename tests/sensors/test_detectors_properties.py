"""Property tests: detectors never raise, whatever the samples; blobs match a reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge.sensors.base import Reading
from edge.sensors.contact import ContactDetector
from edge.sensors.pipeline import DetectingSensor, SensorFault
from edge.sensors.pir import PirDetector
from edge.sensors.thermopile import ThermopileDetector, blobs

PRESENCES = {"present", "absent", "fault"}

frames = st.one_of(
    hnp.arrays(np.float64, (8, 8), elements=st.floats(allow_nan=True, allow_infinity=True)),
    hnp.arrays(np.float64, (8, 8), elements=st.floats(-25.0, 85.0)),
    hnp.arrays(np.float32, (8, 8), elements=st.floats(15.0, 40.0, width=32)),
    hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(max_dims=3, max_side=9)),
)
anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.lists(st.integers(), max_size=3), frames, st.builds(object),
)
times = st.one_of(
    st.floats(0.0, 1e10),
    st.floats(allow_nan=True, allow_infinity=True),
)
traces = st.lists(st.tuples(times, anything), max_size=25)


def check(detector: object, trace: list[tuple[float, object]]) -> None:
    for at, sample in trace:
        reading = detector.update(at, sample)  # type: ignore[attr-defined]
        assert isinstance(reading, Reading)
        assert reading.presence in PRESENCES


@settings(max_examples=80, deadline=None)
@given(traces)
def test_pir_never_raises(trace: list[tuple[float, object]]) -> None:
    check(PirDetector(), trace)
    check(PirDetector(confirm_seconds=0, stuck_seconds=1, missing_seconds=1), trace)


@settings(max_examples=80, deadline=None)
@given(traces)
def test_contact_never_raises(trace: list[tuple[float, object]]) -> None:
    check(ContactDetector(), trace)
    check(ContactDetector(debounce_seconds=0, stuck_seconds=1), trace)


@settings(max_examples=80, deadline=None)
@given(traces)
def test_thermopile_never_raises(trace: list[tuple[float, object]]) -> None:
    check(ThermopileDetector(), trace)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1e9), frames), max_size=20))
def test_thermopile_verdicts_on_frames(trace: list[tuple[float, np.ndarray]]) -> None:
    """Frames outside -20..80 °C or with NaN/inf are always faults; nothing raises."""
    detector = ThermopileDetector()
    for at, sample in sorted(trace, key=lambda item: item[0]):
        reading = detector.update(at, sample)
        plausible = (
            sample.shape == (8, 8) and sample.dtype.kind in "iuf"
            and bool(np.isfinite(sample).all())
            and -20.0 <= float(sample.min()) < float(sample.max()) <= 80.0
        )
        if not plausible:
            assert reading.presence == "fault"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(anything, st.sampled_from([SensorFault("x"), OSError("y")])),
                max_size=20))
def test_detecting_sensor_never_raises(outcomes: list[object]) -> None:
    class Driver:
        def sample(self, now: float) -> object:
            outcome = outcomes[int(now)]
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

    for detector in (PirDetector(), ContactDetector(), ThermopileDetector()):
        sensor = DetectingSensor(Driver(), detector)
        for now in range(len(outcomes)):
            assert sensor.read(float(now)).presence in PRESENCES


def reference_blobs(hot: np.ndarray, min_pixels: int, grow: bool) -> np.ndarray:
    """Plain flood fill over (row, col) tuples."""
    seen = np.zeros((8, 8), bool)
    keep = np.zeros((8, 8), bool)
    for r in range(8):
        for c in range(8):
            if not hot[r, c] or seen[r, c]:
                continue
            seen[r, c] = True
            component, stack = [(r, c)], [(r, c)]
            while stack:
                a, b = stack.pop()
                for x in range(a - 1, a + 2):
                    for y in range(b - 1, b + 2):
                        if 0 <= x < 8 and 0 <= y < 8 and hot[x, y] and not seen[x, y]:
                            seen[x, y] = True
                            component.append((x, y))
                            stack.append((x, y))
            if len(component) >= min_pixels:
                for a, b in component:
                    keep[a, b] = True
    if grow:
        grown = keep.copy()
        for r, c in zip(*np.nonzero(keep), strict=True):
            grown[max(0, r - 1) : r + 2, max(0, c - 1) : c + 2] = True
        keep = grown
    return keep


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(np.bool_, (8, 8)), st.integers(1, 12), st.booleans())
def test_blobs_match_a_plain_flood_fill(hot: np.ndarray, min_pixels: int, grow: bool) -> None:
    assert (blobs(hot, min_pixels, grow=grow) == reference_blobs(hot, min_pixels, grow)).all()
