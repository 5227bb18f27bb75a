"""A fast path for decoding the hub's hot message, ``desks``, in front of the strict decoder.

Why: the schema walker in :mod:`edge.protocol` costs more per message than everything
else the hub does with it. This path parses with orjson and checks the one common shape
inline. It only ever *accepts* what :func:`edge.protocol.decode` would accept, with the
same result; for anything else (a bad field, an unusual but valid form such as
``"v": 1.0``, a JSON quirk) it returns None and the caller runs the strict decoder, which
gives the one and only rejection reason. tests/hub/test_fast_decode.py holds the two to
the same answers.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from edge.protocol import (
    DESK_STATES,
    ID_PATTERN,
    MAX_FUTURE_SECONDS,
    MAX_INT,
    MAX_ITEMS,
    MAX_PAYLOAD_BYTES,
    MIN_TIMESTAMP,
    VERSION,
    DeskEvent,
    DesksMessage,
    Topic,
)

_KEYS = frozenset({"v", "agent", "boot", "seq", "sent", "events"})
_STATES = frozenset(DESK_STATES)
_MAX_TIMESTAMP = 1e11  # as edge.protocol._timestamp
_IDS_CACHED = 65_536
_ids: set[str] = set()  # ids already seen to match ID_PATTERN (agents and desks repeat)


def _is_id(value: Any) -> bool:
    if value in _ids:  # only str ever enters the set
        return type(value) is str
    if type(value) is not str or ID_PATTERN.fullmatch(value) is None:
        return False
    if len(_ids) >= _IDS_CACHED:
        _ids.clear()
    _ids.add(value)
    return True


def _stamp(value: Any, earliest: float, latest: float) -> float | None:
    """A valid event/sent time as float, or None (then the strict decoder decides)."""
    kind = type(value)
    if kind is not float and kind is not int:
        return None
    number = float(value)
    if not math.isfinite(number) or number > _MAX_TIMESTAMP or not earliest <= number <= latest:
        return None
    return number


def _count(value: Any) -> int | None:
    if type(value) is not int or not 0 <= value <= MAX_INT:
        return None
    return int(value)


def decode_desks(
    topic: Topic, payload: bytes, *, now: float, max_age: float | None = None
) -> DesksMessage | None:
    """The ``desks`` message in ``payload``, or None if the strict decoder must decide.

    ``max_age`` is the event horizon, as for :func:`edge.protocol.decode`.
    """
    if topic.kind != "desks" or len(payload) > MAX_PAYLOAD_BYTES or payload[:3] == b"\xef\xbb\xbf":
        return None
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if type(body) is not dict or body.keys() != _KEYS:
        return None
    version = body["v"]
    if type(version) is not int or version != VERSION:
        return None
    agent = body["agent"]
    if agent != topic.agent or not _is_id(agent):
        return None
    boot, seq = _count(body["boot"]), _count(body["seq"])
    latest = now + MAX_FUTURE_SECONDS
    earliest = MIN_TIMESTAMP if max_age is None else max(MIN_TIMESTAMP, now - max_age)
    sent = _stamp(body["sent"], earliest, latest)
    raw_events = body["events"]
    if boot is None or seq is None or sent is None or type(raw_events) is not list:
        return None
    if not 1 <= len(raw_events) <= MAX_ITEMS:
        return None
    events = []
    for raw in raw_events:
        if type(raw) is not dict or len(raw) != 3:  # then all three keys, or a None below
            return None
        desk, state = raw.get("desk"), raw.get("state")
        at = _stamp(raw.get("at"), earliest, latest)
        if at is None or type(state) is not str or state not in _STATES or not _is_id(desk):
            return None
        events.append(DeskEvent(desk, state, at))  # type: ignore[arg-type]  # checked
    # orjson keeps the last copy of a repeated key; the strict decoder refuses the payload.
    # Every string this shape accepts is a key or an id/state (no ':'), so the payload has
    # exactly one ':' per key: one more means a repeated key (or a ':' in a value that was
    # overwritten), and then the strict decoder decides.
    if payload.count(b":") != len(_KEYS) + 3 * len(events):
        return None
    return DesksMessage(agent, boot, seq, sent, tuple(events))
