"""Deskpulse wire protocol v1: topics, messages, encode/decode, strict validation.

This module is THE contract between edge agents and the hub (and anyone writing their
own firmware; see docs/protocol.md). It is pure: no I/O, no clocks (callers pass
``now``). Every decoding failure raises :class:`ProtocolError` with a reason a person
can read; reasons never echo untrusted values, only names and limits.

The messages are msgspec Structs: each field's type and limits (``Meta``) are written
once, here, and the same definitions give the compiled decoder the edge, the hub and
firmware_sim use, and the JSON Schema in docs/protocol.md and docs/asyncapi.yaml
(``python -m edge.protocol_schema --write``). The checks a type cannot say (the agent in
the topic, time stamps against the receiver's clock, repeated keys) follow the decode.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Union

import msgspec
from msgspec import Meta

from edge.errors import ProtocolError

VERSION = 1
TOPIC_ROOT = "deskpulse/v1"
ID_PATTERN = re.compile(r"[a-z0-9-]{1,64}")
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_ITEMS = 1000
MAX_FUTURE_SECONDS = 300.0
# 2020-01-01 UTC. A time stamp earlier than this comes from a device whose clock is not
# set yet (a Pi boots at 1970 until NTP answers): it is refused, never stored, because a
# desk event "from 1970" would make the hub rebuild 50 years of rollups (docs/security.md).
MIN_TIMESTAMP = 1_577_836_800.0
DEFAULT_BIN_SECONDS = 900
MAX_INT = 2**53 - 1
MAX_TOKEN_LENGTH = 512
MAX_TEXT_LENGTH = 64

DESK_STATES = ("occupied", "vacant", "unknown")
SCAN_VIA = ("qr", "beacon")
FEEDBACK_RESULTS = ("accepted", "rejected")

Kind = Literal["status", "desks", "zones", "checkins", "health", "config", "feedback"]
EDGE_TO_HUB: tuple[Kind, ...] = ("status", "desks", "zones", "checkins", "health")
HUB_TO_EDGE: tuple[Kind, ...] = ("config", "feedback")
KINDS: tuple[Kind, ...] = EDGE_TO_HUB + HUB_TO_EDGE
# (qos, retain) per topic suffix, exactly as the protocol table says.
DELIVERY: Mapping[str, tuple[int, bool]] = {
    "status": (1, True),
    "desks": (1, False),
    "zones": (1, False),
    "checkins": (1, False),
    "health": (0, False),
    "config": (1, True),
    "feedback": (1, False),
}

__all__ = [
    "ProtocolError", "Topic", "parse_topic", "topic_for", "Status", "DeskEvent",
    "DesksMessage", "ZoneCount", "ZonesMessage", "Scan", "CheckinsMessage", "Health",
    "RadioHealth", "DeskAssignment", "Config", "Feedback", "Message", "encode", "decode",
    "subscription_for_hub", "subscription_for_agent", "MIN_TIMESTAMP",
]


# ---------------------------------------------------------------------------
# Topics


@dataclass(frozen=True)
class Topic:
    """A parsed topic ``deskpulse/v1/{site}/{agent}/{kind}``."""

    site: str
    agent: str
    kind: Kind

    def __str__(self) -> str:
        return topic_for(self.site, self.agent, self.kind)


def is_id(value: object) -> bool:
    """True for a valid site/agent/desk/zone id: lowercase ``[a-z0-9-]{1,64}``."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def topic_for(site: str, agent: str, kind: Kind) -> str:
    """Build a topic; a caller's bad id is a programming error (ValueError)."""
    if not is_id(site) or not is_id(agent):
        raise ValueError("site and agent must match [a-z0-9-]{1,64}")
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"{TOPIC_ROOT}/{site}/{agent}/{kind}"


