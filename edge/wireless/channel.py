"""One wireless sensor's latest value, shared by the receiving thread and the poll loop.

A radio delivers when it likes (a BTHome advert, an MQTT message, a radar frame); the
agent polls every second. The channel keeps the newest value and turns "no news" into a
:class:`~edge.sensors.pipeline.SensorFault` once it is older than ``timeout_seconds``,
or at once while the device says it is unavailable, so the detector and the state
machine treat a silent or offline device as ``unknown`` rather than as a free desk.

A motion flag that rose and fell between two polls is not lost: ``sample`` reports True
once after a rise (the PIR driver does the same for short pulses).

Health is kept as levels only: battery rounded to tens of percent, signal as one of
``good`` / ``fair`` / ``weak`` (the raw RSSI or link quality is never stored), and a
count of faults (undecryptable adverts, payloads that do not parse, broken frames).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Literal

from edge.sensors.pipeline import SensorFault

__all__ = ["Channel", "ChannelHealth", "signal_level"]

Signal = Literal["good", "fair", "weak", "none"]


def signal_level(rssi: float | None = None, *, link_quality: float | None = None) -> Signal:
    """A BLE RSSI (dBm) or a zigbee link quality (0-255) as a word; the number is dropped."""
    if rssi is not None and math.isfinite(rssi):
        return "good" if rssi >= -70 else "fair" if rssi >= -85 else "weak"
    if link_quality is not None and math.isfinite(link_quality):
        return "good" if link_quality >= 100 else "fair" if link_quality >= 40 else "weak"
    return "none"


def battery_level(percent: float | None) -> int | None:
    """Battery percent rounded to tens (0-100), or None when unknown or nonsense."""
    if percent is None or not math.isfinite(percent) or not 0 <= percent <= 100:
        return None
    return int(round(percent / 10.0) * 10)


@dataclass(frozen=True)
class ChannelHealth:
    """Levels and counts only, for the agent's ``health`` report."""

    battery: int | None
    signal: Signal
    faults: int


class Channel:
    """The latest value of one sensor; ``sample`` is the detector-facing driver API."""

    def __init__(self, what: str, *, timeout_seconds: float | None = None,
                 pulses: bool = False) -> None:
        """``pulses``: a motion sensor's channel. Each True update (a new motion advert)
        is one pulse that ``sample`` reports once; between pulses it reports False, the
        way a PIR output goes low between detections (the level such devices keep high
        for their 30-60 s blind time would read as one long burst of movement)."""
        if timeout_seconds is not None and not timeout_seconds > 0:
            raise ValueError("timeout_seconds must be positive")
        self.what = what  # e.g. "BTHome sensor of desk hq-d1": never an address
        self.timeout_seconds = timeout_seconds
        self.pulses = pulses
        self._lock = threading.Lock()
        self._value: object | None = None
        self._at: float | None = None
        self._rose = False
        self._available = True
        self._battery: int | None = None
        self._signal: Signal = "none"
        self.faults = 0  # counted, never a state
        self.updates = 0
        self.duplicates = 0

    # -- the receiving side ---------------------------------------------------------

    def update(self, value: object, now: float) -> None:
        """A new value heard at ``now`` (also marks the device available)."""
        with self._lock:
            if value is True and (self.pulses or self._value is not True):
                self._rose = True
            self._value, self._at, self._available = value, now, True
            self.updates += 1

    def heard(self, now: float) -> None:
        """The device spoke without a new value (a duplicate, a battery-only report)."""
        with self._lock:
            if self._at is not None:
                self._at = max(self._at, now)

    def set_available(self, available: bool) -> None:
        with self._lock:
            self._available = available

    def fault(self) -> None:
        with self._lock:
            self.faults += 1

    def levels(self, *, battery: float | None = None, signal: Signal | None = None) -> None:
        with self._lock:
            if battery is not None:
                self._battery = battery_level(battery)
            if signal is not None:
                self._signal = signal

    # -- the polling side -----------------------------------------------------------

    def sample(self, now: float) -> object:
        with self._lock:
            if not self._available:
                raise SensorFault(f"{self.what} reports itself unavailable")
            if self._at is None or self._value is None:
                raise SensorFault(f"{self.what} has not been heard yet")
            if self.timeout_seconds is not None and now - self._at > self.timeout_seconds:
                raise SensorFault(f"{self.what} silent for over {self.timeout_seconds:g} s")
            value = self._value
            if self._rose:
                self._rose = False
                return True
            return False if self.pulses else value

    def health(self, now: float) -> ChannelHealth:
        with self._lock:
            stale = (self._at is None or not self._available or (
                self.timeout_seconds is not None and now - self._at > self.timeout_seconds))
            return ChannelHealth(self._battery, "none" if stale else self._signal, self.faults)
