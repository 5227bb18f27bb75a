"""Combining the verdicts of several sensors on one desk.

Rule (in order):

1. any sensor says ``present`` -> ``present``: every sensor type here misses people
   (a still person for PIR, a person perched on the desk for a seat mat) far more often
   than it invents them, so one positive outweighs negatives;
2. else any sensor says ``absent`` -> ``absent``: a faulty sensor is ignored while another
   one still works, so one dead sensor does not make the desk ``unknown``;
3. else (every sensor is at fault) -> ``fault``.

Preference: when some sensors are marked *preferred* (those that see the seat: a seat
mat, a contact switch, a thermopile), the rule above is applied to the preferred ones
that are not at fault, and the others (a PIR) count only while every preferred one is at
fault. A PIR's "present" is a passer-by as often as a person near an empty desk, and its
"absent" is a still reader; a seat sensor knows better on both.

The fused reading is stamped with the latest ``at`` of its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.sensors.base import Reading

__all__ = ["fuse"]


def fuse(readings: Sequence[Reading], preferred: Sequence[bool] | None = None) -> Reading:
    """One desk verdict from several sensors' readings (see the module docstring);
    ``preferred`` has one flag per reading (default: all preferred)."""
    if not readings:
        raise ValueError("fuse() needs at least one reading")
    if preferred is not None and len(preferred) != len(readings):
        raise ValueError("fuse(): one preferred flag per reading")
    at = max(r.at for r in readings)
    chosen = readings
    if preferred is not None:
        working = [r for r, p in zip(readings, preferred, strict=True)
                   if p and r.presence != "fault"]
        chosen = working or readings
    presences = {r.presence for r in chosen}
    if "present" in presences:
        return Reading(at, "present")
    if "absent" in presences:
        return Reading(at, "absent")
    return Reading(at, "fault")
