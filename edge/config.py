"""Edge agent configuration: frozen dataclasses loaded from TOML and validated strictly.

Every mistake becomes one :class:`ConfigError` line that names the file, the key and what
to do, because the person reading it is an installer at a Pi with a text editor.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from edge.ble.config import BleConfig, parse_ble
from edge.errors import ConfigError
from edge.placeholders import is_placeholder
from edge.protocol import is_id
from edge.qr.config import CameraConfig, parse_camera

MAX_DESKS = 500  # one DesksMessage must always hold every desk (64 KiB, 1000 items)
_ID_HINT = "use lowercase letters, digits and '-'"

SensorType = Literal["pir", "contact", "pressure", "thermopile", "file", "bthome", "zigbee",
                     "mqtt", "radar"]
SENSOR_TYPES: tuple[str, ...] = get_args(SensorType)
MAX_SENSORS_PER_DESK = 4
GPIO_PINS = range(4, 28)  # BCM; 0-1 are the HAT EEPROM bus, 2-3 the I2C bus (SDA, SCL)
AMG8833_ADDRESSES = (0x68, 0x69)  # AD_SELECT pin to GND or to 3.3 V
_SENSOR_KEYS: dict[str, set[str]] = {
    "pir": {"type", "pin", "hold_seconds"},
    "contact": {"type", "pin", "pull_up", "debounce_seconds"},
    "pressure": {"type", "pin", "pull_up", "debounce_seconds"},
    "thermopile": {"type", "bus", "address"},
    "file": {"type", "path"},
    # wireless (edge/wireless/, docs/sensors.md)
    "bthome": {"type", "address", "bind_key", "measure", "detector", "invert",
               "timeout_seconds", "hold_seconds", "debounce_seconds"},
    "zigbee": {"type", "device", "field", "on_value", "detector", "invert", "timeout_seconds",
               "hold_seconds", "debounce_seconds"},
    "mqtt": {"type", "topic", "field", "on_value", "availability_topic", "detector", "invert",
             "timeout_seconds", "hold_seconds", "debounce_seconds"},
    "radar": {"type", "port", "baudrate", "max_cm", "min_cm", "min_energy",
              "debounce_seconds", "timeout_seconds"},
}
_SENSOR_REQUIRED: dict[str, set[str]] = {
    "pir": {"pin"}, "contact": {"pin"}, "pressure": {"pin"}, "thermopile": set(),
    "file": {"path"}, "bthome": {"address"}, "zigbee": {"device"}, "mqtt": {"topic"},
    "radar": {"port"},
}
WIRELESS_TYPES = ("bthome", "zigbee", "mqtt", "radar")
BTHOME_MEASURES = ("motion", "occupancy", "presence", "opening", "door", "window")
DETECTORS = ("motion", "presence")
_BLE_ADDRESS = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
_FIELD = re.compile(r"[A-Za-z0-9_]{1,64}")
_TOPIC_PART = re.compile(r"[^#+\x00]{1,200}")


@dataclass(frozen=True)
class SensorConfig:
    """One physical sensor of a desk (a ``[[desks.sensors]]`` table).

    ``pin`` is a BCM GPIO number (pir, contact, pressure); ``bus``/``address`` the I2C
    bus and address of a thermopile; ``path`` the file of a file sensor. ``hold_seconds``
    (pir) and ``debounce_seconds`` (contact, pressure) tune the detector; None keeps the
    detector's default. ``pull_up`` True: the switch connects the pin to ground.
    """

    type: SensorType
    pin: int | None = None
    pull_up: bool = True
    bus: int = 1
    address: int = 0x69
    path: Path | None = None
    hold_seconds: float | None = None
    debounce_seconds: float | None = None
    # wireless: a BTHome MAC (upper case) and bind key, a zigbee2mqtt friendly name or an
    # MQTT topic and the payload field, a radar's serial port and desk zone
    ble_address: str | None = field(default=None, repr=False)
    bind_key: bytes | None = field(default=None, repr=False)
    measure: str | None = None
    detector: str | None = None  # "motion" (PIR detector) or "presence" (debounced flag)
    invert: bool = False
    timeout_seconds: float | None = None
    device: str | None = None
    topic: str | None = None
    payload_field: str | None = None  # edge.toml's "field"
    on_value: str | None = None
    availability_topic: str | None = None
    port: str | None = None
    baudrate: int = 256_000
    max_cm: int = 150
    min_cm: int = 0
    min_energy: int = 15

    @property
    def wireless(self) -> bool:
        return self.type in WIRELESS_TYPES

    @property
    def motion(self) -> bool:
        """True if this sensor's flag is PIR-like motion (read by the PIR detector)."""
        if self.type == "pir":
            return True
        if self.type not in ("bthome", "zigbee", "mqtt"):
            return False
        if self.detector is not None:  # said in edge.toml
            return self.detector == "motion"
        # default: a BTHome motion measurement is motion; any other flag is presence
        return self.type == "bthome" and self.measure in (None, "motion")


