"""The interface every desk sensor driver offers to the agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Presence = Literal["present", "absent", "fault"]


@dataclass(frozen=True)
class Reading:
    """One sensor's view of its desk at time ``at`` (Unix seconds).

    ``presence`` is the sensor's own verdict; ``fault`` means the sensor cannot say
    (no data, stuck values, bus error) and makes the desk ``unknown``.
    """

    at: float
    presence: Presence


class Sensor(Protocol):
    """A desk sensor. ``read`` must not block for long and must not raise for a
    hardware fault: it returns ``Reading(at, "fault")`` instead."""

    def read(self, now: float) -> Reading: ...
