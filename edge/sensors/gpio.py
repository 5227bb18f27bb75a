"""GPIO drivers through gpiozero: a PIR motion sensor and a contact / pressure-mat switch.

Thin adapters: ``sample(now)`` returns the raw level as a bool and raises
:class:`SensorFault` when the pin cannot be read; deciding presence (PIR hold time,
switch debounce) is the detectors' job. ``pin_factory`` is gpiozero's own seam: None
picks the board's factory (lgpio on a Pi), tests pass ``gpiozero.pins.mock.MockFactory``.
"""

from __future__ import annotations

import logging
from typing import Any

from gpiozero import Button, GPIOZeroError, MotionSensor

from edge.sensors.pipeline import SensorFault

log = logging.getLogger(__name__)

PIR_SAMPLE_RATE = 10.0  # Hz: gpiozero polls the PIR pin this often in its own thread


class PirDriver:
    """An HC-SR501-class PIR on BCM pin ``pin``: its output is high while it sees motion.

    ``sample`` is True if the output is high now or went high since the previous sample,
    so a pulse shorter than the agent's poll interval is not lost.
    """

    def __init__(
        self, pin: int, *, pin_factory: Any = None, sample_rate: float = PIR_SAMPLE_RATE
    ) -> None:
        self.pin = pin
        try:
            self.device = MotionSensor(
                pin, pull_up=False, queue_len=1, sample_rate=sample_rate, partial=True,
                pin_factory=pin_factory,
            )
        except GPIOZeroError as exc:
            raise SensorFault(f"cannot open GPIO pin {pin} for a PIR sensor: {exc}") from exc
        self._rises = 0  # bumped by gpiozero's thread only
        self._rises_seen = 0
        self.device.when_motion = self._rose

    def _rose(self) -> None:
        self._rises += 1

    def sample(self, now: float) -> bool:
        try:
            level = bool(self.device.motion_detected)
        except GPIOZeroError as exc:
            raise SensorFault(f"cannot read the PIR on GPIO pin {self.pin}: {exc}") from exc
        rises = self._rises
        rose = rises != self._rises_seen
        self._rises_seen = rises
        return level or rose

    def close(self) -> None:
        self.device.close()


class ContactDriver:
    """A contact switch or pressure mat on BCM pin ``pin``: True while closed (pressed).

    ``pull_up`` True (the default) wires the switch between the pin and ground with the
    Pi's internal pull-up; False wires it to 3.3 V with the internal pull-down. Bounce is
    left to the detector, which sees every level.
    """

    def __init__(self, pin: int, *, pull_up: bool = True, pin_factory: Any = None) -> None:
        self.pin = pin
        try:
            self.device = Button(pin, pull_up=pull_up, bounce_time=None, pin_factory=pin_factory)
        except GPIOZeroError as exc:
            raise SensorFault(f"cannot open GPIO pin {pin} for a contact switch: {exc}") from exc

    def sample(self, now: float) -> bool:
        try:
            return bool(self.device.is_pressed)
        except GPIOZeroError as exc:
            raise SensorFault(f"cannot read the switch on GPIO pin {self.pin}: {exc}") from exc

    def close(self) -> None:
        self.device.close()
