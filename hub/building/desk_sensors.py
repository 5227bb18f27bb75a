"""Which physical sensors read a desk, as recorded in the building.

A desk's sensors are a list of edge.toml ``[[desks.sensors]]`` tables (``{"type": "pir",
"pin": 17}``), stored as JSON in ``desks.sensors`` (NULL: none recorded). They are checked
by the edge's own validator (:func:`edge.config.check_desk_sensors`), so the hub accepts
exactly what an agent loads: same types, keys, limits and messages. An agent reads all of
its desks' sensors on one Pi, so a GPIO pin or I2C address (and a BTHome address, a
zigbee2mqtt device, an MQTT topic or a serial port) may be used once per agent;
desks without an agent are checked when one is assigned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from edge.config import check_desk_sensors
from hub.errors import ConfigError

Spec = dict[str, Any]
# the order keys are stored and written in (edge.config._SENSOR_KEYS holds which are allowed)
KEY_ORDER = ("type", "pin", "pull_up", "bus", "address", "path", "measure", "device",
             "topic", "field", "on_value", "availability_topic", "detector", "invert", "port",
             "baudrate", "max_cm", "min_cm", "min_energy", "timeout_seconds", "hold_seconds",
             "debounce_seconds")


def check_sensors(value: object, where: str = "sensors") -> list[Spec]:
    """One desk's sensors, checked alone and in a stable key order; None or [] is none."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of sensors such as "
                          '[{"type": "pir", "pin": 17}]')
    if not value:
        return []
    for i, item in enumerate(value):
        if isinstance(item, dict) and "bind_key" in item:
            raise ConfigError(f"{where}[{i}].bind_key: a BTHome bind key is a secret and is "
                              "not recorded in the building: add it to edge.toml on the Pi")
    check_desk_sensors([(where, value)])
    return [{key: item[key] for key in KEY_ORDER if key in item} for item in value]


def dumps(specs: Sequence[Spec]) -> str | None:
    """The ``desks.sensors`` column value."""
    return json.dumps(list(specs), separators=(",", ":")) if specs else None


def loads(text: object) -> list[Spec]:
    """The column value as a list (a damaged value reads as none rather than failing)."""
    if not isinstance(text, str) or not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def check_agent(agent: str, desks: Sequence[tuple[str, Sequence[Spec]]]) -> None:
    """Refuse a GPIO pin or I2C address used twice among one agent's desks; ``desks`` are
    (desk id, sensors) pairs, the desk being changed last so that the message names it
    first: ``agent a1: desk d2 sensors[0].pin: GPIO pin 17 is already used by desk d1
    sensors[0].pin: give every sensor its own pin``."""
    lists = [(f"desk {desk} sensors", list(specs)) for desk, specs in desks if specs]
    if lists:
        check_desk_sensors(lists, source=f"agent {agent}")


def agent_sensors(db: Any, agent: str, *, without: str | None = None
                  ) -> list[tuple[str, list[Spec]]]:
    """(desk id, sensors) of the agent's desks with sensors, but desk ``without``."""
    rows = db.execute("SELECT id, sensors FROM desks WHERE agent = ? AND sensors IS NOT NULL "
                      "ORDER BY id", [agent]).fetchall()
    return [(str(desk), loads(text)) for desk, text in rows if desk != without]


def toml_value(key: str, value: Any) -> str:
    """A TOML value: strings as JSON strings (valid TOML basic strings), I2C addresses hex."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if key == "address" and isinstance(value, int):
        return f"0x{value:02x}"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def toml_tables(specs: Sequence[Spec]) -> list[str]:
    """The ``[[desks.sensors]]`` tables of one desk, to follow its ``[[desks]]`` table."""
    lines: list[str] = []
    for spec in specs:
        lines.append("[[desks.sensors]]")
        lines += [f"{key} = {toml_value(key, spec[key])}" for key in KEY_ORDER if key in spec]
        if spec.get("type") == "bthome":
            lines.append('# bind_key = "<32 hex>"  # an encrypted device\'s key: add it here '
                         "on the Pi (never recorded by the hub)")
    return lines
