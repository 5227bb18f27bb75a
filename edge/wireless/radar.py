"""mmWave radar detector: a desk zone of distance and energy gates, then presence debounce.

An LD2410 reports a moving and a stationary target (distance in cm, energy 0-100). It
sees a person sitting still, which a PIR does not, but it also sees the neighbour at the
next desk or someone walking the aisle behind the chair. So a target counts only inside
the desk's zone: ``min_cm <= distance <= max_cm`` and ``energy >= min_energy``, for
either target the state byte says is there. The in-zone flag then goes through the seat
sensor's debounce (:class:`~edge.sensors.contact.ContactDetector`): a value is believed
once seen for ``debounce_seconds``, short dropouts keep the verdict, a silent radar is a
fault after ``missing_seconds``.
"""

from __future__ import annotations

from edge.sensors.base import Reading
from edge.sensors.contact import ContactDetector
from edge.wireless.ld2410 import RadarFrame

__all__ = ["RadarDetector", "RadarZone", "in_zone"]


class RadarZone:
    """The desk's gates (validated by the config parser; checked again here)."""

    def __init__(self, max_cm: int = 150, min_cm: int = 0, min_energy: int = 15) -> None:
        if not (0 <= min_cm < max_cm and 0 <= min_energy <= 100):
            raise ValueError("RadarZone: 0 <= min_cm < max_cm and 0 <= min_energy <= 100")
        self.max_cm, self.min_cm, self.min_energy = max_cm, min_cm, min_energy


def in_zone(frame: RadarFrame, zone: RadarZone) -> bool:
    """True if a target the frame reports is inside the desk zone with enough energy."""
    moving = frame.state & 1 and zone.min_cm <= frame.moving_cm <= zone.max_cm \
        and frame.moving_energy >= zone.min_energy
    still = frame.state & 2 and zone.min_cm <= frame.still_cm <= zone.max_cm \
        and frame.still_energy >= zone.min_energy
    return bool(moving or still)


class RadarDetector:
    """Pure: ``update(at, frame)`` -> Reading. Never raises."""

    def __init__(self, zone: RadarZone | None = None, *, debounce_seconds: float = 10.0,
                 missing_seconds: float = 30.0) -> None:
        self.zone = zone or RadarZone()
        self._presence = ContactDetector(debounce_seconds=debounce_seconds,
                                         missing_seconds=missing_seconds)

    def update(self, at: float, sample: object | None) -> Reading:
        if sample is None:
            return self._presence.update(at, None)
        if not isinstance(sample, RadarFrame):
            return Reading(at, "fault")
        return self._presence.update(at, in_zone(sample, self.zone))
