"""Edge config: TOML in, frozen dataclasses out, one exact line for every mistake."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from edge.config import (
    AgentConfig,
    DeskConfig,
    MqttConfig,
    OutboxConfig,
    SensorConfig,
    check_desk_sensors,
)
from edge.errors import ConfigError

FULL_TOML = """\
site = "hq"
agent = "floor-2"
data_dir = "var"
poll_seconds = 0.5
hold_seconds = 300
max_inflight = 5
health_seconds = 30

[mqtt]
host = "broker.example"
port = 8883
username = "floor-2"
password = "s3cret-for-floor-2"
tls = true
keepalive = 10
ca_file = "ca.pem"

[[desks]]
id = "d-1"
zone = "north"
sensor = "file:d1.txt"

[[desks]]
id = "d-2"
zone = "south"
"""


def minimal() -> dict[str, Any]:
    return {
        "site": "hq",
        "agent": "a1",
        "data_dir": "/var/lib/deskpulse",
        "desks": [{"id": "d1", "zone": "z1"}, {"id": "d2", "zone": "z1"}],
    }


def test_full_toml_file_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(FULL_TOML)
    config = AgentConfig.from_toml(path)
    assert config == AgentConfig(
        site="hq",
        agent="floor-2",
        desks=(DeskConfig("d-1", "north", "file:d1.txt"), DeskConfig("d-2", "south")),
        data_dir=tmp_path / "var",
        mqtt=MqttConfig(
            host="broker.example", port=8883, username="floor-2",
            password="s3cret-for-floor-2", tls=True, keepalive=10, ca_file=tmp_path / "ca.pem",
        ),
        poll_seconds=0.5,
        hold_seconds=300.0,
        max_inflight=5,
        health_seconds=30.0,
    )
    assert "s3cret" not in repr(config)


def test_defaults() -> None:
    config = AgentConfig.from_dict(minimal())
    assert config.mqtt == MqttConfig()
    assert (config.poll_seconds, config.hold_seconds) == (1.0, 600.0)
    assert (config.max_inflight, config.health_seconds) == (20, 60.0)
    assert config.desks[0].sensor == "simulated"
    assert config.data_dir == Path("/var/lib/deskpulse")
    assert config.outbox == OutboxConfig(100_000, 64.0, 7.0)


def test_outbox_bounds_are_read() -> None:
    data = minimal()
    data["outbox"] = {"max_messages": 5000, "max_megabytes": 8, "max_age_days": 2.5}
    assert AgentConfig.from_dict(data).outbox == OutboxConfig(5000, 8.0, 2.5)


def test_config_is_frozen() -> None:
    config = AgentConfig.from_dict(minimal())
    with pytest.raises(AttributeError):
        config.site = "other"  # type: ignore[misc]


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    target: Any = data
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value


_DELETE = object()
ALLOWED_TOP = (
    "agent, ble, camera, data_dir, desks, device_mqtt, health_seconds, hold_seconds, "
    "max_inflight, mqtt, "
    "outbox, poll_seconds, site"
)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("site", "HQ", "site 'HQ' is not a valid id: use lowercase letters, digits and '-'"),
        ("agent", "a_1", "agent 'a_1' is not a valid id: use lowercase letters, digits and '-'"),
        ("agent", 7, "agent must be a string: put it in quotes"),
        ("agent", "a" * 65, "agent is longer than 64 characters: shorten it"),
        ("desks.1.id", "Desk 1",
         "desks[1].id 'Desk 1' is not a valid id: use lowercase letters, digits and '-'"),
        ("desks.0.zone", "", "desks[0].zone '' is not a valid id: "
         "use lowercase letters, digits and '-'"),
        ("desks.1.id", "d1",
         "desks[1].id 'd1' is used by an earlier desk: give every desk its own id"),
        ("desks.0.sensor", "", "desks[0].sensor must be a non-empty string"),
        ("desks.0.colour", "red", "unknown key 'desks[0].colour': remove it or check its "
         "spelling (allowed: id, sensor, sensors, zone)"),
        ("desks.0.zone", _DELETE, "missing key 'desks[0].zone': add it"),
        ("desks", [], "desks must be one or more [[desks]] tables with id and zone"),
        ("desks", {"id": "d1"}, "desks must be one or more [[desks]] tables with id and zone"),
        ("desks", ["d1"], "desks[0] must be a table"),
        ("desks", [{"id": f"d{i}", "zone": "z"} for i in range(501)],
         "501 desks configured; one agent serves at most 500: split them over several agents"),
        ("site", _DELETE, "missing key 'site': add it"),
        ("data_dir", _DELETE, "missing key 'data_dir': add it"),
        ("data_dir", 3, "data_dir must be a non-empty string"),
        ("sitee", "hq", f"unknown key 'sitee': remove it or check its spelling "
         f"(allowed: {ALLOWED_TOP})"),
        ("poll_seconds", 0, "poll_seconds must be positive, got 0"),
        ("hold_seconds", -5, "hold_seconds must be positive, got -5"),
        ("health_seconds", float("nan"), "health_seconds must be positive, got nan"),
        ("poll_seconds", "1", "poll_seconds must be a number of seconds"),
        ("poll_seconds", True, "poll_seconds must be a number of seconds"),
        ("max_inflight", 0, "max_inflight must be between 1 and 1000, got 0"),
        ("max_inflight", 2.5, "max_inflight must be a whole number"),
        ("outbox", 5, "outbox must be a table"),
        ("outbox.max_messages", 0, "outbox.max_messages must be between 1 and 10000000, got 0"),
        ("outbox.max_megabytes", 0.5, "outbox.max_megabytes must be a number from 1 to 100000, "
         "got 0.5"),
        ("outbox.max_age_days", "7", "outbox.max_age_days must be a number from 0.01 to 3650, "
         "got '7'"),
        ("outbox.max_age", 7, "unknown key 'outbox.max_age': remove it or check its spelling "
         "(allowed: max_age_days, max_megabytes, max_messages)"),
        ("mqtt", "localhost", "mqtt must be a table"),
        ("mqtt.port", 70000, "mqtt.port must be between 1 and 65535, got 70000"),
        ("mqtt.keepalive", 0, "mqtt.keepalive must be between 1 and 65535, got 0"),
        ("mqtt.tls", "yes", "mqtt.tls must be true or false"),
        ("mqtt.host", " ", "mqtt.host must be a non-empty string"),
        ("mqtt.user", "x", "unknown key 'mqtt.user': remove it or check its spelling "
         "(allowed: ca_file, host, keepalive, password, port, tls, username)"),
    ],
)
def test_every_mistake_is_one_exact_line(key: str, value: Any, message: str) -> None:
    data = copy.deepcopy(minimal())
    _set(data, key, value)
    with pytest.raises(ConfigError) as err:
        AgentConfig.from_dict(data, source="edge.toml")
    assert str(err.value) == f"edge.toml: {message}"


@pytest.mark.parametrize("password", ["changeme", "ChangeMe", "password", " secret "])
def test_placeholder_password_is_refused(password: str) -> None:
    data = minimal()
    data["mqtt"] = {"username": "a1", "password": password}
    with pytest.raises(ConfigError) as err:
        AgentConfig.from_dict(data, source="edge.toml")
    assert str(err.value) == (
        "edge.toml: mqtt.password is a placeholder: set the password provisioned for this agent"
    )


def test_password_needs_a_username() -> None:
    data = minimal()
    data["mqtt"] = {"password": "a-long-real-one"}
    with pytest.raises(ConfigError) as err:
        AgentConfig.from_dict(data, source="edge.toml")
    assert str(err.value) == (
        "edge.toml: mqtt.password is set without mqtt.username: add mqtt.username"
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as err:
        AgentConfig.from_toml(path)
    assert str(err.value) == f"{path}: file not found: check the --config path"


def test_bad_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('site = "hq"\nagent = \n')
    with pytest.raises(ConfigError) as err:
        AgentConfig.from_toml(path)
    assert str(err.value) == f"{path}: not valid TOML: Invalid value (at line 2, column 9)"


def test_relative_data_dir_without_base_dir_stays_relative() -> None:
    data = minimal()
    data["data_dir"] = "var"
    assert AgentConfig.from_dict(data).data_dir == Path("var")
    assert AgentConfig.from_dict(data, base_dir=Path("/etc/dp")).data_dir == Path("/etc/dp/var")


# -- desks with one or more [[desks.sensors]] ---------------------------------------------

SENSORS_TOML = """\
site = "hq"
agent = "a1"
data_dir = "var"

