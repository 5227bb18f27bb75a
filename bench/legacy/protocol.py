"""(Legacy, bench only) Deskpulse wire protocol v1 before msgspec: the schema walker.

This module is THE contract between edge agents and the hub (and anyone writing their
own firmware; see docs/protocol.md). It is pure: no I/O, no clocks (callers pass
``now``). Every decoding failure raises :class:`ProtocolError` with a reason a person
can read; reasons never echo untrusted values, only names and limits.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar, Union

from edge.errors import ProtocolError

# The limits, topics and names did not change with msgspec: the current module's own.
from edge.protocol import (  # noqa: F401 (some only re-exported for the bench's callers)
    DEFAULT_BIN_SECONDS,
    DESK_STATES,
    FEEDBACK_RESULTS,
    ID_PATTERN,
    MAX_FUTURE_SECONDS,
    MAX_INT,
    MAX_ITEMS,
    MAX_PAYLOAD_BYTES,
    MAX_TEXT_LENGTH,
    MAX_TOKEN_LENGTH,
    MIN_TIMESTAMP,
    SCAN_VIA,
    VERSION,
    Kind,
    Topic,
    is_id,
    parse_topic,
)


@dataclass(frozen=True)
class Status:
    """Birth (``online=True``, retained, with version) or last-will (``online=False``)."""

    KIND: ClassVar[Kind] = "status"
    online: bool
    boot: int
    version: str | None = None


@dataclass(frozen=True)
class DeskEvent:
    desk: str
    state: Literal["occupied", "vacant", "unknown"]
    at: float


@dataclass(frozen=True)
class DesksMessage:
    """Desk state changes, batched; ``(agent, boot, seq)`` is unique per message."""

    KIND: ClassVar[Kind] = "desks"
    agent: str
    boot: int
    seq: int
    sent: float
    events: tuple[DeskEvent, ...]


@dataclass(frozen=True)
class ZoneCount:
    zone: str
    bin: int
    devices: int


@dataclass(frozen=True)
class ZonesMessage:
    """Anonymous device counts per zone per bin: counts only, never a device."""

    KIND: ClassVar[Kind] = "zones"
    agent: str
    boot: int
    seq: int
    sent: float
    counts: tuple[ZoneCount, ...]


@dataclass(frozen=True)
class Scan:
    desk: str
    token: str
    via: Literal["qr", "beacon"]
    at: float


@dataclass(frozen=True)
class CheckinsMessage:
    """Opaque check-in tokens seen at desks; the edge never learns who they belong to."""

    KIND: ClassVar[Kind] = "checkins"
    agent: str
    boot: int
    seq: int
    sent: float
    scans: tuple[Scan, ...]


@dataclass(frozen=True)
class RadioHealth:
    """A wireless desk sensor's levels: battery in tens of percent (None: not reported),
    signal as a word (never an RSSI), and its count of faults (undecryptable adverts,
    unreadable payloads, broken radar frames) since the agent started."""

    desk: str
    signal: Literal["good", "fair", "weak", "none"]
    faults: int
    battery: int | None = None


@dataclass(frozen=True)
class Health:
    """Agent health (QoS 0): outbox depth, faulty sensors' desks, uptime, drop counts."""

    KIND: ClassVar[Kind] = "health"
    agent: str
    boot: int
    sent: float
    uptime: float
    outbox_depth: int
    dropped: int
    sensor_faults: tuple[str, ...] = ()
    radio: tuple[RadioHealth, ...] = ()  # wireless sensors only (docs/sensors.md)


@dataclass(frozen=True)
class DeskAssignment:
    desk: str
    zone: str


@dataclass(frozen=True)
class Config:
    """Hub -> edge (retained): desk/zone mapping, enrolled badge hashes, key epoch."""

    KIND: ClassVar[Kind] = "config"
    agent: str
    issued: float
    key_epoch: int
    desks: tuple[DeskAssignment, ...] = ()
    badges: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feedback:
    """Hub -> edge: the result of one scan so the device can beep or flash."""

    KIND: ClassVar[Kind] = "feedback"
    agent: str
    boot: int
    seq: int
    desk: str
    result: Literal["accepted", "rejected"]
    reason: str = ""


Message = Union[
    Status, DesksMessage, ZonesMessage, CheckinsMessage, Health, Config, Feedback
]
MESSAGE_TYPES: Mapping[str, type] = {
    cls.KIND: cls
    for cls in (Status, DesksMessage, ZonesMessage, CheckinsMessage, Health, Config, Feedback)
}


# ---------------------------------------------------------------------------
# Encoding


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def to_dict(message: Message) -> dict[str, Any]:
    """The JSON object for a message, with ``"v": 1`` first."""
    body: dict[str, Any] = {"v": VERSION}
    body.update(_plain(message))
    if isinstance(message, Status) and message.version is None:
        del body["version"]
    return body


