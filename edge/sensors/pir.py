"""PIR motion detector: motion evidence that fades, because seated people sit still.

A PIR output only goes high on movement; someone reading or typing quietly produces no
motion for minutes. So a motion sample does not mean "present for N seconds" but sets a
presence *probability* to 1, which stays there for ``hold_seconds`` and then halves every
``decay_half_life`` seconds without motion::

    p(t) = 1                                    if t - m <= hold
    p(t) = 0.5 ** ((t - m - hold) / half_life)  otherwise        (m = last motion)

The desk is ``present`` while ``p >= threshold``. A passer-by near an empty desk makes
one short pulse, a person sitting down moves for a while: so while the desk is absent,
motion counts only once it has lasted ``confirm_seconds`` (a motion sample at least that
long after the first one, within ``confirm_window``); 0 believes the first sample.

With the defaults a desk turns absent 420 s after the last motion (300 s hold + one
half-life for threshold 0.5); the desk state machine's own hold time comes on top of that.

**A hold that learns the desk** (``min_hold_seconds`` and ``max_hold_seconds`` set, as
the agent's factory does): the gaps between motion episodes (samples less than
``episode_seconds`` apart are one episode) of the current sitting are remembered (the
last ``RHYTHM_GAPS``) and the hold becomes ``rhythm_factor`` x their 90th percentile,
clamped to [min, max]: a typist's desk lets go soon after they leave, a reader's waits
longer. ``hold_seconds`` is the hold until three gaps are known; a new sitting (after
the verdict turned absent) starts from it again. ``absent_after`` is then the longest
delay, the one to configure the live departure time by.

**Passers-by after a departure** (adaptive mode): standing up to leave is a burst of
motion (at least ``burst_seconds`` of consecutive motion samples). After a burst, a
short stir is credited only ``min_hold_seconds``, not the learned hold, until two
stirs more than ``stir_seconds`` apart show the person is still sitting there: so a
passer-by walking past a desk just left does not restart its whole hold. Settling in
is a burst too (the detector cannot tell the two apart). And near an empty desk a
learning detector believes motion only once it is a burst or three separate runs of
motion at least ``2 * confirm_seconds`` apart within ``confirm_window``.

Faults: no valid sample for ``missing_seconds`` (short dropouts keep the last verdict,
which keeps decaying), a sample that is not a bool, or an output stuck high for
``stuck_seconds`` (real people stop moving now and then; a PIR high for hours is broken).
"""

from __future__ import annotations

import math
from collections import deque

from edge.sensors.base import Reading, is_boolean_sample

__all__ = ["ADAPTIVE_HOLD", "PirDetector"]

RHYTHM_GAPS = 16
# The agent's PIR desks: (min_hold_seconds, max_hold_seconds); see docs/sensors.md.
ADAPTIVE_HOLD = (120.0, 600.0)


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


