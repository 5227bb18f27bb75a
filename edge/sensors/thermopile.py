"""8x8 thermopile (Grid-EYE class) detector: a warm blob above a learned background.

Each pixel has a background temperature. A person is a connected group (8-neighbour) of
at least ``min_pixels`` pixels each at least ``delta`` °C above its background. Why this is
robust to the usual desk clutter:

- a warm laptop or a coffee cup is hot but covers one to four pixels: below ``min_pixels``,
  and while it sits there it is learned into the background;
- a sun patch or the building warming up drifts slowly: the background follows it.

Background update, with ``alpha = 1 - exp(-dt / adapt_seconds)``:

- while the desk is vacant, every pixel moves ``alpha`` of the way to the frame;
- while someone is there, pixels away from the person (outside the blob grown by one
  pixel, since the blob's warm fringe moves with the person) still adapt, and the grown
  blob's pixels are shifted by the mean change of the cool pixels, so a slow global drift
  during a long sit leaves no "ghost" of the person behind. The person is never learned
  into the background.

The first valid frame is taken as the empty desk: someone already seated when the agent
starts is only seen once they have left and come back (the background then relearns).

A frame is implausible, and the reading a fault at once, when it is not an (8, 8) numeric
array, holds NaN/inf, has a pixel outside ``-20..80`` °C, or all its pixels are identical
(a stuck or blank read-out). Identical frames for ``stuck_seconds`` are a frozen sensor.
Missing samples (None) keep the last verdict for ``missing_seconds``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from edge.sensors.base import Presence, Reading

__all__ = ["ThermopileDetector"]

SHAPE = (8, 8)
MIN_C, MAX_C = -20.0, 80.0
_N = SHAPE[0] * SHAPE[1]


# Pixel (r, c) is bit r * 8 + c of a 64-bit int: 8-neighbour dilation is a few shifts.
_FULL = (1 << _N) - 1
_NOT_COL0 = int.from_bytes(bytes([0xFE] * 8), "little")
_NOT_COL7 = int.from_bytes(bytes([0x7F] * 8), "little")


def _dilate(bits: int) -> int:
    row = bits | ((bits << 1) & _NOT_COL0) | ((bits >> 1) & _NOT_COL7)
    return (row | (row << 8) | (row >> 8)) & _FULL


def _to_bits(mask: npt.NDArray[np.bool_]) -> int:
    return int.from_bytes(np.packbits(mask.ravel(), bitorder="little").tobytes(), "little")


def _to_mask(bits: int) -> npt.NDArray[np.bool_]:
    raw = np.frombuffer(bits.to_bytes(8, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little").astype(bool).reshape(SHAPE)


def blobs(
    hot: npt.NDArray[np.bool_], min_pixels: int, *, grow: bool = False
) -> npt.NDArray[np.bool_]:
    """Mask of the 8-connected components of ``hot`` (8x8) with >= ``min_pixels`` pixels;
    with ``grow``, their 8-neighbours too."""
    todo = _to_bits(hot)
    keep = 0
    while todo:
        component = todo & -todo  # the lowest hot pixel, grown until it stops growing
        while True:
            grown = _dilate(component) & todo
            if grown == component:
                break
            component = grown
        todo &= ~component
        if component.bit_count() >= min_pixels:
            keep |= component
    return _to_mask(_dilate(keep) if grow else keep)


def plausible(sample: object) -> npt.NDArray[np.float64] | None:
    """The frame as float64 °C, or None when it cannot be a real thermopile frame."""
    if not isinstance(sample, np.ndarray) or sample.shape != SHAPE:
        return None
    if sample.dtype.kind not in "iuf":
        return None
    frame = np.array(sample, dtype=np.float64)  # a plain copy: drivers may reuse buffers
    low, high = frame.min(), frame.max()
    if not MIN_C <= low < high <= MAX_C:  # also False for NaN (and inf is out of range)
        return None
    return frame


class ThermopileDetector:
    """Pure state machine: ``update(at, frame)`` -> Reading. Never raises."""

    def __init__(
        self,
        *,
        delta: float = 1.5,
        min_pixels: int = 5,
        adapt_seconds: float = 600.0,
        stuck_seconds: float = 60.0,
        missing_seconds: float = 60.0,
    ) -> None:
        if not (delta > 0 and 1 <= min_pixels <= _N and adapt_seconds > 0
                and stuck_seconds > 0 and missing_seconds > 0):
            raise ValueError("ThermopileDetector: delta > 0, 1 <= min_pixels <= 64 and "
                             "positive times are required")
        self.delta = float(delta)
        self.min_pixels = int(min_pixels)
        self.adapt_seconds = float(adapt_seconds)
        self.stuck_seconds = float(stuck_seconds)
        self.missing_seconds = float(missing_seconds)
        self.background: npt.NDArray[np.float64] | None = None
        self._last_frame = b""
        self._same_since: float | None = None
        self._last_valid: float | None = None
        self._presence: Presence = "absent"

    def update(self, at: float, sample: object | None) -> Reading:
        if not (isinstance(at, int | float) and math.isfinite(at)):
            return Reading(at, "fault")
        if sample is None:
            if self._last_valid is None or at - self._last_valid >= self.missing_seconds:
                return Reading(at, "fault")
            return Reading(at, self._presence)
        frame = plausible(sample)
        if frame is None:
            return Reading(at, "fault")
        if self._frozen(at, frame):
            return Reading(at, "fault")
        dt = 0.0 if self._last_valid is None else max(0.0, at - self._last_valid)
        self._last_valid = at
        if self.background is None:  # the first frame is taken as the empty desk
            self.background = frame.copy()
        self._presence = self._detect(frame, dt)
        return Reading(at, self._presence)

    def _frozen(self, at: float, frame: npt.NDArray[np.float64]) -> bool:
        """True when the same frame has come back for ``stuck_seconds``."""
        raw = frame.tobytes()
        if raw == self._last_frame:
            if self._same_since is None:
                self._same_since = self._last_valid if self._last_valid is not None else at
            return at - self._same_since >= self.stuck_seconds
        self._last_frame, self._same_since = raw, None
        return False

    def _detect(self, frame: npt.NDArray[np.float64], dt: float) -> Presence:
        bg = self.background
        assert bg is not None
        diff = frame - bg
        hot = diff >= self.delta
        count = int(np.count_nonzero(hot))
        person = blobs(hot, self.min_pixels, grow=True) if count >= self.min_pixels else None
        alpha = -math.expm1(-dt / self.adapt_seconds)
        if person is None or not person.any():
            bg += alpha * diff
            return "absent"
        step = alpha * diff
        cool = ~(hot | person)
        shift = float(step[cool].mean()) if cool.any() else 0.0
        bg += np.where(person, shift, step)
        return "present"
