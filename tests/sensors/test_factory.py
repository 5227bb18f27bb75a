"""edge.toml -> a Sensor per desk: real drivers on gpiozero mock pins, through real detectors,
into a real Agent (outbox in a temporary SQLite file, no broker needed for ``step``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from edge.agent import Agent
from edge.config import AgentConfig
from edge.errors import ConfigError
from edge.sensor_factory import Hardware, build_sensors
from edge.sensors.amg8833 import Amg8833
from edge.sensors.base import Reading
from edge.sensors.contact import ContactDetector
from edge.sensors.file import FileSensor
from edge.sensors.gpio import ContactDriver, PirDriver
from edge.sensors.pipeline import DetectingSensor, FusedSensor, SensorFault
from edge.sensors.pir import PirDetector
from edge.sensors.thermopile import ThermopileDetector
from tests.sensors.fake_i2c import ChipBus, Opener

MIXED_TOML = """\
site = "hq"
agent = "floor-1"
data_dir = "data"
poll_seconds = 1
hold_seconds = 5

[[desks]]
id = "d-pir"
zone = "z1"
[[desks.sensors]]
type = "pir"
pin = 17
hold_seconds = 30

[[desks]]
id = "d-mat"
zone = "z1"
[[desks.sensors]]
type = "pressure"
pin = 27
debounce_seconds = 1.5

[[desks]]
id = "d-heat"
zone = "z2"
[[desks.sensors]]
type = "thermopile"
bus = 1
address = 0x68

[[desks]]
id = "d-both"
zone = "z2"
[[desks.sensors]]
type = "contact"
pin = 22
pull_up = false
[[desks.sensors]]
type = "file"
path = "both.txt"

