"""The interface every desk sensor driver offers to the agent."""

from __future__ import annotations

import sys
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


def is_boolean_sample(sample: object) -> bool:
    """True for ``bool`` and numpy's ``bool_`` (what simulated and recorded drivers hand
    over). numpy is looked up in ``sys.modules`` instead of imported: when nothing has
    loaded it, no sample can be a numpy bool, and a GPIO-only agent never loads it."""
    if isinstance(sample, bool):
        return True
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(sample, numpy.bool_)