def parse_topic(topic: str) -> Topic:
    """Parse a topic string; anything not of the v1 shape is a ProtocolError."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != TOPIC_ROOT:
        raise ProtocolError("topic is not of the form deskpulse/v1/{site}/{agent}/{kind}")
    _, _, site, agent, kind = parts
    if not is_id(site):
        raise ProtocolError("site in topic is not a valid id ([a-z0-9-]{1,64})")
    if not is_id(agent):
        raise ProtocolError("agent in topic is not a valid id ([a-z0-9-]{1,64})")
    if kind not in KINDS:
        raise ProtocolError("unknown topic kind")
    return Topic(site, agent, kind)  # type: ignore[arg-type]


def subscription_for_hub(site: str = "+", *, shared_group: str | None = None) -> list[str]:
    """Topic filters the hub subscribes to (everything edge -> hub).

    With ``shared_group`` they are MQTT shared subscriptions (``$share/<group>/...``): the
    broker hands each message to one member of the group, so several hub ingest workers
    split the load (docs/scale.md, "Several workers").
    """
    prefix = f"$share/{shared_group}/" if shared_group else ""
    return [f"{prefix}{TOPIC_ROOT}/{site}/+/{kind}" for kind in EDGE_TO_HUB]


def subscription_for_agent(site: str, agent: str) -> list[str]:
    """Topic filters an agent subscribes to (its own config and feedback)."""
    return [topic_for(site, agent, kind) for kind in HUB_TO_EDGE]


# ---------------------------------------------------------------------------
# Field types: each says its JSON type and limits once (msgspec ``Meta``). A pattern
# ends in ``\Z``, not ``$`` (which would let a trailing newline through); the generated
# JSON Schema shows it as ``$`` (edge/protocol_schema.py).

Id = Annotated[str, Meta(pattern=r"^[a-z0-9-]{1,64}\Z", description="an id: [a-z0-9-]{1,64}")]
Count = Annotated[int, Meta(ge=0, le=MAX_INT)]
# Unix seconds; the future, 2020 and horizon limits are applied after decoding, against
# the receiver's ``now``. ``le`` also keeps 1e400 (read as infinity) out.
Timestamp = Annotated[float, Meta(ge=0, le=1e11, description="Unix time in seconds")]
Seconds = Annotated[float, Meta(ge=0, le=1.7976931348623157e308)]  # finite, non-negative
Token = Annotated[str, Meta(max_length=MAX_TOKEN_LENGTH, pattern=r"^[A-Za-z0-9._~:+/=-]+\Z")]
Badge = Annotated[str, Meta(max_length=128, pattern=r"^[0-9a-f]{16,128}\Z")]
Version = Annotated[str, Meta(max_length=MAX_TEXT_LENGTH, pattern=r"^[\x20-\x7e]*\Z")]
Reason = Annotated[str, Meta(max_length=200, pattern=r"^[\x20-\x7e]*\Z")]
Devices = Annotated[int, Meta(ge=0, le=1_000_000)]
Battery = Annotated[int, Meta(ge=0, le=100)]


_SOME = Meta(min_length=1, max_length=MAX_ITEMS)  # a list of 1 to MAX_ITEMS items
_ANY = Meta(min_length=0, max_length=MAX_ITEMS)


class _Item(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A part of a message (an event, a count, a scan ...)."""


class _Message(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="v",
               tag=VERSION):
    """A whole message: ``"v": 1`` is its tag, written first and required on decode."""

    KIND: ClassVar[Kind]


class _Sequenced(_Message, frozen=True):
    """A message from the agent's outbox: ``(agent, boot, seq)`` names it exactly once."""

    agent: Id
    boot: Count
    seq: Count
    sent: Timestamp


# ---------------------------------------------------------------------------
# Messages


class Status(_Message, frozen=True, omit_defaults=True):
    """Birth (``online=True``, retained, with version) or last-will (``online=False``)."""

    KIND: ClassVar[Kind] = "status"
    online: bool
    boot: Count
    version: Version | None = None


class DeskEvent(_Item, frozen=True):
    desk: Id
    state: Literal["occupied", "vacant", "unknown"]
    at: Timestamp


class DesksMessage(_Sequenced, frozen=True):
    """Desk state changes, batched; ``(agent, boot, seq)`` is unique per message."""

    KIND: ClassVar[Kind] = "desks"
    events: Annotated[tuple[DeskEvent, ...], _SOME]


class ZoneCount(_Item, frozen=True):
    zone: Id
    bin: Count
    devices: Devices


class ZonesMessage(_Sequenced, frozen=True):
    """Anonymous device counts per zone per bin: counts only, never a device."""

    KIND: ClassVar[Kind] = "zones"
    counts: Annotated[tuple[ZoneCount, ...], _SOME]


