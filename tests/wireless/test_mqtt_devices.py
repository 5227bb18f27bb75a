"""zigbee2mqtt / MQTT devices: documented payloads published to a real Mosquitto reach
the hub as desk states; ``availability: offline`` makes the desk unknown."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.agent import Agent
from edge.config import AgentConfig
from edge.errors import ConfigError
from edge.sensor_factory import build_sensors
from edge.wireless.channel import Channel
from edge.wireless.inputs import WirelessInputs
from edge.wireless.mqtt_devices import MqttDevice, MqttDevices, PayloadError, map_payload
from firmware_sim.wireless import Z2M_FIXTURES
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.ingest.ingestor import Ingestor
from tests.broker import Mosquitto

SITE, AGENT, ZONE = "wl", "wl-agent", "wl-z1"
DESKS = {  # desk -> (friendly name, fixture, sensor table extras)
    "wl-d1": ("desk-01-fp1e", "aqara_fp1e", {"field": "presence"}),
    "wl-d2": ("desk-02-hue", "hue_sml001", {"field": "occupancy", "detector": "presence"}),
    "wl-d3": ("desk-03-tuya", "tuya_zy_m100", {"field": "presence"}),
    "wl-d4": ("desk-04-chair", "aqara_mccgq11lm", {"field": "contact", "invert": True}),
}
BUILDING = {"sites": [{"id": SITE, "name": "Wireless", "timezone": "UTC", "floors": [
    {"id": "wl-f1", "name": "First", "level": 1, "zones": [
        {"id": ZONE, "name": "Zone", "desks": [
            {"id": desk, "name": desk, "agent": AGENT, "x": 0.1 * (i + 1), "y": 0.5}
            for i, desk in enumerate(DESKS)]}]}]}]}


@pytest.mark.parametrize(("fixture", "field", "expected"), [
    ("aqara_fp1e", "presence", True), ("hue_sml001", "occupancy", True),
    ("tuya_zy_m100", "presence", True), ("aqara_mccgq11lm", "contact", False),
])
def test_documented_payloads_map_to_a_flag(fixture: str, field: str, expected: bool) -> None:
    value, doc = map_payload(json.dumps(Z2M_FIXTURES[fixture]).encode(), field)
    assert value is expected and doc["linkquality"] > 0


@pytest.mark.parametrize(("payload", "field", "reason"), [
    (b"\xff\xfe", "occupancy", "not UTF-8"), (b"{oops", "occupancy", "not JSON"),
    (b"[1, 2]", "occupancy", "not a JSON object"),
    (b'{"occupancy": "maybe"}', "occupancy", "not on/off"),
    (b'{"occupancy": {"x": 1}}', "occupancy", "not on/off"),
    (b'{"state": "ON"}', None, "no field is configured"),
    (b"x" * 20_000, "occupancy", "larger than 16 KiB"),
])
def test_bad_payloads_are_refused_with_a_reason(payload: bytes, field: str | None,
                                                reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        map_payload(payload, field)


def test_plain_on_off_payloads_and_a_missing_field() -> None:
    assert map_payload(b"ON", None) == (True, {})
    assert map_payload(b"off", None) == (False, {})
    assert map_payload(b"1", None) == (True, {})
    assert map_payload(b"detected", None, "detected") == (True, {})
    assert map_payload(b'{"battery": 40}', "occupancy") == (None, {"battery": 40})


def test_availability_and_bad_payloads_through_handle() -> None:
    channel = Channel("zigbee sensor of desk d1")
    devices = MqttDevices([MqttDevice("zigbee2mqtt/d1", channel, field="presence",
                                      availability_topic="zigbee2mqtt/d1/availability")])
    devices.handle("zigbee2mqtt/d1", b'{"presence": true, "battery": 44}', 10.0)
    assert channel.sample(11.0) is True and channel.health(11.0).battery == 40
    devices.handle("zigbee2mqtt/d1/availability", b'{"state": "offline"}', 12.0)
    with pytest.raises(Exception, match="unavailable"):
        channel.sample(12.0)
    devices.handle("zigbee2mqtt/d1/availability", b"online", 13.0)  # legacy plain payload
    assert channel.sample(13.0) is True
    devices.handle("zigbee2mqtt/d1", b"garbage", 14.0)
    devices.handle("zigbee2mqtt/d1/availability", b"{}", 14.0)
    assert channel.faults == 2 and channel.sample(14.0) is True


def test_an_ieee_address_as_device_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IEEE address"):
        AgentConfig.from_dict({"site": SITE, "agent": AGENT, "data_dir": str(tmp_path),
                               "desks": [{"id": "d1", "zone": "z", "sensors": [
                                   {"type": "zigbee", "device": "0x00158d0001a2b3c4"}]}]})
    with pytest.raises(ConfigError, match="already used"):
        AgentConfig.from_dict({"site": SITE, "agent": AGENT, "data_dir": str(tmp_path),
                               "desks": [{"id": f"d{i}", "zone": "z", "sensors": [
                                   {"type": "zigbee", "device": "same"}]} for i in (1, 2)]})


@pytest.fixture
def hub(tmp_path: Path, fresh_broker: Mosquitto) -> Iterator[SqliteStore]:
    settings = HubSettings(data_dir=tmp_path / "hub", mqtt_port=fresh_broker.port)
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    ingestor = Ingestor(settings, store)
    ingestor.start()
    assert ingestor.wait_connected(10)
    yield store
    ingestor.stop()
    store.close()


def hub_states(store: SqliteStore) -> dict[str, str]:
    return dict(store.db.execute("SELECT desk, state FROM desk_state").fetchall())


def wait_for(store: SqliteStore, wanted: dict[str, str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (states := hub_states(store)) != wanted:
        assert time.monotonic() < deadline, f"hub has {states}, expected {wanted}"
        time.sleep(0.05)


@pytest.mark.broker
def test_zigbee2mqtt_payloads_reach_the_hub_and_offline_is_unknown(
        tmp_path: Path, fresh_broker: Mosquitto, hub: SqliteStore) -> None:
    config = AgentConfig.from_dict({
        "site": SITE, "agent": AGENT, "data_dir": str(tmp_path / "edge"),
        "mqtt": {"port": fresh_broker.port, "keepalive": 5},
        "device_mqtt": {"port": fresh_broker.port},
        "desks": [{"id": desk, "zone": ZONE, "sensors": [
            {"type": "zigbee", "device": name, **extra}]}
            for desk, (name, _, extra) in DESKS.items()],
    })
    clock = [time.time()]
    wireless = WirelessInputs(config.device_mqtt, client_id="wl-test", clock=lambda: clock[0])
    agent = Agent(config, build_sensors(config, tmp_path, "edge.toml", wireless=wireless),
                  clock=lambda: clock[0], wireless=wireless)
    z2m = paho.Client(CallbackAPIVersion.VERSION2, client_id="fake-zigbee2mqtt")
    z2m.connect("127.0.0.1", fresh_broker.port)
    z2m.loop_start()
    try:
        agent.start()
        assert agent.wait_connected(10)
        assert wireless.devices is not None and wireless.devices.connected.wait(10)
        for name, fixture, _ in DESKS.values():
            z2m.publish(f"zigbee2mqtt/{name}/availability", '{"state":"online"}', 1
                        ).wait_for_publish(5)
            z2m.publish(f"zigbee2mqtt/{name}", json.dumps(Z2M_FIXTURES[fixture]), 1
                        ).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while wireless.devices.messages < 2 * len(DESKS):
            assert time.monotonic() < deadline, "the agent did not receive the payloads"
            time.sleep(0.02)
        agent.step(clock[0])
        # contact False + invert: the chair-back contact is open = somebody leans on it
        wait_for(hub, dict.fromkeys(DESKS, "occupied"))

        z2m.publish("zigbee2mqtt/desk-01-fp1e/availability", '{"state":"offline"}', 1
                    ).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while wireless.devices.messages < 2 * len(DESKS) + 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        clock[0] += 1
        agent.step(clock[0])
        assert agent.states["wl-d1"] == "occupied"  # a blip keeps the verdict for 30 s ...
        clock[0] += 30
        agent.step(clock[0])
        assert agent.states["wl-d1"] == "unknown"  # ... then the desk is unknown
        assert "wl-d1" in agent.health(clock[0]).sensor_faults
        wait_for(hub, {**dict.fromkeys(DESKS, "occupied"), "wl-d1": "unknown"})
        radio = {h.desk: h for h in agent.health(clock[0]).radio}
        assert radio["wl-d1"].signal == "none" and radio["wl-d2"].battery == 90
        assert radio["wl-d3"].signal == "fair" and radio["wl-d4"].signal == "weak"
    finally:
        z2m.loop_stop()
        z2m.disconnect()
        agent.stop(drain_seconds=1)
