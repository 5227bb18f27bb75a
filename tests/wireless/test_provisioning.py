"""The hub records wireless sensors with the edge's own checks, refuses clashes and bind
keys, and the edge.toml it generates loads on the agent with the same sensors."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from edge.config import AgentConfig
from hub.admin.edge_config import edge_toml
from hub.building import desk_sensors
from hub.errors import ConfigError

BTHOME = {"type": "bthome", "address": "A4:C1:38:8D:18:B2", "measure": "motion"}
ZIGBEE = {"type": "zigbee", "device": "desk-02-fp1e", "field": "presence"}
RADAR = {"type": "radar", "port": "/dev/serial0", "max_cm": 110, "min_energy": 20}
MQTT = {"type": "mqtt", "topic": "esphome/desk-4/presence", "detector": "presence"}


def test_wireless_specs_are_checked_and_generate_a_loadable_edge_toml(tmp_path: Path) -> None:
    desks = [(f"d{i}", "z1", desk_sensors.check_sensors([spec]))
             for i, spec in enumerate((BTHOME, ZIGBEE, RADAR, MQTT), start=1)]
    desk_sensors.check_agent("a1", [(d, s) for d, _, s in desks])
    text = edge_toml("hq", "a1", desks)
    assert "bind_key" in text and 'address = "A4:C1:38:8D:18:B2"' in text
    path = tmp_path / "edge.toml"
    path.write_text(text)
    config = AgentConfig.from_dict(tomllib.loads(text) | {"data_dir": str(tmp_path)},
                                   source=str(path))
    loaded = {d.id: d.sensors[0] for d in config.desks}
    assert loaded["d1"].ble_address == "A4:C1:38:8D:18:B2" and loaded["d1"].motion
    assert loaded["d2"].device == "desk-02-fp1e" and loaded["d2"].payload_field == "presence"
    assert loaded["d3"].port == "/dev/serial0" and loaded["d3"].max_cm == 110
    assert loaded["d4"].topic == "esphome/desk-4/presence" and not loaded["d4"].motion


@pytest.mark.parametrize(("first", "second", "message"), [
    (BTHOME, {**BTHOME, "address": BTHOME["address"].lower()}, "BTHome sensor A4:C1:38:8D:18:B2 "
     "is already used by desk d1 sensors[0].address"),
    (ZIGBEE, {**ZIGBEE, "field": "occupancy"}, "zigbee2mqtt device 'desk-02-fp1e' is already"),
    (RADAR, {"type": "radar", "port": "/dev/serial0"}, "serial port /dev/serial0 is already"),
    (MQTT, dict(MQTT), "MQTT topic 'esphome/desk-4/presence' is already"),
])
def test_one_device_serves_one_desk_per_agent(first: dict, second: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        desk_sensors.check_agent("a1", [("d1", [first]), ("d2", [second])])


def test_a_bind_key_is_never_recorded_by_the_hub() -> None:
    with pytest.raises(ConfigError, match="bind key is a secret"):
        desk_sensors.check_sensors([{**BTHOME, "bind_key": "00" * 16}])


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "bthome", "address": "A4-C1-38"}, "must be a Bluetooth address"),
    ({"type": "bthome", "address": "A4:C1:38:8D:18:B2", "measure": "moisture"},
     "measure must be one of"),
    ({"type": "zigbee", "device": "0x00158d0001a2b3c4"}, "is an IEEE address"),
    ({"type": "zigbee", "device": "zigbee2mqtt/#"}, "without '\\+', '#'"),
    ({"type": "mqtt", "topic": "a/b", "detector": "sonar"}, "detector must be one of"),
    ({"type": "radar", "port": "/dev/ttyS0", "max_cm": 900}, "max_cm must be a whole number"),
])
def test_bad_wireless_specs_are_refused_with_a_reason(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        desk_sensors.check_sensors([spec])
