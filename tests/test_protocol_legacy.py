"""The msgspec decoder gives the answers and the reasons of the schema walker it replaced.

bench/legacy/protocol.py is edge/protocol.py before msgspec (kept for the decode bench).
For every payload with at most one fault the two must agree on the message and, word for
word, on the reason. A payload with several faults is refused by both, but each may name
a different one of them (msgspec reports the first it meets in the document's order).
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.legacy import protocol as old
from edge import protocol as p
from edge.errors import ProtocolError

NOW = 1_700_000_000.0
TOPIC = p.Topic("s1", "a1", "desks")
GOOD = {"v": 1, "agent": "a1", "boot": 2, "seq": 7, "sent": NOW - 5,
        "events": [{"desk": "d1", "state": "occupied", "at": NOW - 6}]}
HEALTH = {"v": 1, "agent": "a1", "boot": 2, "sent": 12.0, "uptime": 3.5, "outbox_depth": 0,
          "dropped": 1, "sensor_faults": ["d2"],
          "radio": [{"desk": "d1", "signal": "weak", "faults": 2, "battery": 40}]}


def _answer(module: object, topic: p.Topic, payload: bytes, **kw: object) -> object:
    try:
        message = module.decode(  # type: ignore[attr-defined]
            str(topic), payload, now=NOW, **kw)
    except ProtocolError as exc:
        return ("rejected", str(exc))
    return ("accepted", json.loads(module.encode(message)))  # type: ignore[attr-defined]


def _variants() -> list[bytes]:
    out = [orjson.dumps(GOOD), b"\xef\xbb\xbf" + orjson.dumps(GOOD), b"{", b"[]", b"\xff"]
    edits: list[tuple[str, object]] = [
        ("v", 1.0), ("v", 2), ("v", True), ("agent", "a2"), ("agent", "A1"), ("boot", -1),
        ("boot", True), ("seq", 2**53), ("seq", 1.0), ("sent", NOW + 301), ("sent", NOW + 299),
        ("sent", 1e12), ("sent", "1"), ("events", []), ("events", {}), ("extra", 1),
        ("agent", "a1\n"), ("seq", 2**63), ("sent", -1),
    ]
    for key, value in edits:
        out.append(json.dumps({**GOOD, key: value}).encode())
    event = GOOD["events"][0]  # type: ignore[index]
    for key, value in [("desk", "D1"), ("desk", 5), ("state", "gone"), ("state", None),
                       ("at", -1), ("at", NOW + 400), ("at", 12), ("x", 1), ("desk", "")]:
        out.append(orjson.dumps({**GOOD, "events": [{**event, key: value}]}))
    out.append(orjson.dumps({k: v for k, v in GOOD.items() if k != "sent"}))
    out.append(orjson.dumps({k: v for k, v in GOOD.items() if k != "v"}))
    out.append(orjson.dumps({**GOOD, "events": [{"desk": "d1", "state": "vacant", "y": 1}]}))
    out.append(b'{"v":1,"agent":"a1","boot":1,"seq":1,"sent":NaN,"events":[]}')
    out.append(b'{"v":1,"agent":"a1","boot":1,"seq":1,"sent":1e400,"events":[]}')
    out.append(orjson.dumps(GOOD) + b" x")
    out.append(b"[" * 100_000)
    sent, at = int(NOW - 5), int(NOW - 6)
    out += [
        f'{{"v":1,"v":1,"agent":"a1","boot":1,"seq":1,"sent":{sent},'
        f'"events":[{{"desk":"d1","state":"vacant","at":{at}}}]}}'.encode(),
        f'{{"v":1,"agent":"a1","boot":1,"seq":1,"sent":{sent},'
        f'"events":[{{"desk":"d1","state":"vacant","at":{at}}},'
        f'{{"desk":"d2","desk":"d1","state":"occupied","at":{at}}}]}}'.encode(),
        f'{{"v":1,"agent":"a1","boot":1,"seq":1,"sent":{sent},'
        f'"events":[{{"desk":"d1","state":"vacant","at":{at}}}],"events":[]}}'.encode(),
    ]
    return out


@pytest.mark.parametrize("payload", _variants())
def test_desks_answers_and_reasons_are_the_legacy_ones(payload: bytes) -> None:
    for max_age in (None, 86400.0):
        assert _answer(p, TOPIC, payload, max_age=max_age) == _answer(
            old, TOPIC, payload, max_age=max_age)


@pytest.mark.parametrize(("key", "value"), [
    (None, None), ("sensor_faults", ["D2"]), ("sensor_faults", "d2"), ("uptime", -1),
    ("radio", [{"desk": "d1", "signal": "loud", "faults": 0}]),
    ("radio", [{"desk": "d1", "signal": "good", "faults": 0, "battery": None}]),
    ("radio", [{"desk": "d1", "signal": "good", "faults": 0, "battery": "9"}]),
    ("radio", [{"desk": "d1", "signal": "good", "faults": 0, "rssi": -40}]),
    ("dropped", 1.5), ("sensor_faults", []),
])
def test_health_answers_and_reasons_are_the_legacy_ones(key: str | None, value: object) -> None:
    body = dict(HEALTH) if key is None else {**HEALTH, key: value}
    topic = p.Topic("s1", "a1", "health")
    assert _answer(p, topic, orjson.dumps(body)) == _answer(old, topic, orjson.dumps(body))


ONE_FAULT = st.sampled_from([
    ("agent", "A"), ("boot", "1"), ("seq", -3), ("sent", True), ("sent", NOW + 900),
    ("events", None), ("mac", "aa"), ("v", 3),
])


@settings(max_examples=200, deadline=None)
@given(fault=ONE_FAULT, desks=st.lists(st.from_regex(r"[a-z0-9-]{1,8}", fullmatch=True),
                                       min_size=1, max_size=5))
def test_a_single_fault_is_named_as_before(fault: tuple[str, object], desks: list[str]) -> None:
    body = {**GOOD, "events": [{"desk": d, "state": "vacant", "at": NOW - 9} for d in desks]}
    payload = orjson.dumps({**body, fault[0]: fault[1]})
    assert _answer(p, TOPIC, payload) == _answer(old, TOPIC, payload)


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**60) | st.floats() | st.text(max_size=4)
    | st.sampled_from(["a1", "d1", "occupied", "vacant", "unknown"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["v", "agent", "boot", "seq", "sent", "events", "desk", "state", "at"]),
        inner, max_size=6),
    max_leaves=12,
))
def test_random_json_is_accepted_or_refused_as_before(body: object) -> None:
    try:
        payload = orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError):
        return
    new, legacy = _answer(p, TOPIC, payload), _answer(old, TOPIC, payload)
    assert new[0] == legacy[0]
    if new[0] == "accepted":
        assert new == legacy
