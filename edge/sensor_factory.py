"""Build each desk's :class:`~edge.sensors.base.Sensor` from its validated configuration.

One sensor per desk is a driver + detector (:class:`DetectingSensor`); several are fused
(:class:`FusedSensor`). "simulated" desks belong to firmware_sim, which hands the agent
its own sensors: the edge CLI refuses them. gpiozero, smbus2 and numpy (the thermopile's
driver and detector) are imported only when a desk uses them, so a file-, PIR- or
contact-only agent stays light (tests/edge/test_lean_import.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.config import AgentConfig, DeskConfig, SensorConfig
from edge.errors import ConfigError
from edge.sensors.base import Sensor
from edge.sensors.contact import ContactDetector
from edge.sensors.file import FileSensor
from edge.sensors.pipeline import DetectingSensor, Detector, FusedSensor, SensorFault
from edge.sensors.pir import ADAPTIVE_HOLD, PirDetector
from edge.wireless.radar import RadarDetector, RadarZone

if TYPE_CHECKING:
    from edge.sensors.amg8833 import Bus
    from edge.wireless.inputs import WirelessInputs

__all__ = ["Hardware", "build_desk_sensor", "build_sensors", "wireless_detector"]


def _open_smbus(bus: int) -> Bus:
    """smbus2's bus, through the AMG8833 module (imported here: it loads numpy)."""
    from edge.sensors.amg8833 import open_smbus

    return open_smbus(bus)


@dataclass(frozen=True)
class Hardware:
    """The two seams to the board: gpiozero's pin factory (None: the board's own) and
    the I2C bus opener (smbus2). Tests and the footprint bench pass mock ones."""

    pin_factory: Any = None
    open_bus: Callable[[int], Bus] = _open_smbus


def build_sensors(
    config: AgentConfig, base_dir: Path, source: str, *, hardware: Hardware | None = None,
    wireless: WirelessInputs | None = None,
) -> dict[str, Sensor]:
    """Desk id -> Sensor for every desk. Relative file paths are relative to ``base_dir``
    (the config file's folder); ``source`` (the file name) starts every error message.
    Wireless sensors get a channel in ``wireless`` (hand the same object to the Agent).

    Raises ConfigError for a desk the edge agent cannot read (simulated, or wireless
    without ``wireless``) and SensorFault when a GPIO pin cannot be opened.
    """
    hardware = hardware or Hardware()
    return {
        desk.id: build_desk_sensor(desk, base_dir, f"{source}: desks[{i}]", hardware,
                                   wireless)
        for i, desk in enumerate(config.desks)
    }


def build_desk_sensor(
    desk: DeskConfig, base_dir: Path, where: str, hardware: Hardware | None = None,
    wireless: WirelessInputs | None = None,
) -> Sensor:
    """One desk's Sensor; ``where`` ("edge.toml: desks[3]") prefixes error messages."""
    hardware = hardware or Hardware()
    if not desk.sensors:
        return _shorthand(desk.sensor, base_dir, where)
    sensors: list[Sensor] = []
    for j, sensor in enumerate(desk.sensors):
        if sensor.wireless:
            if wireless is None:
                raise ConfigError(f"{where}.sensors[{j}]: {sensor.type} sensors need the "
                                  "agent's wireless inputs (run the agent, not this tool)")
            sensors.append(DetectingSensor(wireless.add(desk.id, sensor),
                                           wireless_detector(sensor)))
        else:
            sensors.append(_build(sensor, base_dir, f"{where}.sensors[{j}]", hardware))
    if len(sensors) == 1:
        return sensors[0]
    # a motion sensor counts only while every seat-seeing sensor of the desk is at fault
    return FusedSensor(sensors, [not sensor.motion for sensor in desk.sensors])


def wireless_detector(sensor: SensorConfig, *, missing_seconds: float = 30.0) -> Detector:
    """The detector for a wireless sensor: the PIR detector (learning hold) for motion
    flags, the seat sensor's debounce for presence / occupancy / contact flags, and the
    radar's zone gates. ``missing_seconds``: how long a silent or offline device keeps
    its last verdict before the desk is ``unknown``."""
    if sensor.type == "radar":
        return RadarDetector(RadarZone(sensor.max_cm, sensor.min_cm, sensor.min_energy),
                             debounce_seconds=sensor.debounce_seconds or 10.0,
                             missing_seconds=missing_seconds)
    if sensor.motion:
        return _pir_detector(sensor.hold_seconds, missing_seconds)
    debounce = 2.0 if sensor.debounce_seconds is None else sensor.debounce_seconds
    return ContactDetector(debounce_seconds=debounce, missing_seconds=missing_seconds)


def _pir_detector(hold: float | None, missing_seconds: float = 60.0) -> PirDetector:
    low, high = ADAPTIVE_HOLD  # the hold learns the desk's motion rhythm
    if hold is None:
        return PirDetector(min_hold_seconds=low, max_hold_seconds=high,
                           missing_seconds=missing_seconds)
    return PirDetector(hold_seconds=hold, min_hold_seconds=min(low, hold),
                       max_hold_seconds=max(high, hold), missing_seconds=missing_seconds)


def _shorthand(text: str, base_dir: Path, where: str) -> Sensor:
    kind, _, arg = text.partition(":")
    if kind == "file" and arg:
        return FileSensor(_resolve(Path(arg), base_dir))
    raise ConfigError(
        f"{where}.sensor: sensor type '{kind}' is not available on this agent yet: "
        'use "file:<path>"'
    )


def _resolve(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base_dir / path


def _build(sensor: SensorConfig, base_dir: Path, where: str, hardware: Hardware) -> Sensor:
    try:
        return _build_unchecked(sensor, base_dir, hardware)
    except SensorFault as exc:
        raise SensorFault(f"{where}: {exc}") from exc


def _build_unchecked(sensor: SensorConfig, base_dir: Path, hardware: Hardware) -> Sensor:
    if sensor.type == "file":
        assert sensor.path is not None  # the config parser requires it
        return FileSensor(_resolve(sensor.path, base_dir))
    if sensor.type == "thermopile":
        from edge.sensors.amg8833 import Amg8833
        from edge.sensors.thermopile import ThermopileDetector

        driver = Amg8833(sensor.bus, sensor.address, open_bus=hardware.open_bus)
        return DetectingSensor(driver, ThermopileDetector())
    from edge.sensors.gpio import ContactDriver, PirDriver

    assert sensor.pin is not None  # the config parser requires it for GPIO sensors
    if sensor.type == "pir":
        pir = PirDriver(sensor.pin, pin_factory=hardware.pin_factory)
        return DetectingSensor(pir, _pir_detector(sensor.hold_seconds))
    contact = ContactDriver(sensor.pin, pull_up=sensor.pull_up, pin_factory=hardware.pin_factory)
    if sensor.debounce_seconds is None:
        return DetectingSensor(contact, ContactDetector())
    return DetectingSensor(contact, ContactDetector(debounce_seconds=sensor.debounce_seconds))