[[desks]]
id = "d1"
zone = "z1"
[[desks.sensors]]
type = "pir"
pin = 17
[[desks.sensors]]
type = "thermopile"
bus = 1
address = 0x68

[[desks]]
id = "d2"
zone = "z1"
[[desks.sensors]]
type = "pressure"
pin = 27
pull_up = false
debounce_seconds = 3
[[desks.sensors]]
type = "contact"
pin = 4
[[desks.sensors]]
type = "file"
path = "d2.txt"
[[desks.sensors]]
type = "pir"
pin = 5
hold_seconds = 90
"""


def test_desk_sensors_tables_load(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(SENSORS_TOML)
    config = AgentConfig.from_toml(path)
    assert config.desks == (
        DeskConfig("d1", "z1", sensors=(
            SensorConfig("pir", pin=17),
            SensorConfig("thermopile", bus=1, address=0x68),
        )),
        DeskConfig("d2", "z1", sensors=(
            SensorConfig("pressure", pin=27, pull_up=False, debounce_seconds=3.0),
            SensorConfig("contact", pin=4),
            SensorConfig("file", path=tmp_path / "d2.txt"),
            SensorConfig("pir", pin=5, hold_seconds=90.0),
        )),
    )


def test_sensor_defaults() -> None:
    data = minimal()
    data["desks"][0]["sensors"] = [{"type": "thermopile"}, {"type": "contact", "pin": 6}]
    thermopile, contact = AgentConfig.from_dict(data).desks[0].sensors
    assert (thermopile.bus, thermopile.address) == (1, 0x69)
    assert (contact.pull_up, contact.debounce_seconds, contact.hold_seconds) == (True, None, None)


def test_sensor_shorthand_still_works() -> None:
    data = minimal()
    data["desks"][0]["sensor"] = "file:/run/d1"
    desk = AgentConfig.from_dict(data).desks[0]
    assert desk == DeskConfig("d1", "z1", "file:/run/d1") and desk.sensors == ()


S = "desks.0.sensors"
D = "desks[0].sensors"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (S, [], f"{D} must be one or more [[desks.sensors]] tables with a type"),
        (S, {"type": "pir"}, f"{D} must be one or more [[desks.sensors]] tables with a type"),
        (S, [{"type": "pir", "pin": p} for p in (4, 5, 6, 7, 8)],
         f"{D} lists 5 sensors; a desk has at most 4"),
        (S, ["pir"], f"{D}[0] must be a table"),
        (S, [{"pin": 17}], f"missing key '{D}[0].type': add it"),
        (S, [{"type": "camera"}], f"{D}[0].type 'camera' is not a sensor type: use one of "
         "bthome, contact, file, mqtt, pir, pressure, radar, thermopile, zigbee"),
        (S, [{"type": "simulated"}], f"{D}[0].type 'simulated' is not a sensor type: use one "
         "of bthome, contact, file, mqtt, pir, pressure, radar, thermopile, zigbee"),
        (S, [{"type": "pir"}], f"missing key '{D}[0].pin': add it"),
        (S, [{"type": "file"}], f"missing key '{D}[0].path': add it"),
        (S, [{"type": "pir", "pin": 17, "address": 0x69}],
         f"unknown key '{D}[0].address': remove it or check its spelling "
         "(allowed: hold_seconds, pin, type)"),
        (S, [{"type": "thermopile", "pin": 3}],
         f"unknown key '{D}[0].pin': remove it or check its spelling "
         "(allowed: address, bus, type)"),
        (S, [{"type": "contact", "pin": 2}], f"{D}[0].pin must be a BCM GPIO number from "
         "4 to 27 (2 and 3 are the I2C bus), got 2"),
        (S, [{"type": "contact", "pin": 28}], f"{D}[0].pin must be a BCM GPIO number from "
         "4 to 27 (2 and 3 are the I2C bus), got 28"),
        (S, [{"type": "pir", "pin": "17"}], f"{D}[0].pin must be a BCM GPIO number from "
         "4 to 27 (2 and 3 are the I2C bus), got '17'"),
        (S, [{"type": "pir", "pin": True}], f"{D}[0].pin must be a BCM GPIO number from "
         "4 to 27 (2 and 3 are the I2C bus), got True"),
        (S, [{"type": "contact", "pin": 9, "pull_up": "yes"}],
         f"{D}[0].pull_up must be true or false"),
        (S, [{"type": "pir", "pin": 9, "hold_seconds": 0}],
         f"{D}[0].hold_seconds must be positive, got 0"),
        (S, [{"type": "pressure", "pin": 9, "debounce_seconds": "2"}],
         f"{D}[0].debounce_seconds must be a number of seconds"),
        (S, [{"type": "thermopile", "address": 0x70}], f"{D}[0].address must be 0x68 "
         "(AD_SELECT to GND) or 0x69 (AD_SELECT to 3.3 V), got 0x70"),
        (S, [{"type": "thermopile", "address": "0x69"}],
         f"{D}[0].address must be a number such as 0x69 (no quotes)"),
        (S, [{"type": "thermopile", "bus": 32}],
         f"{D}[0].bus must be an I2C bus number from 0 to 31, got 32"),
        (S, [{"type": "thermopile", "bus": -1}],
         f"{D}[0].bus must be an I2C bus number from 0 to 31, got -1"),
        (S, [{"type": "file", "path": ""}], f"{D}[0].path must be a non-empty string"),
        (S, [{"type": "pir", "pin": 17}, {"type": "contact", "pin": 17}],
         f"{D}[1].pin: GPIO pin 17 is already used by {D}[0].pin: give every sensor its "
         "own pin"),
        (S, [{"type": "thermopile"}, {"type": "thermopile", "address": 0x69}],
         f"{D}[1].address: I2C address 0x69 on bus 1 is already used by {D}[0].address: an "
         "AMG8833 answers at 0x68 or 0x69, so a bus holds two: use another bus"),
        ("desks.0.sensor", "pir", "desks[0].sensor 'pir' is not a sensor: use \"file:<path>\", "
         "or [[desks.sensors]] tables for pir, contact, pressure, thermopile, bthome, zigbee, "
         "mqtt, radar sensors"),
        ("desks.0.sensor", "file:", "desks[0].sensor 'file:' is not a sensor: use "
         "\"file:<path>\", or [[desks.sensors]] tables for pir, contact, pressure, "
         "thermopile, bthome, zigbee, mqtt, radar sensors"),
    ],
)
def test_every_sensor_mistake_is_one_exact_line(key: str, value: Any, message: str) -> None:
    data = copy.deepcopy(minimal())
    _set(data, key, value)
    with pytest.raises(ConfigError) as err:
        AgentConfig.from_dict(data, source="edge.toml")
    assert str(err.value) == f"edge.toml: {message}"


def test_sensor_and_sensors_together_is_a_mistake() -> None:
    data = minimal()
    data["desks"][0].update(sensor="file:x", sensors=[{"type": "pir", "pin": 17}])
    with pytest.raises(ConfigError) as err:
        AgentConfig.from_dict(data, source="edge.toml")
    assert str(err.value) == (
        "edge.toml: desks[0] has both sensor and sensors: keep only the [[desks.sensors]] tables"
    )


def test_a_pin_is_claimed_across_desks_too() -> None:
    data = minimal()
    data["desks"][0]["sensors"] = [{"type": "pir", "pin": 17}]
    data["desks"][1]["sensors"] = [{"type": "contact", "pin": 17}]
    with pytest.raises(ConfigError) as err:
        AgentConfig.from_dict(data, source="edge.toml")
    assert str(err.value) == (
        "edge.toml: desks[1].sensors[0].pin: GPIO pin 17 is already used by "
        "desks[0].sensors[0].pin: give every sensor its own pin"
    )


def test_two_thermopiles_share_a_bus_at_both_addresses() -> None:
    data = minimal()
    data["desks"][0]["sensors"] = [{"type": "thermopile", "address": 0x68}]
    data["desks"][1]["sensors"] = [{"type": "thermopile", "address": 0x69},
                                   {"type": "thermopile", "bus": 3, "address": 0x69}]
    config = AgentConfig.from_dict(data)
    assert [(s.bus, s.address) for d in config.desks for s in d.sensors] == [
        (1, 0x68), (1, 0x69), (3, 0x69)
    ]


def test_check_desk_sensors_is_the_loaders_own_check_without_a_file() -> None:
    """The hub checks the sensors recorded in its building with this: same rules and the
    same message as the file, with no file name when no source is given."""
    lists = [("desks[0].sensors", [{"type": "pir", "pin": 17}]),
             ("desks[1].sensors", [{"type": "contact", "pin": 17}])]
    with pytest.raises(ConfigError) as err:
        check_desk_sensors(lists)
    assert str(err.value) == (
        "desks[1].sensors[0].pin: GPIO pin 17 is already used by desks[0].sensors[0].pin: "
        "give every sensor its own pin"
    )
    with pytest.raises(ConfigError, match=r"^agent a1: desks\[1\]"):
        check_desk_sensors(lists, source="agent a1")
    assert check_desk_sensors([("s", [{"type": "file", "path": "rel/x"}])]) == [
        (SensorConfig("file", path=Path("rel/x")),)]
