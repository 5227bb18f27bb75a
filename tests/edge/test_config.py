"""Edge config: TOML in, frozen dataclasses out, one exact line for every mistake."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from edge.config import AgentConfig, DeskConfig, MqttConfig
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
    "agent, data_dir, desks, health_seconds, hold_seconds, max_inflight, mqtt, "
    "poll_seconds, site"
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
         "spelling (allowed: id, sensor, zone)"),
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