class PirDetector:
    """Pure state machine: ``update(at, motion)`` -> Reading. Never raises."""

    def __init__(
        self,
        *,
        hold_seconds: float = 300.0,
        decay_half_life: float = 120.0,
        threshold: float = 0.5,
        stuck_seconds: float = 4 * 3600.0,
        missing_seconds: float = 60.0,
        confirm_seconds: float = 15.0,
        confirm_window: float = 120.0,
        min_hold_seconds: float | None = None,
        max_hold_seconds: float | None = None,
        rhythm_factor: float = 2.0,
        episode_seconds: float = 10.0,
        burst_seconds: float = 15.0,
        stir_seconds: float = 30.0,
    ) -> None:
        low = hold_seconds if min_hold_seconds is None else min_hold_seconds
        high = hold_seconds if max_hold_seconds is None else max_hold_seconds
        if not (hold_seconds >= 0 and decay_half_life > 0 and 0 < threshold <= 1
                and stuck_seconds > 0 and missing_seconds > 0
                and 0 <= confirm_seconds <= confirm_window
                and 0 <= low <= hold_seconds <= high and rhythm_factor > 0
                and episode_seconds >= 0 and burst_seconds > 0 and stir_seconds >= 0):
            raise ValueError("PirDetector: hold >= 0, half-life > 0, 0 < threshold <= 1, "
                             "stuck_seconds > 0, missing_seconds > 0, "
                             "0 <= confirm_seconds <= confirm_window, "
                             "min_hold <= hold <= max_hold and rhythm_factor > 0 are required")
        self.hold_seconds = float(hold_seconds)
        self.min_hold_seconds = float(low)
        self.max_hold_seconds = float(high)
        self.rhythm_factor = float(rhythm_factor)
        self.episode_seconds = float(episode_seconds)
        self.burst_seconds = float(burst_seconds)
        self.stir_seconds = float(stir_seconds)
        self._gaps: deque[float] = deque(maxlen=RHYTHM_GAPS)
        self._hold = self.hold_seconds
        self._credit_until: float | None = None  # full presence up to here
        self._run_start: float | None = None  # the current run of motion samples
        self._after_burst = False
        self._stirs: list[float] = []  # stirs since the last burst (at most two kept)
        self.decay_half_life = float(decay_half_life)
        self.threshold = float(threshold)
        self.stuck_seconds = float(stuck_seconds)
        self.missing_seconds = float(missing_seconds)
        self.confirm_seconds = float(confirm_seconds)
        self.confirm_window = float(confirm_window)
        self._first_motion: float | None = None  # unconfirmed motion while absent
        self._confirm_count = 0  # motion samples since it
        self._last_motion: float | None = None
        self._high_since: float | None = None
        self._last_valid: float | None = None

    @property
    def absent_after(self) -> float:
        """The longest time from the last motion until the verdict turns ``absent``."""
        return self.max_hold_seconds + self.decay_half_life * math.log2(1.0 / self.threshold)

    @property
    def hold(self) -> float:
        """The hold in force now (``hold_seconds`` unless the rhythm says otherwise)."""
        return self._hold

    def _learn(self, at: float) -> None:
        """A counted motion sample: remember the gap since the last episode, adapt."""
        last = self._last_motion
        if self.min_hold_seconds == self.max_hold_seconds:
            return
        if last is None or self.probability(at) < self.threshold:
            self._gaps.clear()  # a new sitting: its own rhythm
            self._hold = self.hold_seconds
            return
        if at - last <= self.episode_seconds:
            return
        self._gaps.append(at - last)
        if len(self._gaps) >= 3:
            ordered = sorted(self._gaps)
            high = ordered[int(0.9 * (len(ordered) - 1))]
            self._hold = min(self.max_hold_seconds,
                             max(self.min_hold_seconds, self.rhythm_factor * high))

    def probability(self, at: float) -> float:
        """Presence probability at ``at`` from the motion seen so far (0 before any)."""
        if self._last_motion is None or not _finite(at):
            return 0.0
        credit = self._credit_until
        if credit is None or self.min_hold_seconds == self.max_hold_seconds:
            credit = self._last_motion + self._hold
        quiet = max(0.0, at - credit)
        return float(0.5 ** (quiet / self.decay_half_life))

    def update(self, at: float, sample: object | None) -> Reading:
        if not _finite(at):
            return Reading(at, "fault")
        if sample is None:
            if self._last_valid is None or at - self._last_valid >= self.missing_seconds:
                return Reading(at, "fault")
            return self._verdict(at)
        if not is_boolean_sample(sample):
            self._high_since = None
            return Reading(at, "fault")
        self._last_valid = at
        if not sample:
            self._high_since = None
            self._run_start = None
            return self._verdict(at)
        if self._run_start is None:
            self._run_start = at
        if self._high_since is None:
            self._high_since = at
        if at - self._high_since >= self.stuck_seconds:
            return Reading(at, "fault")
        if self._confirmed(at):
            self._learn(at)
            self._credit(at)
            self._last_motion = at
        return self._verdict(at)

    def _credit(self, at: float) -> None:
        """How long counted motion at ``at`` keeps the desk fully present."""
        if self.min_hold_seconds == self.max_hold_seconds:
            self._credit_until = at + self._hold
            return
        start = self._run_start if self._run_start is not None else at
        credit = self._hold
        if at - start >= self.burst_seconds:
            self._after_burst, self._stirs = True, []  # standing up, sitting down, ...
            credit = self.min_hold_seconds
        elif self._after_burst:
            if not self._stirs or at - self._stirs[-1] > self.stir_seconds:
                self._stirs = [*self._stirs[-1:], at]
            if len(self._stirs) >= 2:
                self._after_burst = False  # still sitting there: the rhythm again
            else:
                credit = self.min_hold_seconds
        until = at + credit
        if (self._credit_until is None or self.probability(at) < self.threshold
                or at - start >= self.burst_seconds):  # standing up: the old credit ends
            self._credit_until = until
        else:
            self._credit_until = max(self._credit_until, until)

    def _confirmed(self, at: float) -> bool:
        """Whether motion at ``at`` counts (always while present; see the docstring)."""
        if self.probability(at) >= self.threshold or self.confirm_seconds == 0:
            self._first_motion = None
            return True
        first = self._first_motion
        if first is None or not 0 <= at - first <= self.confirm_window:
            self._first_motion, self._confirm_count = at, 1
            return False
        if self._run_start == at:
            self._confirm_count += 1  # a new run of motion: one more stir
        if self.min_hold_seconds < self.max_hold_seconds:
            # learning desks: someone sitting down moves on and on (a burst), or stirs
            # three separate times; a passer-by lingering a few seconds does neither
            start = self._run_start if self._run_start is not None else at
            enough = (at - start >= self.burst_seconds
                      or (self._confirm_count >= 3 and at - first >= 2 * self.confirm_seconds))
        else:
            enough = at - first >= self.confirm_seconds
        if enough:
            self._first_motion = None
            return True
        return False

    def _verdict(self, at: float) -> Reading:
        present = self.probability(at) >= self.threshold
        return Reading(at, "present" if present else "absent")