@dataclass(frozen=True)
class DeviceMqttConfig:
    """``[device_mqtt]``: the local broker where zigbee2mqtt / ESPHome / Tasmota publish."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    base_topic: str = "zigbee2mqtt"


@dataclass(frozen=True)
class DeskConfig:
    """A desk. ``sensors`` lists its sensors; when empty, the one-string shorthand
    ``sensor`` ("simulated" or "file:<path>") says what reads the desk."""

    id: str
    zone: str
    sensor: str = "simulated"
    sensors: tuple[SensorConfig, ...] = ()


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    keepalive: int = 30
    ca_file: Path | None = None  # TLS trust anchor; None = the system's CA store


@dataclass(frozen=True)
class OutboxConfig:
    """``[outbox]``: how much the store-and-forward queue keeps while the broker is away;
    past a bound the oldest messages are dropped and counted (edge/outbox.py)."""

    max_messages: int = 100_000
    max_megabytes: float = 64.0
    max_age_days: float = 7.0


@dataclass(frozen=True)
class AgentConfig:
    site: str
    agent: str
    desks: tuple[DeskConfig, ...]
    data_dir: Path
    mqtt: MqttConfig = MqttConfig()
    poll_seconds: float = 1.0  # how often run() steps
    hold_seconds: float = 600.0  # absent this long before a desk is vacant (people sit still)
    max_inflight: int = 20  # unacknowledged QoS1 publishes at once
    health_seconds: float = 60.0
    ble: BleConfig | None = None  # [ble]: anonymous zone counting (docs/ble.md)
    camera: CameraConfig | None = None  # [camera]: personal QR check-in (docs/checkin.md)
    outbox: OutboxConfig = OutboxConfig()  # [outbox]: bounds of the store-and-forward queue
    device_mqtt: DeviceMqttConfig = DeviceMqttConfig()  # [device_mqtt]: zigbee2mqtt's broker

    @property
    def outbox_path(self) -> Path:
        """The agent's outbox file (and boot counter), in ``data_dir``."""
        return self.data_dir / "outbox.sqlite"

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        base_dir: Path | None = None,
        source: str = "config",
    ) -> AgentConfig:
        """Validate a parsed TOML document. Relative paths resolve against ``base_dir``;
        ``source`` (the file name) starts every error message."""
        return _Parser(source, base_dir).agent(data)

    @classmethod
    def from_toml(cls, path: Path) -> AgentConfig:
        """Read and validate a TOML file; relative paths in it are relative to the file."""
        source = str(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{source}: file not found: check the --config path") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read the file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
        return cls.from_dict(data, base_dir=Path(path).parent, source=source)


def check_desk_sensors(
    desks: Sequence[tuple[str, Any]], *, source: str = ""
) -> list[tuple[SensorConfig, ...]]:
    """Check several desks' sensor lists exactly as the ``[[desks.sensors]]`` tables of one
    edge.toml are checked: same types, keys, limits and messages, and a GPIO pin or I2C
    address used twice across the desks refused. The hub checks the sensors recorded in the
    building with it (one agent's desks at a time), so both sides agree on what loads.

    ``desks`` pairs a label that names the list in messages (``desks[0].sensors`` here) with
    the list of sensor tables. ``source`` starts each message (none when empty). Paths stay
    relative. Raises :class:`ConfigError`.
    """
    parser = _Parser(source, None)
    return [parser.sensors(value, label) for label, value in desks]


class _Parser:
    """Walks the document; each check raises ConfigError naming ``source`` and the key."""

    def __init__(self, source: str, base_dir: Path | None) -> None:
        self.source = source
        self.base_dir = base_dir
        self.hardware: dict[str, str] = {}  # "gpio 17" / "i2c 1 0x69" -> first user

    def fail(self, text: str) -> ConfigError:
        return ConfigError(f"{self.source}: {text}" if self.source else text)

    def table(
        self, data: Any, name: str, allowed: set[str], required: set[str]
    ) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(f"{name} must be a table")
        prefix = f"{name}." if name != "top level" else ""
        for key in data:
            if key not in allowed:
                raise self.fail(
                    f"unknown key '{prefix}{key}': remove it or check its spelling "
                    f"(allowed: {', '.join(sorted(allowed))})"
                )
        for key in sorted(required):
            if key not in data:
                raise self.fail(f"missing key '{prefix}{key}': add it")
        return dict(data)

    def ident(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{key} must be a string: put it in quotes")
        if len(value) > 64:
            raise self.fail(f"{key} is longer than 64 characters: shorten it")
        if not is_id(value):
            raise self.fail(f"{key} '{value}' is not a valid id: {_ID_HINT}")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key} must be a non-empty string")
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key} must be a number of seconds")
        if not math.isfinite(value) or value <= 0:
            raise self.fail(f"{key} must be positive, got {value}")
        return float(value)

    def integer(self, value: Any, key: str, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{key} must be a whole number")
        if not 0 < value <= hi:
            raise self.fail(f"{key} must be between 1 and {hi}, got {value}")
        return value

    def path(self, value: Any, key: str) -> Path:
        path = Path(self.text(value, key)).expanduser()
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    def agent(self, data: Mapping[str, Any]) -> AgentConfig:
        doc = self.table(
            data, "top level",
            {"site", "agent", "data_dir", "desks", "mqtt", "poll_seconds", "hold_seconds",
             "max_inflight", "health_seconds", "ble", "camera", "outbox", "device_mqtt"},
            {"site", "agent", "data_dir", "desks"},
        )
        kwargs: dict[str, Any] = {
            "site": self.ident(doc["site"], "site"),
            "agent": self.ident(doc["agent"], "agent"),
            "data_dir": self.path(doc["data_dir"], "data_dir"),
            "desks": self.desks(doc["desks"]),
            "mqtt": self.mqtt(doc.get("mqtt", {})),
        }
        for key in ("poll_seconds", "hold_seconds", "health_seconds"):
            if key in doc:
                kwargs[key] = self.number(doc[key], key)
        if "max_inflight" in doc:
            kwargs["max_inflight"] = self.integer(doc["max_inflight"], "max_inflight", 1000)
        if "outbox" in doc:
            kwargs["outbox"] = self.outbox(doc["outbox"])
        if "device_mqtt" in doc:
            kwargs["device_mqtt"] = self.device_mqtt(doc["device_mqtt"])
        if "ble" in doc:
            kwargs["ble"] = parse_ble(doc["ble"], source=self.source,
                                      desk_zones=[d.zone for d in kwargs["desks"]])
        if "camera" in doc:
            kwargs["camera"] = parse_camera(doc["camera"], source=self.source,
                                            desks=[d.id for d in kwargs["desks"]])
        return AgentConfig(**kwargs)

    def desks(self, value: Any) -> tuple[DeskConfig, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("desks must be one or more [[desks]] tables with id and zone")
        if len(value) > MAX_DESKS:
            raise self.fail(
                f"{len(value)} desks configured; one agent serves at most {MAX_DESKS}: "
                "split them over several agents"
            )
        desks: list[DeskConfig] = []
        seen: set[str] = set()
        for i, item in enumerate(value):
            name = f"desks[{i}]"
            raw = self.table(item, name, {"id", "zone", "sensor", "sensors"}, {"id", "zone"})
            desk = DeskConfig(
                id=self.ident(raw["id"], f"{name}.id"),
                zone=self.ident(raw["zone"], f"{name}.zone"),
                sensor=self.shorthand(raw.get("sensor", "simulated"), f"{name}.sensor"),
            )
            if "sensors" in raw:
                if "sensor" in raw:
                    raise self.fail(
                        f"{name} has both sensor and sensors: keep only the [[desks.sensors]] "
                        "tables"
                    )
                desk = replace(desk, sensors=self.sensors(raw["sensors"], f"{name}.sensors"))
            if desk.id in seen:
                raise self.fail(
                    f"{name}.id '{desk.id}' is used by an earlier desk: give every desk its own id"
                )
            seen.add(desk.id)
            desks.append(desk)
        return tuple(desks)

    def shorthand(self, value: Any, key: str) -> str:
        text = self.text(value, key)
        if text == "simulated" or (text.startswith("file:") and text[5:].strip()):
            return text
        raise self.fail(
            f"{key} '{text}' is not a sensor: use \"file:<path>\", or [[desks.sensors]] "
            f"tables for {', '.join(t for t in SENSOR_TYPES if t != 'file')} sensors"
        )

    def sensors(self, value: Any, name: str) -> tuple[SensorConfig, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(f"{name} must be one or more [[desks.sensors]] tables with a type")
        if len(value) > MAX_SENSORS_PER_DESK:
            raise self.fail(
                f"{name} lists {len(value)} sensors; a desk has at most {MAX_SENSORS_PER_DESK}"
            )
        return tuple(self.sensor(item, f"{name}[{i}]") for i, item in enumerate(value))

    def sensor(self, value: Any, name: str) -> SensorConfig:
        if not isinstance(value, Mapping):
            raise self.fail(f"{name} must be a table")
        kind = value.get("type")
        if kind is None:
            raise self.fail(f"missing key '{name}.type': add it")
        if kind not in SENSOR_TYPES:
            raise self.fail(
                f"{name}.type '{kind}' is not a sensor type: use one of "
                f"{', '.join(sorted(SENSOR_TYPES))}"
            )
        raw = self.table(value, name, _SENSOR_KEYS[kind], _SENSOR_REQUIRED[kind])
        kwargs: dict[str, Any] = {"type": kind}
        if "pin" in raw:
            kwargs["pin"] = self.pin(raw["pin"], f"{name}.pin")
            self.claim(f"GPIO pin {kwargs['pin']}", f"{name}.pin", "give every sensor its own pin")
        if "pull_up" in raw:
            if not isinstance(raw["pull_up"], bool):
                raise self.fail(f"{name}.pull_up must be true or false")
            kwargs["pull_up"] = raw["pull_up"]
        for key in ("hold_seconds", "debounce_seconds"):
            if key in raw:
                kwargs[key] = self.number(raw[key], f"{name}.{key}")
        if "path" in raw:
            kwargs["path"] = self.path(raw["path"], f"{name}.path")
        if kind in WIRELESS_TYPES:
            return self.wireless(kind, raw, name, kwargs)
        if kind == "thermopile":
            if "bus" in raw:
                bus = raw["bus"]
                if isinstance(bus, bool) or not isinstance(bus, int) or not 0 <= bus <= 31:
                    raise self.fail(
                        f"{name}.bus must be an I2C bus number from 0 to 31, got {bus!r}"
                    )
                kwargs["bus"] = bus
            if "address" in raw:
                kwargs["address"] = self.address(raw["address"], f"{name}.address")
            config = SensorConfig(**kwargs)
            self.claim(
                f"I2C address 0x{config.address:02x} on bus {config.bus}", f"{name}.address",
                "an AMG8833 answers at 0x68 or 0x69, so a bus holds two: use another bus",
            )
            return config
        return SensorConfig(**kwargs)

    def wireless(self, kind: str, raw: dict[str, Any], name: str,
                 kwargs: dict[str, Any]) -> SensorConfig:
        """bthome / zigbee / mqtt / radar tables; each device may serve one desk only."""
        if "timeout_seconds" in raw:
            kwargs["timeout_seconds"] = self.number(raw["timeout_seconds"],
                                                    f"{name}.timeout_seconds")
        if "invert" in raw:
            if not isinstance(raw["invert"], bool):
                raise self.fail(f"{name}.invert must be true or false")
            kwargs["invert"] = raw["invert"]
        if "detector" in raw:
            if raw["detector"] not in DETECTORS:
                raise self.fail(f"{name}.detector must be one of {', '.join(DETECTORS)}: "
                                "motion for PIR-like sensors, presence for radar-like ones")
            kwargs["detector"] = raw["detector"]
        for key in ("field", "on_value"):
            if key in raw:
                value = raw[key]
                if not isinstance(value, str) or not _FIELD.fullmatch(value):
                    raise self.fail(f"{name}.{key} must be a payload key or word such as "
                                    f"\"occupancy\" (letters, digits, '_'), got {value!r}")
                kwargs["payload_field" if key == "field" else key] = value
        if kind == "bthome":
            address = raw["address"]
            if not isinstance(address, str) or not _BLE_ADDRESS.fullmatch(address):
                raise self.fail(f"{name}.address must be a Bluetooth address such as "
                                "\"A4:C1:38:00:00:01\" (printed on the sensor or shown by "
                                "`bluetoothctl scan on`)")
            kwargs["ble_address"] = address.upper()
            self.claim(f"BTHome sensor {address.upper()}", f"{name}.address",
                       "one sensor reads one desk")
            if "bind_key" in raw:
                key = raw["bind_key"]
                try:
                    bind_key = bytes.fromhex(key) if isinstance(key, str) else b""
                except ValueError:
                    bind_key = b""
                if len(bind_key) != 16:
                    raise self.fail(f"{name}.bind_key must be 32 hex characters (the "
                                    "device's encryption key; leave it out for plain adverts)")
                kwargs["bind_key"] = bind_key
            measure = raw.get("measure", "motion")
            if measure not in BTHOME_MEASURES:
                raise self.fail(f"{name}.measure must be one of {', '.join(BTHOME_MEASURES)}")
            kwargs["measure"] = measure
        elif kind in ("zigbee", "mqtt"):
            key = "device" if kind == "zigbee" else "topic"
            value = raw[key]
            if not isinstance(value, str) or not _TOPIC_PART.fullmatch(value) \
                    or value != value.strip():
                what = "friendly name" if kind == "zigbee" else "MQTT topic"
                raise self.fail(f"{name}.{key} must be a non-empty {what} "
                                "without '+', '#' or surrounding spaces")
            if kind == "zigbee" and re.fullmatch(r"0x[0-9a-fA-F]{16}", value):
                raise self.fail(f"{name}.device is an IEEE address: give the device a "
                                "friendly name in zigbee2mqtt and use that (the address "
                                "would travel in topics and logs)")
            kwargs[key] = value
            self.claim(f"{'zigbee2mqtt device' if kind == 'zigbee' else 'MQTT topic'} "
                       f"'{value}'", f"{name}.{key}", "one sensor reads one desk")
            if kind == "zigbee":
                kwargs.setdefault("payload_field", "occupancy")
            if "availability_topic" in raw:
                topic = raw["availability_topic"]
                if not isinstance(topic, str) or not _TOPIC_PART.fullmatch(topic):
                    raise self.fail(f"{name}.availability_topic must be an MQTT topic "
                                    "without '+' or '#'")
                kwargs["availability_topic"] = topic
        else:  # radar
            port = raw["port"]
            if not isinstance(port, str) or not port.startswith("/dev/"):
                raise self.fail(f"{name}.port must be a serial device such as "
                                "\"/dev/ttyAMA0\" or \"/dev/serial/by-id/...\"")
            kwargs["port"] = port
            self.claim(f"serial port {port}", f"{name}.port",
                       "one LD2410 per UART: wire the next radar to another port")
            for key, lo, hi in (("baudrate", 9600, 460_800), ("max_cm", 1, 600),
                                ("min_cm", 0, 599), ("min_energy", 0, 100)):
                if key in raw:
                    value = raw[key]
                    if isinstance(value, bool) or not isinstance(value, int) \
                            or not lo <= value <= hi:
                        raise self.fail(f"{name}.{key} must be a whole number from {lo} to "
                                        f"{hi}, got {value!r}")
                    kwargs[key] = value
            if kwargs.get("min_cm", 0) >= kwargs.get("max_cm", 150):
                raise self.fail(f"{name}: min_cm must be less than max_cm (the desk zone)")
        return SensorConfig(**kwargs)

    def device_mqtt(self, value: Any) -> DeviceMqttConfig:
        raw = self.table(value, "device_mqtt",
                         {"host", "port", "username", "password", "base_topic"}, set())
        kwargs: dict[str, Any] = {}
        if "host" in raw:
            kwargs["host"] = self.text(raw["host"], "device_mqtt.host")
        if "port" in raw:
            kwargs["port"] = self.integer(raw["port"], "device_mqtt.port", 65535)
        if "base_topic" in raw:
            base = raw["base_topic"]
            if not isinstance(base, str) or not _TOPIC_PART.fullmatch(base) \
                    or base.endswith("/"):
                raise self.fail("device_mqtt.base_topic must be a topic such as "
                                "\"zigbee2mqtt\" (no '+', '#' or trailing '/')")
            kwargs["base_topic"] = base
        if "username" in raw:
            kwargs["username"] = self.text(raw["username"], "device_mqtt.username")
        if "password" in raw:
            if "username" not in raw:
                raise self.fail("device_mqtt.password is set without device_mqtt.username")
            kwargs["password"] = self.text(raw["password"], "device_mqtt.password")
        return DeviceMqttConfig(**kwargs)

    def pin(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value not in GPIO_PINS:
            raise self.fail(
                f"{key} must be a BCM GPIO number from {GPIO_PINS.start} to "
                f"{GPIO_PINS.stop - 1} (2 and 3 are the I2C bus), got {value!r}"
            )
        return value

    def address(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{key} must be a number such as 0x69 (no quotes)")
        if value not in AMG8833_ADDRESSES:
            raise self.fail(
                f"{key} must be 0x68 (AD_SELECT to GND) or 0x69 (AD_SELECT to 3.3 V), "
                f"got {value:#x}"
            )
        return value

    def claim(self, resource: str, key: str, hint: str) -> None:
        """Two sensors on one pin or one I2C address would read each other's desk."""
        first = self.hardware.setdefault(resource, key)
        if first != key:
            raise self.fail(f"{key}: {resource} is already used by {first}: {hint}")

    def outbox(self, value: Any) -> OutboxConfig:
        raw = self.table(value, "outbox", {"max_messages", "max_megabytes", "max_age_days"},
                         set())
        kwargs: dict[str, Any] = {}
        if "max_messages" in raw:
            kwargs["max_messages"] = self.integer(
                raw["max_messages"], "outbox.max_messages", 10_000_000)
        for key, lo, hi in (("max_megabytes", 1.0, 100_000.0), ("max_age_days", 0.01, 3650.0)):
            if key in raw:
                number = raw[key]
                if isinstance(number, bool) or not isinstance(number, int | float) \
                        or not math.isfinite(number) or not lo <= number <= hi:
                    raise self.fail(f"outbox.{key} must be a number from {lo:g} to {hi:g}, "
                                    f"got {number!r}")
                kwargs[key] = float(number)
        return OutboxConfig(**kwargs)

    def mqtt(self, value: Any) -> MqttConfig:
        raw = self.table(
            value, "mqtt",
            {"host", "port", "username", "password", "tls", "keepalive", "ca_file"}, set(),
        )
        kwargs: dict[str, Any] = {}
        if "host" in raw:
            kwargs["host"] = self.text(raw["host"], "mqtt.host")
        if "port" in raw:
            kwargs["port"] = self.integer(raw["port"], "mqtt.port", 65535)
        if "keepalive" in raw:
            kwargs["keepalive"] = self.integer(raw["keepalive"], "mqtt.keepalive", 65535)
        if "tls" in raw:
            if not isinstance(raw["tls"], bool):
                raise self.fail("mqtt.tls must be true or false")
            kwargs["tls"] = raw["tls"]
        if "ca_file" in raw:
            kwargs["ca_file"] = self.path(raw["ca_file"], "mqtt.ca_file")
        if "username" in raw:
            kwargs["username"] = self.text(raw["username"], "mqtt.username")
        if "password" in raw:
            password = raw["password"]
            if not isinstance(password, str) or not password:
                raise self.fail("mqtt.password must be a non-empty string")
            if is_placeholder(password):
                raise self.fail(
                    "mqtt.password is a placeholder: set the password provisioned for this agent"
                )
            if "username" not in raw:
                raise self.fail("mqtt.password is set without mqtt.username: add mqtt.username")
            kwargs["password"] = password
        return MqttConfig(**kwargs)