def encode(message: Message) -> bytes:
    """Compact UTF-8 JSON for a message. Raises ValueError if it would be oversize."""
    data = json.dumps(to_dict(message), separators=(",", ":"), allow_nan=False).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"encoded message is {len(data)} bytes; limit {MAX_PAYLOAD_BYTES}")
    return data


# ---------------------------------------------------------------------------
# Decoding: a small schema walker. Each field has a checker that returns the value
# or raises ProtocolError naming the field.

T = TypeVar("T")
Checker = Callable[[Any, str], Any]


def _int(lo: int = 0, hi: int = MAX_INT) -> Checker:
    def check(value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(f"{name} must be an integer")
        if not lo <= value <= hi:
            raise ProtocolError(f"{name} must be between {lo} and {hi}")
        return value

    return check


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"{name} must be a number")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ProtocolError(f"{name} must be a finite, non-negative number")
    return number


def _timestamp(value: Any, name: str) -> float:
    """Unix seconds; the future limit is applied later, against ``now``."""
    number = _number(value, name)
    if number > 1e11:
        raise ProtocolError(f"{name} is not a plausible Unix timestamp in seconds")
    return number


def _ident(value: Any, name: str) -> str:
    if not is_id(value):
        raise ProtocolError(f"{name} must be an id matching [a-z0-9-]{{1,64}}")
    return str(value)


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"{name} must be true or false")
    return value


def _choice(*options: str) -> Checker:
    def check(value: Any, name: str) -> str:
        if value not in options or not isinstance(value, str):
            raise ProtocolError(f"{name} must be one of {', '.join(options)}")
        return value

    return check


def _text(max_len: int, pattern: str = r"[\x20-\x7e]*") -> Checker:
    compiled = re.compile(pattern)

    def check(value: Any, name: str) -> str:
        if not isinstance(value, str):
            raise ProtocolError(f"{name} must be a string")
        if len(value) > max_len:
            raise ProtocolError(f"{name} is longer than {max_len} characters")
        if compiled.fullmatch(value) is None:
            raise ProtocolError(f"{name} has characters that are not allowed")
        return value

    return check


def _nullable(check: Checker) -> Checker:
    def nullable(value: Any, name: str) -> Any:
        return None if value is None else check(value, name)

    return nullable


def _list(item: Checker, *, min_items: int = 0) -> Checker:
    def check(value: Any, name: str) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise ProtocolError(f"{name} must be a list")
        if not min_items <= len(value) <= MAX_ITEMS:
            raise ProtocolError(f"{name} must hold between {min_items} and {MAX_ITEMS} items")
        return tuple(item(v, f"{name}[{i}]") for i, v in enumerate(value))

    return check


def _object(cls: type[T], fields: Mapping[str, Checker], optional: frozenset[str]) -> Checker:
    def check(value: Any, name: str) -> T:
        if not isinstance(value, dict):
            raise ProtocolError(f"{name} must be a JSON object")
        for key in value:
            if key not in fields:
                shown = key if isinstance(key, str) and is_id(key.replace("_", "-")) else "?"
                raise ProtocolError(f"unknown field '{shown}' in {name}")
        kwargs = {}
        for key, checker in fields.items():
            if key not in value:
                if key in optional:
                    continue
                raise ProtocolError(f"missing field '{key}' in {name}")
            kwargs[key] = checker(value[key], f"{name}.{key}" if name != "message" else key)
        return cls(**kwargs)

    return check


_HEADER: dict[str, Checker] = {
    "agent": _ident, "boot": _int(), "seq": _int(), "sent": _timestamp,
}
_EVENT = _object(
    DeskEvent, {"desk": _ident, "state": _choice(*DESK_STATES), "at": _timestamp},
    frozenset(),
)
_SCAN = _object(
    Scan,
    {
        "desk": _ident,
        "token": _text(MAX_TOKEN_LENGTH, r"[A-Za-z0-9._~:+/=-]+"),
        "via": _choice(*SCAN_VIA),
        "at": _timestamp,
    },
    frozenset(),
)
_BADGE = _text(128, r"[0-9a-f]{16,128}")
_SCHEMAS: dict[str, tuple[type, dict[str, Checker], frozenset[str]]] = {
    "status": (
        Status,
        {"online": _bool, "boot": _int(), "version": _text(MAX_TEXT_LENGTH)},
        frozenset({"version"}),
    ),
    "desks": (
        DesksMessage, {**_HEADER, "events": _list(_EVENT, min_items=1)}, frozenset()
    ),
    "zones": (
        ZonesMessage, {**_HEADER, "counts": _list(_object(
            ZoneCount,
            {"zone": _ident, "bin": _int(), "devices": _int(0, 1_000_000)},
            frozenset(),
        ), min_items=1)},
        frozenset(),
    ),
    "checkins": (
        CheckinsMessage, {**_HEADER, "scans": _list(_SCAN, min_items=1)}, frozenset()
    ),
    "health": (
        Health,
        {
            "agent": _ident, "boot": _int(), "sent": _timestamp, "uptime": _number,
            "outbox_depth": _int(), "dropped": _int(), "sensor_faults": _list(_ident),
            "radio": _list(_object(
                RadioHealth,
                {"desk": _ident, "signal": _choice("good", "fair", "weak", "none"),
                 "faults": _int(), "battery": _nullable(_int(0, 100))},
                frozenset({"battery"}),
            )),
        },
        frozenset({"sensor_faults", "radio"}),
    ),
    "config": (
        Config,
        {
            "agent": _ident, "issued": _timestamp, "key_epoch": _int(),
            "desks": _list(_object(
                DeskAssignment, {"desk": _ident, "zone": _ident}, frozenset()
            )),
            "badges": _list(_BADGE),
        },
        frozenset({"desks", "badges"}),
    ),
    "feedback": (
        Feedback,
        {
            "agent": _ident, "boot": _int(), "seq": _int(), "desk": _ident,
            "result": _choice(*FEEDBACK_RESULTS), "reason": _text(200),
        },
        frozenset({"reason"}),
    ),
}


