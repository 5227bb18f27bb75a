"""Combining the verdicts of several sensors on one desk.

Rule (in order):

1. any sensor says ``present`` -> ``present``: every sensor type here misses people
   (a still person for PIR, a person perched on the desk for a seat mat) far more often
   than it invents them, so one positive outweighs negatives;
2. else any sensor says ``absent`` -> ``absent``: a faulty sensor is ignored while another
   one still works, so one dead sensor does not make the desk ``unknown``;
3. else (every sensor is at fault) -> ``fault``.

The fused reading is stamped with the latest ``at`` of its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.sensors.base import Reading

__all__ = ["fuse"]


def fuse(readings: Sequence[Reading]) -> Reading:
    """One desk verdict from several sensors' readings (see the module docstring)."""
    if not readings:
        raise ValueError("fuse() needs at least one reading")
    at = max(r.at for r in readings)
    presences = {r.presence for r in readings}
    if "present" in presences:
        return Reading(at, "present")
    if "absent" in presences:
        return Reading(at, "absent")
    return Reading(at, "fault")