class Scan(_Item, frozen=True):
    desk: Id
    token: Token
    via: Literal["qr", "beacon"]
    at: Timestamp


class CheckinsMessage(_Sequenced, frozen=True):
    """Opaque check-in tokens seen at desks; the edge never learns who they belong to."""

    KIND: ClassVar[Kind] = "checkins"
    scans: Annotated[tuple[Scan, ...], _SOME]


class RadioHealth(_Item, frozen=True):
    """A wireless desk sensor's levels: battery in tens of percent (None: not reported),
    signal as a word (never an RSSI), and its count of faults (undecryptable adverts,
    unreadable payloads, broken radar frames) since the agent started."""

    desk: Id
    signal: Literal["good", "fair", "weak", "none"]
    faults: Count
    battery: Battery | None = None


class Health(_Message, frozen=True):
    """Agent health (QoS 0): outbox depth, faulty sensors' desks, uptime, drop counts."""

    KIND: ClassVar[Kind] = "health"
    agent: Id
    boot: Count
    sent: Timestamp
    uptime: Seconds
    outbox_depth: Count
    dropped: Count
    sensor_faults: Annotated[tuple[Id, ...], _ANY] = ()
    radio: Annotated[tuple[RadioHealth, ...], _ANY] = ()  # wireless only (docs/sensors.md)


class DeskAssignment(_Item, frozen=True):
    desk: Id
    zone: Id


class Config(_Message, frozen=True):
    """Hub -> edge (retained): desk/zone mapping, enrolled badge hashes, key epoch."""

    KIND: ClassVar[Kind] = "config"
    agent: Id
    issued: Timestamp
    key_epoch: Count
    desks: Annotated[tuple[DeskAssignment, ...], _ANY] = ()
    badges: Annotated[tuple[Badge, ...], _ANY] = ()


class Feedback(_Message, frozen=True):
    """Hub -> edge: the result of one scan so the device can beep or flash."""

    KIND: ClassVar[Kind] = "feedback"
    agent: Id
    boot: Count
    seq: Count
    desk: Id
    result: Literal["accepted", "rejected"]
    reason: Reason = ""


Message = Union[
    Status, DesksMessage, ZonesMessage, CheckinsMessage, Health, Config, Feedback
]
MESSAGE_TYPES: Mapping[str, type[_Message]] = {
    cls.KIND: cls
    for cls in (Status, DesksMessage, ZonesMessage, CheckinsMessage, Health, Config, Feedback)
}


# ---------------------------------------------------------------------------
# Encoding

_encoder = msgspec.json.Encoder()


def to_dict(message: Message) -> dict[str, Any]:
    """The JSON object for a message, with ``"v": 1`` first."""
    body: dict[str, Any] = msgspec.to_builtins(message)
    return body


def encode(message: Message) -> bytes:
    """Compact UTF-8 JSON for a message. Raises ValueError if it would be oversize."""
    data = _encoder.encode(message)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"encoded message is {len(data)} bytes; limit {MAX_PAYLOAD_BYTES}")
    return data


# ---------------------------------------------------------------------------
# Decoding: msgspec's compiled decoder takes a valid message in one pass. A payload it
# refuses (or one that might repeat a key) is parsed again by the standard library, for
# the JSON-level reasons and the version, and converted again by msgspec, whose error
# (a path and what was expected) is put in the protocol's words by _reason.

_DECODERS = {kind: msgspec.json.Decoder(cls) for kind, cls in MESSAGE_TYPES.items()}


def _int_rule(lo: int = 0, hi: int = MAX_INT) -> tuple[str, ...]:
    return ("int", "must be an integer", f"must be between {lo} and {hi}")


_IDENT = ("ident",)
_TIME = ("time",)
_NUMBER = ("number",)


def _text_rule(max_len: int) -> tuple[str, ...]:
    return ("text", str(max_len))


def _choice_rule(*options: str) -> tuple[str, ...]:
    return ("choice", f"must be one of {', '.join(options)}")


def _list_rule(min_items: int = 0) -> tuple[str, ...]:
    return ("list", f"must hold between {min_items} and {MAX_ITEMS} items")


