"""Driver + detector = a Sensor: raw samples in, one presence verdict per read out.

A *driver* is the thin I/O adapter (GPIO pin, I2C bus, simulator) and returns a raw sample;
a *detector* is a pure state machine that turns samples into a :class:`Reading`. Keeping
them apart lets the detectors be tested on recorded traces and the drivers stay dumb.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from edge.errors import DeskpulseError
from edge.sensors.base import Reading, Sensor
from edge.sensors.fusion import fuse

__all__ = ["DetectingSensor", "Detector", "Driver", "FusedSensor", "SensorFault"]

log = logging.getLogger(__name__)
WARN_AFTER_FAILURES = 3


class SensorFault(DeskpulseError):
    """A driver could not get a sample this time (bus error, no data, device gone)."""


class Driver(Protocol):
    """Raw samples: ``bool`` for PIR motion or a pressed contact, an (8, 8) float array in
    °C for a thermopile. Raises :class:`SensorFault` when it cannot read."""

    def sample(self, now: float) -> object: ...


class Detector(Protocol):
    """Pure: samples in time order -> verdicts. ``sample`` is None when the driver failed;
    any other nonsense is judged by the detector, which never raises."""

    def update(self, at: float, sample: object | None) -> Reading: ...


class DetectingSensor:
    """A :class:`~edge.sensors.base.Sensor` made of a driver and a detector."""

    def __init__(self, driver: Driver, detector: Detector) -> None:
        self.driver = driver
        self.detector = detector
        self.last_sample: object | None = None  # the last raw sample (None: read failed)
        self._failures = 0  # consecutive failed reads

    def read(self, now: float) -> Reading:
        sample: object | None
        self.last_sample = None
        try:
            sample = self.driver.sample(now)
        except SensorFault as exc:
            self._note_failure(f"SensorFault: {exc}")
            sample = None
        except Exception as exc:  # a driver bug must not stop the agent; never log values
            self._note_failure(type(exc).__name__)
            sample = None
        else:
            if self._failures >= WARN_AFTER_FAILURES:
                log.info("%s recovered after %d failed reads",
                         type(self.driver).__name__, self._failures)
            self._failures = 0
            self.last_sample = sample
        try:
            return self.detector.update(now, sample)
        except Exception as exc:  # detectors promise not to raise; keep the promise here too
            log.error("%s raised %s; reporting a fault",
                      type(self.detector).__name__, type(exc).__name__)
            return Reading(now, "fault")

    def _note_failure(self, cause: str) -> None:
        """Single failed reads are routine (debug); a run of them is logged once."""
        self._failures += 1
        level = logging.WARNING if self._failures == WARN_AFTER_FAILURES else logging.DEBUG
        log.log(level, "%s failed %d time(s) in a row (%s)",
                type(self.driver).__name__, self._failures, cause)


class FusedSensor:
    """Several sensors on one desk, combined by :func:`edge.sensors.fusion.fuse`.

    ``preferred`` (one flag per sensor, default all True) marks the sensors that see the
    seat itself (seat mat, contact, thermopile): while one of them works, the others
    (a PIR, which passers-by and stillness fool) are not asked for a verdict."""

    def __init__(self, sensors: Sequence[Sensor],
                 preferred: Sequence[bool] | None = None) -> None:
        if not sensors:
            raise ValueError("a FusedSensor needs at least one sensor")
        if preferred is not None and len(preferred) != len(sensors):
            raise ValueError("FusedSensor: one preferred flag per sensor")
        self.sensors = tuple(sensors)
        self.preferred = tuple(preferred) if preferred is not None else (True,) * len(sensors)

    def read(self, now: float) -> Reading:
        readings = []
        for sensor in self.sensors:
            try:
                reading = sensor.read(now)
            except Exception as exc:
                log.error("%s raised %s; counted as a fault",
                          type(sensor).__name__, type(exc).__name__)
                reading = Reading(now, "fault")
            if not isinstance(reading, Reading):
                reading = Reading(now, "fault")
            readings.append(reading)
        return fuse(readings, self.preferred)
