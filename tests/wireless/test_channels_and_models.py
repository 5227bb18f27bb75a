"""Channels (pulse and level), the detector chosen per kind, fusion with a wired sensor,
and firmware_sim's wireless models failing as devices do."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import AgentConfig, SensorConfig
from edge.errors import ConfigError
from edge.sensor_factory import build_sensors, wireless_detector
from edge.sensors.contact import ContactDetector
from edge.sensors.pipeline import FusedSensor, SensorFault
from edge.sensors.pir import PirDetector
from edge.wireless.channel import Channel, battery_level, signal_level
from edge.wireless.inputs import WirelessInputs
from edge.wireless.radar import RadarDetector
from firmware_sim.wireless import SimBthomeMotion, SimRadar, SimZigbeePresence


def test_a_level_channel_keeps_its_value_and_goes_stale() -> None:
    channel = Channel("zigbee sensor of desk d1", timeout_seconds=60)
    with pytest.raises(SensorFault, match="not been heard"):
        channel.sample(0)
    channel.update(True, 10)
    channel.update(False, 11)  # rose and fell between two polls: reported once
    assert channel.sample(12) is True
    assert channel.sample(13) is False
    with pytest.raises(SensorFault, match="silent for over 60 s"):
        channel.sample(72)
    channel.heard(80)  # a battery-only report keeps it fresh
    assert channel.sample(81) is False


def test_a_pulse_channel_reports_each_motion_advert_once() -> None:
    channel = Channel("bthome sensor of desk d1", timeout_seconds=900, pulses=True)
    channel.update(True, 10)
    assert channel.sample(11) is True and channel.sample(12) is False
    channel.update(True, 50)  # the same level again, but a new advert: a new pulse
    assert channel.sample(51) is True and channel.sample(52) is False


def test_levels_never_keep_the_raw_numbers() -> None:
    assert [signal_level(r) for r in (-60, -80, -95)] == ["good", "fair", "weak"]
    assert signal_level(link_quality=20) == "weak" and signal_level() == "none"
    assert [battery_level(p) for p in (87, 4, 100, -3, 140, None)] == [90, 0, 100, None,
                                                                       None, None]


def test_the_detector_per_kind() -> None:
    def detector(**kwargs: object) -> object:
        return wireless_detector(SensorConfig(**kwargs))  # type: ignore[arg-type]

    assert isinstance(detector(type="bthome", ble_address="A", measure="motion"), PirDetector)
    assert isinstance(detector(type="bthome", ble_address="A", measure="occupancy"),
                      ContactDetector)
    assert isinstance(detector(type="zigbee", device="d"), ContactDetector)
    assert isinstance(detector(type="zigbee", device="d", detector="motion"), PirDetector)
    assert isinstance(detector(type="radar", port="/dev/x"), RadarDetector)


def test_a_wired_and_a_wireless_sensor_on_one_desk_are_fused(tmp_path: Path) -> None:
    config = AgentConfig.from_dict({
        "site": "s", "agent": "a", "data_dir": str(tmp_path), "desks": [
            {"id": "d1", "zone": "z", "sensors": [
                {"type": "file", "path": "seat"},
                {"type": "bthome", "address": "A4:C1:38:00:00:01", "measure": "motion"}]}]})
    wireless = WirelessInputs(config.device_mqtt)
    (tmp_path / "seat").write_text("absent")
    sensor = build_sensors(config, tmp_path, "edge.toml", wireless=wireless)["d1"]
    assert isinstance(sensor, FusedSensor)
    assert sensor.preferred == (True, False)  # the seat sensor outranks the motion sensor
    assert sensor.read(1_780_000_000).presence == "absent"
    with pytest.raises(ConfigError, match="need the agent's wireless inputs"):
        build_sensors(config, tmp_path, "edge.toml")


@pytest.mark.parametrize(("table", "message"), [
    ({"type": "bthome", "address": "A4:C1:38:00:00:01", "bind_key": "abc"}, "32 hex"),
    ({"type": "bthome", "address": "A4:C1:38:00:00:01", "pin": 4}, "unknown key"),
    ({"type": "zigbee"}, "missing key"),
    ({"type": "mqtt", "topic": "a/+/b"}, "without '\\+'"),
    ({"type": "zigbee", "device": "d", "field": "a b"}, "payload key"),
])
def test_wireless_tables_are_refused_with_a_reason(tmp_path: Path, table: dict,
                                                   message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AgentConfig.from_dict({"site": "s", "agent": "a", "data_dir": str(tmp_path),
                               "desks": [{"id": "d1", "zone": "z", "sensors": [table]}]})


def test_models_fail_like_devices() -> None:
    day = [(1000.0, 5000.0)]
    motion = [1000.0 + 7 * i for i in range(500)]
    bthome = SimBthomeMotion(day, motion, seed=1, loss=0.0, battery_dies_at=3000.0)
    pulses = [bthome.sample(t) for t in range(1000, 3000, 5)]
    assert 0 < sum(pulses) < len(pulses) / 5  # the blind time thins a stream of motion
    with pytest.raises(SensorFault):
        bthome.sample(3000 + 901)  # the battery died: silent, then a fault
    zigbee = SimZigbeePresence(day, seed=2, unavailable_rate=3600.0)  # offline at once
    zigbee.sample(1000.0)
    with pytest.raises(SensorFault, match="offline"):
        zigbee.sample(1010.0)
    radar = SimRadar([], [(0.0, 10_000.0)], seed=3, frame_loss=0.0)
    frames = [radar.sample(float(t)) for t in range(100)]
    assert all(f.still_cm >= 150 for f in frames if f.state & 2)  # only the neighbour
    detector = RadarDetector()
    detector.zone.max_cm = 120
    assert {detector.update(float(t), f).presence for t, f in enumerate(frames)} <= {"absent"}


def test_health_with_many_wireless_sensors_stays_encodable(tmp_path: Path) -> None:
    from edge.agent import MAX_RADIO_ROWS, Agent
    from edge.protocol import encode

    config = AgentConfig.from_dict({
        "site": "s", "agent": "a", "data_dir": str(tmp_path / "edge"), "desks": [
            {"id": f"d{n}", "zone": "z", "sensors": [
                {"type": "zigbee", "device": f"desk-{n}-{j}"} for j in range(4)]}
            for n in range(150)]})
    wireless = WirelessInputs(config.device_mqtt)
    agent = Agent(config, build_sensors(config, tmp_path, "edge.toml", wireless=wireless),
                  wireless=wireless, radio=False)
    try:
        wireless.channels[7][1].fault()
        health = agent.health(1_780_000_000.0)
        assert len(health.radio) == MAX_RADIO_ROWS < 600
        assert health.radio[0].faults == 1  # the worst first
        assert len(encode(health)) < 64 * 1024
    finally:
        agent.stop(drain_seconds=0)


def test_a_simulated_building_mixes_wireless_desks() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from firmware_sim.building import generate_building
    from firmware_sim.people import PeopleModel
    from firmware_sim.sensors import GroundTruth, SimulatedSensor
    from firmware_sim.wireless import WirelessDeskSensor

    building = generate_building(seed=1, desks=40, floors=1)
    people = PeopleModel(building, seed=2)
    tz = ZoneInfo("Europe/Berlin")
    origin = datetime(2025, 3, 11, 7, 0, tzinfo=tz).timestamp()
    truth = GroundTruth(people, origin=origin, seed=3, wireless_share=0.5)
    kinds = {type(s) for s in truth.sensors.values()}
    assert kinds == {SimulatedSensor, WirelessDeskSensor}
    wireless = [s for s in truth.sensors.values() if isinstance(s, WirelessDeskSensor)]
    assert {s.kind for s in wireless} == {"zigbee", "radar"}
    truth.ensure(origin + 60)
    agree = total = 0
    for t in range(int(origin), int(origin) + 10 * 3600, 10):
        for sensor in wireless:
            presence = sensor.read(float(t)).presence
            if presence != "fault":
                total += 1
                agree += (presence == "present") == sensor.occupied(float(t))
    assert total > 0.9 * len(wireless) * 3600 and agree / total > 0.95  # the detector works
    assert truth.intervals(origin, origin + 36_000) == people.occupancy(origin, origin + 36_000)
    with pytest.raises(ValueError, match="wireless_share"):
        GroundTruth(people, origin=origin, wireless_share=2.0)