# The rule of each field name (a list's items under "name[]"): the same name means the
# same rule in every message, which test_protocol checks against the Structs.
RULES: Mapping[str, tuple[str, ...]] = {
    "agent": _IDENT, "desk": _IDENT, "zone": _IDENT, "sensor_faults[]": _IDENT,
    "boot": _int_rule(), "seq": _int_rule(), "bin": _int_rule(), "outbox_depth": _int_rule(),
    "dropped": _int_rule(), "key_epoch": _int_rule(), "faults": _int_rule(),
    "devices": _int_rule(0, 1_000_000), "battery": _int_rule(0, 100),
    "sent": _TIME, "at": _TIME, "issued": _TIME, "uptime": _NUMBER,
    "online": ("bool",),
    "state": _choice_rule(*DESK_STATES), "via": _choice_rule(*SCAN_VIA),
    "result": _choice_rule(*FEEDBACK_RESULTS),
    "signal": _choice_rule("good", "fair", "weak", "none"),
    "token": _text_rule(MAX_TOKEN_LENGTH), "version": _text_rule(MAX_TEXT_LENGTH),
    "reason": _text_rule(200), "badges[]": _text_rule(128),
    "events": _list_rule(1), "counts": _list_rule(1), "scans": _list_rule(1),
    "radio": _list_rule(), "desks": _list_rule(), "badges": _list_rule(),
    "sensor_faults": _list_rule(),
}
_ERROR = re.compile(r"(?s)(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?")
_QUOTED = re.compile(r"field `(?P<key>.*)`")


def _shown(key: str) -> str:
    return key if is_id(key.replace("_", "-")) else "?"


