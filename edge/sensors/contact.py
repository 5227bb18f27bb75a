"""Seat pressure mat / contact switch detector: debounce, and a switch stuck closed.

A mat bounces for a second or two when someone sits down or gets up, and opens briefly
when they shift their weight. A new value is therefore believed only once it has been
seen continuously for ``debounce_seconds`` (on the first sample of that value and on a
later one at least that much after it); the very first valid sample is believed at once.

Faults: no valid sample for ``missing_seconds`` (short dropouts keep the last verdict),
a sample that is not a bool, or a contact closed continuously for ``stuck_seconds``
(nobody sits 14 hours without getting up; a bag left on the chair is not a person either).
"""

from __future__ import annotations

import math

from edge.sensors.base import Reading, is_boolean_sample

__all__ = ["ContactDetector"]


class ContactDetector:
    """Pure state machine: ``update(at, pressed)`` -> Reading. Never raises."""

    def __init__(
        self,
        *,
        debounce_seconds: float = 2.0,
        stuck_seconds: float = 14 * 3600.0,
        missing_seconds: float = 60.0,
    ) -> None:
        if not (debounce_seconds >= 0 and stuck_seconds > 0 and missing_seconds > 0):
            raise ValueError("ContactDetector: debounce >= 0, stuck_seconds > 0 and "
                             "missing_seconds > 0 are required")
        self.debounce_seconds = float(debounce_seconds)
        self.stuck_seconds = float(stuck_seconds)
        self.missing_seconds = float(missing_seconds)
        self._stable: bool | None = None
        self._candidate_since: float | None = None  # when a value != stable was first seen
        self._pressed_since: float | None = None
        self._last_valid: float | None = None

    def update(self, at: float, sample: object | None) -> Reading:
        if not (isinstance(at, int | float) and math.isfinite(at)):
            return Reading(at, "fault")
        if sample is None:
            if self._last_valid is None or at - self._last_valid >= self.missing_seconds:
                return Reading(at, "fault")
            return self._verdict(at)
        if not is_boolean_sample(sample):
            self._pressed_since = None
            return Reading(at, "fault")
        pressed = bool(sample)
        self._last_valid = at
        if pressed:
            if self._pressed_since is None:
                self._pressed_since = at
        else:
            self._pressed_since = None
        if self._stable is None or pressed == self._stable:
            self._stable = pressed
            self._candidate_since = None
        elif self._candidate_since is None:
            self._candidate_since = at
            if self.debounce_seconds == 0:
                self._stable, self._candidate_since = pressed, None
        elif at - self._candidate_since >= self.debounce_seconds:
            self._stable, self._candidate_since = pressed, None
        if self._pressed_since is not None and at - self._pressed_since >= self.stuck_seconds:
            return Reading(at, "fault")
        return self._verdict(at)

    def _verdict(self, at: float) -> Reading:
        return Reading(at, "present" if self._stable else "absent")