[[desks]]
id = "d-file"
zone = "z2"
sensor = "file:d-file.txt"
"""


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = factory = MockFactory()
    yield factory
    factory.close()
    Device.pin_factory = previous


def load(tmp_path: Path, text: str = MIXED_TOML) -> AgentConfig:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return AgentConfig.from_toml(path)


def test_each_type_gets_its_driver_and_detector(tmp_path: Path, pins: MockFactory) -> None:
    bus = ChipBus(address=0x68)
    hardware = Hardware(open_bus=Opener(bus))
    sensors = build_sensors(load(tmp_path), tmp_path, "edge.toml", hardware=hardware)
    assert list(sensors) == ["d-pir", "d-mat", "d-heat", "d-both", "d-file"]

    pir = sensors["d-pir"]
    assert isinstance(pir, DetectingSensor) and isinstance(pir.driver, PirDriver)
    assert isinstance(pir.detector, PirDetector) and pir.detector.hold_seconds == 30.0
    # the hold learns the desk between the configured one and the agent's ceiling
    assert (pir.detector.min_hold_seconds, pir.detector.max_hold_seconds) == (30.0, 600.0)
    assert pir.driver.pin == 17

    mat = sensors["d-mat"]
    assert isinstance(mat, DetectingSensor) and isinstance(mat.driver, ContactDriver)
    assert isinstance(mat.detector, ContactDetector) and mat.detector.debounce_seconds == 1.5

    heat = sensors["d-heat"]
    assert isinstance(heat, DetectingSensor) and isinstance(heat.driver, Amg8833)
    assert isinstance(heat.detector, ThermopileDetector)
    assert (heat.driver.bus_number, heat.driver.address) == (1, 0x68)

    both = sensors["d-both"]
    assert isinstance(both, FusedSensor) and len(both.sensors) == 2
    first, second = both.sensors
    assert isinstance(first, DetectingSensor) and isinstance(first.driver, ContactDriver)
    assert isinstance(second, FileSensor) and second.path == tmp_path / "both.txt"
    assert both.preferred == (True, True)  # no PIR on this desk: every sensor is asked

    single = sensors["d-file"]
    assert isinstance(single, FileSensor) and single.path == tmp_path / "d-file.txt"


def test_detectors_default_when_the_config_does_not_tune_them(
    tmp_path: Path, pins: MockFactory
) -> None:
    text = MIXED_TOML.replace("hold_seconds = 30\n", "").replace("debounce_seconds = 1.5\n", "")
    sensors = build_sensors(load(tmp_path, text), tmp_path, "edge.toml")
    pir, mat = sensors["d-pir"], sensors["d-mat"]
    assert isinstance(pir, DetectingSensor) and isinstance(pir.detector, PirDetector)
    assert pir.detector.hold_seconds == PirDetector().hold_seconds
    assert isinstance(mat, DetectingSensor) and isinstance(mat.detector, ContactDetector)
    assert mat.detector.debounce_seconds == ContactDetector().debounce_seconds


def test_pressure_mat_reads_through_the_debounce(tmp_path: Path, pins: MockFactory) -> None:
    sensors = build_sensors(load(tmp_path), tmp_path, "edge.toml",
                            hardware=Hardware(open_bus=Opener(ChipBus(0x68))))
    mat = sensors["d-mat"]
    assert mat.read(0.0) == Reading(0.0, "absent")
    pins.pin(27).drive_low()  # someone sits: the mat closes to ground
    assert mat.read(1.0) == Reading(1.0, "absent")  # still bouncing for all we know
    assert mat.read(2.5) == Reading(2.5, "present")  # closed for 1.5 s


def test_thermopile_bus_error_reads_as_a_fault(tmp_path: Path, pins: MockFactory) -> None:
    opener = Opener(ChipBus(0x68))
    opener.error = PermissionError(13, "Permission denied")
    sensors = build_sensors(load(tmp_path), tmp_path, "edge.toml",
                            hardware=Hardware(open_bus=opener))
    assert sensors["d-heat"].read(5.0) == Reading(5.0, "fault")


def test_simulated_desks_are_refused_by_the_edge_agent(tmp_path: Path) -> None:
    config = AgentConfig.from_dict(
        {"site": "s", "agent": "a", "data_dir": "d",
         "desks": [{"id": "d1", "zone": "z", "sensor": "file:x"}, {"id": "d2", "zone": "z"}]}
    )
    with pytest.raises(ConfigError) as err:
        build_sensors(config, tmp_path, "edge.toml")
    assert str(err.value) == (
        "edge.toml: desks[1].sensor: sensor type 'simulated' is not available on this agent "
        'yet: use "file:<path>"'
    )


def test_a_pin_that_cannot_be_opened_names_the_desk_and_sensor(
    tmp_path: Path, pins: MockFactory
) -> None:
    taken = ContactDriver(27)  # e.g. another program holds the pin
    with pytest.raises(SensorFault) as err:
        build_sensors(load(tmp_path), tmp_path, "edge.toml")
    assert str(err.value).startswith(
        "edge.toml: desks[1].sensors[0]: cannot open GPIO pin 27 for a contact switch: "
    )
    taken.close()


def test_agent_steps_on_real_drivers(tmp_path: Path, pins: MockFactory) -> None:
    """Config file -> factory -> Agent.step: the desk states follow the mock pins."""
    (tmp_path / "both.txt").write_text("absent\n")
    (tmp_path / "d-file.txt").write_text("present\n")
    bus = ChipBus(address=0x68)
    bus.error = OSError(121, "Remote I/O error")  # no thermopile answers
    config = load(tmp_path)
    agent = Agent(config, build_sensors(config, tmp_path, "edge.toml",
                                        hardware=Hardware(open_bus=Opener(bus))))
    try:
        agent.step(1000.0)
        assert agent.states == {"d-pir": "vacant", "d-mat": "vacant", "d-heat": "unknown",
                                "d-both": "vacant", "d-file": "occupied"}
        assert agent.health(1000.0).sensor_faults == ("d-heat",)
        pins.pin(22).drive_high()  # the d-both contact closes (wired to 3.3 V)
        pins.pin(27).drive_low()
        agent.step(1001.0)
        agent.step(1003.0)
        states = agent.states
        assert (states["d-both"], states["d-mat"]) == ("occupied", "occupied")
    finally:
        agent.stop()


def test_cli_refuses_to_start_on_a_pin_it_cannot_open(
    tmp_path: Path, pins: MockFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    path = tmp_path / "edge.toml"
    path.write_text(MIXED_TOML)
    taken = PirDriver(17)
    try:
        assert main(["run", "--config", str(path)]) == 1
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {path}: desks[0].sensors[0]: cannot open GPIO pin 17 for a PIR sensor: "
    ) and err.count("\n") == 1