def _value_at(body: Any, path: str) -> Any:
    for key, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        try:
            body = body[key] if key else body[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    return body


def _reason(error: msgspec.ValidationError, body: Any) -> str:
    """msgspec's ``Expected `int` >= 0 - at `$.events[0].seq``` as the protocol says it."""
    match = _ERROR.fullmatch(str(error))
    what, path = (match["what"], match["path"] or "") if match else (str(error), "")
    name = path.removeprefix(".") or "message"
    if what.startswith(("Object contains unknown field", "Object missing required field")):
        key = (_QUOTED.search(what) or _QUOTED.search("field `?`"))["key"]  # type: ignore[index]
        if what.startswith("Object missing"):
            return f"missing field '{key}' in {name}"
        return f"unknown field '{_shown(key)}' in {name}"
    if what.startswith("Expected `object`"):
        return f"{name} must be a JSON object"
    field = re.sub(r"\[\d+\]$", "[]", name).rsplit(".", 1)[-1]
    field = re.sub(r"^.*\[\d+\]\.", "", field)
    rule = RULES.get(field, ("other",))
    wrong_type = ", got `" in what
    kind = rule[0]
    if kind == "ident":
        return f"{name} must be an id matching [a-z0-9-]{{1,64}}"
    if kind == "int":
        return f"{name} {rule[1] if wrong_type else rule[2]}"
    if kind in ("time", "number"):
        if wrong_type:
            return f"{name} must be a number"
        value = _value_at(body, path)
        if kind == "time" and isinstance(value, int | float) and math.isfinite(value) \
                and value > 0:
            return f"{name} is not a plausible Unix timestamp in seconds"
        return f"{name} must be a finite, non-negative number"
    if kind == "bool":
        return f"{name} must be true or false"
    if kind == "choice":
        return f"{name} {rule[1]}"
    if kind == "text":
        if wrong_type:
            return f"{name} must be a string"
        if "of length" in what:
            return f"{name} is longer than {rule[1]} characters"
        return f"{name} has characters that are not allowed"
    if kind == "list":
        return f"{name} must be a list" if wrong_type else f"{name} {rule[1]}"
    return f"{name} is not valid"


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
                raise ProtocolError(f"field '{_shown(key)}' appears more than once in an object")
            seen.add(key)
    return body


def _checked_json(payload: bytes) -> dict[str, Any]:
    """The payload as a dict of unique keys with the right version, or the reason not."""
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
    return body


def _strict(kind: str, payload: bytes) -> Message:
    """The slow, exact path: every rule, the first broken one named."""
    body = _checked_json(payload)
    try:
        message: Message = msgspec.convert(  # type: ignore[assignment]  # one of them
            {**body, "v": VERSION}, MESSAGE_TYPES[kind])
    except msgspec.ValidationError as exc:
        raise ProtocolError(_reason(exc, body)) from None
    return message


def _keys(value: msgspec.Struct) -> int:
    """How many keys the JSON of a decoded Struct holds (a field left at its default
    counts as absent): with no repeated key, exactly the payload's ``:`` outside strings."""
    shape = _SHAPES.get(type(value))
    if shape is None:
        shape = _SHAPES[type(value)] = _shape_of(type(value))
    count, optional, lists = shape
    for name, default in optional:
        if getattr(value, name) != default:
            count += 1
    for name, per_item in lists:
        items = getattr(value, name)
        if per_item is None:
            count += sum(_keys(item) for item in items)
        else:
            count += per_item * len(items)
    return count


_Shape = tuple[int, list[tuple[str, Any]], list[tuple[str, int | None]]]
_SHAPES: dict[type, _Shape] = {}


def _shape_of(cls: type[msgspec.Struct]) -> _Shape:
    """(keys always present, optional fields and defaults, lists of Structs and the keys
    per item when fixed): computed once per class, from msgspec's own type information."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)  # noqa: S101 - our own classes
    count = 1 if info.tag_field else 0
    optional: list[tuple[str, Any]] = []
    lists: list[tuple[str, int | None]] = []
    for field in info.fields:
        if field.required:
            count += 1
        else:
            optional.append((field.name, field.default))
        kind = field.type
        if isinstance(kind, msgspec.inspect.VarTupleType) and isinstance(
                kind.item_type, msgspec.inspect.StructType):
            item = kind.item_type
            fixed = all(f.required for f in item.fields)
            lists.append((field.name, len(item.fields) if fixed else None))
    return count, optional, lists


def _timestamps(message: Message) -> list[tuple[str, float]]:
    """Every time stamp of a message that the time checks apply to.

    A health report's ``sent`` is left out on purpose: it is how the hub measures an
    agent's clock offset (hub/db/apply.py), including that of a Pi whose clock is not set.
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
        message: Message = _DECODERS[parsed.kind].decode(payload)  # type: ignore[assignment]
    except (msgspec.ValidationError, msgspec.DecodeError):
        message = _strict(parsed.kind, payload)
    else:
        # msgspec keeps the last copy of a repeated key and takes a missing "v": every
        # key adds one ':' outside strings, so the count settles both in the common case.
        if payload.count(b":") != _keys(message):
            message = _strict(parsed.kind, payload)
    agent = getattr(message, "agent", parsed.agent)
    if agent != parsed.agent:
        raise ProtocolError("agent in payload does not match the agent in the topic")
    if isinstance(message, DesksMessage | ZonesMessage | CheckinsMessage | Config):
        _check_times(message, now, bin_seconds, max_age)
    return message


def _check_times(
    message: DesksMessage | ZonesMessage | CheckinsMessage | Config,
    now: float, bin_seconds: int, max_age: float | None,
) -> None:
    oldest = now - max_age if max_age is not None else -math.inf
    latest = now + MAX_FUTURE_SECONDS
    if isinstance(message, DesksMessage | CheckinsMessage):  # the common case, in one pass
        items = message.events if isinstance(message, DesksMessage) else message.scans
        stamps = [item.at for item in items]
        stamps.append(message.sent)
        if max(stamps) <= latest and min(stamps) >= max(MIN_TIMESTAMP, oldest):
            return
    for name, stamp in _timestamps(message):
        if name.endswith(".bin"):
            if int(stamp) % bin_seconds:
                raise ProtocolError(f"{name} is not a multiple of the bin width {bin_seconds} s")
        if stamp > latest:
            raise ProtocolError(f"{name} is more than {int(MAX_FUTURE_SECONDS)} s in the future")
        if stamp < MIN_TIMESTAMP:
            raise ProtocolError(f"{name} is before 2020-01-01: the sender's clock is not set")
        if stamp < oldest:
            raise ProtocolError(
                f"{name} is older than the event horizon ({horizon_text(max_age)})")


def horizon_text(max_age: float | None) -> str:
    """The event horizon as a person reads it, e.g. ``14 days``."""
    if max_age is None:
        return "none"
    days = max_age / 86400
    return f"{days:g} days" if days >= 1 else f"{max_age:g} s"


def kind_of(message: Message) -> Kind:
    """The topic suffix a message travels on."""
    return message.KIND

