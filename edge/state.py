"""The desk state machine: sensor readings in, state-change events out. Pure: no I/O, no clock.

Seated people sit still, so an occupancy sensor says "absent" now and then while someone is
at the desk. A desk therefore becomes vacant only after ``hold_seconds`` of continuous
absence, and the event carries the time of the FIRST absent reading of that run: the real
departure time, reported late. Presence and faults take effect at once.
"""

from __future__ import annotations

from typing import Literal

from edge.protocol import DeskEvent
from edge.sensors.base import Reading

DeskState = Literal["occupied", "vacant", "unknown"]


class DeskStateMachine:
    """One desk's state.

    Rules, applied to each reading in time order:

    - the first reading decides: present -> occupied, absent -> vacant, fault -> unknown;
    - present -> occupied at once (``at`` = the reading's time);
    - absent continuously for >= ``hold_seconds`` -> vacant, ``at`` = the first absent
      reading of the run;
    - fault -> unknown at once, and any absent run is forgotten;
    - from unknown the same rules apply: present -> occupied at once, absent -> vacant
      once the absence has lasted ``hold_seconds`` since the first absent reading after
      the fault (a desk we could not see is not assumed empty).
    """

    def __init__(self, hold_seconds: float, desk: str = "desk") -> None:
        if not hold_seconds >= 0:
            raise ValueError("hold_seconds must be >= 0")
        self.hold_seconds = float(hold_seconds)
        self.desk = desk
        self._state: DeskState | None = None
        self._absent_since: float | None = None
        self._confirmed: float | None = None  # the last reading that was not "absent"

    @property
    def state(self) -> DeskState:
        """The current state; ``unknown`` until the first reading."""
        return self._state or "unknown"

    @property
    def decided(self) -> bool:
        """False until the first reading has been seen."""
        return self._state is not None

    def update(self, reading: Reading) -> DeskEvent | None:
        """Feed one reading; returns an event only when the state changes."""
        if reading.presence == "present":
            self._absent_since = None
            self._confirmed = reading.at
            return self._enter("occupied", reading.at)
        if reading.presence != "absent":  # "fault", or anything a broken driver returned
            self._absent_since = None
            self._confirmed = reading.at
            return self._enter("unknown", reading.at)
        if self._state is None:
            return self._enter("vacant", reading.at)
        if self._state == "vacant":
            return None
        if self._absent_since is None:
            self._absent_since = reading.at
        if reading.at - self._absent_since >= self.hold_seconds:
            departed, self._absent_since = self._absent_since, None
            return self._enter("vacant", departed)
        return None

    def snapshot(self, now: float) -> DeskEvent | None:
        """The current state as an event at ``now``; None before the first reading.

        While an absent run is pending, the state is only known up to the last reading
        that was not absent: a vacancy may yet be reported back-dated to the run's first
        reading, and a snapshot stamped later would claim the desk occupied (or unknown)
        after it was left, until its next event.
        """
        if self._state is None:
            return None
        at = now
        if self._absent_since is not None and self._confirmed is not None:
            at = min(now, self._confirmed)
        return DeskEvent(self.desk, self._state, at)

    def _enter(self, state: DeskState, at: float) -> DeskEvent | None:
        if state == self._state:
            return None
        self._state = state
        return DeskEvent(self.desk, state, at)