def _reject_constant(name: str) -> float:
    raise ProtocolError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: JSON parsers disagree on which copy of
    a repeated key wins, so a payload that repeats one means two things and is refused."""
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                shown = key if is_id(key.replace("_", "-")) else "?"
                raise ProtocolError(f"field '{shown}' appears more than once in an object")
            seen.add(key)
    return body


def _timestamps(message: Message) -> list[tuple[str, float]]:
    """Every time stamp of a message that the time checks apply to.

    A health report's ``sent`` is left out on purpose: it is how the hub measures an
    agent's clock offset (hub/apply.py), including that of a Pi whose clock is not set.
    """
    stamps: list[tuple[str, float]] = []
    for name in ("sent", "issued"):
        if hasattr(message, name) and not isinstance(message, Health):
            stamps.append((name, getattr(message, name)))
    for group, attr in (("events", "at"), ("scans", "at"), ("counts", "bin")):
        for i, item in enumerate(getattr(message, group, ())):
            stamps.append((f"{group}[{i}].{attr}", float(getattr(item, attr))))
    return stamps


def decode(
    topic: str | Topic,
    payload: bytes,
    *,
    now: float,
    bin_seconds: int = DEFAULT_BIN_SECONDS,
    max_age: float | None = None,
) -> Message:
    """Decode and strictly validate one message received on ``topic``.

    ``now`` is the receiver's clock (Unix seconds) for the time checks: no time stamp may
    be more than MAX_FUTURE_SECONDS ahead of it, before MIN_TIMESTAMP, or (with
    ``max_age``, the hub's event horizon) more than ``max_age`` seconds behind it.
    Raises ProtocolError, and nothing else, for any payload that is not a valid v1
    message for that topic.
    """
    parsed = topic if isinstance(topic, Topic) else parse_topic(topic)
    if not isinstance(payload, bytes | bytearray):
        raise ProtocolError("payload must be bytes")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"message is larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        text = bytes(payload).decode("utf-8")
        body = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError:
        raise ProtocolError("payload is not UTF-8") from None
    except RecursionError:
        raise ProtocolError("payload is nested too deeply") from None
    except ValueError:
        raise ProtocolError("payload is not valid JSON") from None
    if not isinstance(body, dict):
        raise ProtocolError("payload must be a JSON object")
    if "v" not in body:
        raise ProtocolError("missing field 'v' (protocol version)")
    if isinstance(body["v"], bool) or body["v"] != VERSION:
        raise ProtocolError(f"unknown protocol version; this receiver speaks v{VERSION}")
    body = {k: v for k, v in body.items() if k != "v"}
    cls, fields, optional = _SCHEMAS[parsed.kind]
    message: Message = _object(cls, fields, optional)(body, "message")
    agent = getattr(message, "agent", parsed.agent)
    if agent != parsed.agent:
        raise ProtocolError("agent in payload does not match the agent in the topic")
    oldest = now - max_age if max_age is not None else -math.inf
    for name, stamp in _timestamps(message):
        if name.endswith(".bin"):
            if int(stamp) % bin_seconds:
                raise ProtocolError(f"{name} is not a multiple of the bin width {bin_seconds} s")
        if stamp > now + MAX_FUTURE_SECONDS:
            raise ProtocolError(f"{name} is more than {int(MAX_FUTURE_SECONDS)} s in the future")
        if stamp < MIN_TIMESTAMP:
            raise ProtocolError(f"{name} is before 2020-01-01: the sender's clock is not set")
        if stamp < oldest:
            raise ProtocolError(
                f"{name} is older than the event horizon ({horizon_text(max_age)})")
    return message


def horizon_text(max_age: float | None) -> str:
    """The event horizon as a person reads it, e.g. ``14 days``."""
    if max_age is None:
        return "none"
    days = max_age / 86400
    return f"{days:g} days" if days >= 1 else f"{max_age:g} s"


def kind_of(message: Message) -> Kind:
    """The topic suffix a message travels on."""
    return message.KIND

