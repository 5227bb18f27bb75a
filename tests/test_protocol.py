"""Wire protocol v1: round trips, strict validation with exact reasons, never-raises."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import protocol as p
from edge.errors import ProtocolError

NOW = 1_800_000_000.0
TOPIC = "deskpulse/v1/hq/agent-1/desks"

ids = st.from_regex(r"[a-z0-9-]{1,64}", fullmatch=True)
stamps = st.floats(min_value=p.MIN_TIMESTAMP, max_value=NOW, allow_nan=False,
                   allow_infinity=False)
counters = st.integers(min_value=0, max_value=p.MAX_INT)
events = st.builds(p.DeskEvent, desk=ids, state=st.sampled_from(p.DESK_STATES), at=stamps)
tokens = st.from_regex(r"[A-Za-z0-9._~:+/=-]{1,512}", fullmatch=True)


def message_strategy(agent: str) -> st.SearchStrategy[p.Message]:
    header = {"agent": st.just(agent), "boot": counters, "seq": counters, "sent": stamps}
    return st.one_of(
        st.builds(p.Status, online=st.booleans(), boot=counters,
                  version=st.none() | st.from_regex(r"[\x20-\x7e]{0,64}", fullmatch=True)),
        st.builds(p.DesksMessage, **header,
                  events=st.lists(events, min_size=1, max_size=20).map(tuple)),
        st.builds(p.ZonesMessage, **header, counts=st.lists(st.builds(
            p.ZoneCount, zone=ids,
            bin=st.integers(int(p.MIN_TIMESTAMP) // 900 + 1, 2_000_000).map(lambda b: b * 900),
            devices=st.integers(0, 1_000_000)), min_size=1, max_size=20).map(tuple)),
        st.builds(p.CheckinsMessage, **header, scans=st.lists(st.builds(
            p.Scan, desk=ids, token=tokens, via=st.sampled_from(p.SCAN_VIA), at=stamps),
            min_size=1, max_size=5).map(tuple)),
        st.builds(p.Health, agent=st.just(agent), boot=counters, sent=stamps,
                  uptime=st.floats(0, 1e9), outbox_depth=counters, dropped=counters,
                  sensor_faults=st.lists(ids, max_size=5).map(tuple)),
        st.builds(p.Config, agent=st.just(agent), issued=stamps, key_epoch=counters,
                  desks=st.lists(st.builds(p.DeskAssignment, desk=ids, zone=ids),
                                 max_size=10).map(tuple),
                  badges=st.lists(st.from_regex(r"[0-9a-f]{16,128}", fullmatch=True),
                                  max_size=5).map(tuple)),
        st.builds(p.Feedback, agent=st.just(agent), boot=counters, seq=counters, desk=ids,
                  result=st.sampled_from(p.FEEDBACK_RESULTS),
                  reason=st.from_regex(r"[\x20-\x7e]{0,200}", fullmatch=True)),
    )


@settings(max_examples=300)
@given(site=ids, agent=ids, data=st.data())
def test_every_message_round_trips(site: str, agent: str, data: st.DataObject) -> None:
    message = data.draw(message_strategy(agent))
    topic = p.topic_for(site, agent, message.KIND)
    assert p.decode(topic, p.encode(message), now=NOW) == message


@settings(max_examples=500)
@given(payload=st.binary(max_size=2048), kind=st.sampled_from(p.KINDS))
def test_decode_raises_only_protocol_error_on_arbitrary_bytes(payload: bytes, kind: str) -> None:
    try:
        p.decode(f"deskpulse/v1/hq/agent-1/{kind}", payload, now=NOW)
    except ProtocolError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)


@settings(max_examples=500)
@given(body=st.dictionaries(
    st.sampled_from(["v", "agent", "boot", "seq", "sent", "events", "online", "counts",
                     "scans", "x"]), json_values, max_size=7),
    kind=st.sampled_from(p.KINDS))
def test_decode_raises_only_protocol_error_on_arbitrary_json(body: dict, kind: str) -> None:
    payload = json.dumps(body).encode()
    try:
        p.decode(f"deskpulse/v1/hq/agent-1/{kind}", payload, now=NOW)
    except ProtocolError:
        pass


@given(topic=st.text(max_size=100))
def test_parse_topic_raises_only_protocol_error(topic: str) -> None:
    try:
        p.parse_topic(topic)
    except ProtocolError:
        pass


def desks_body(**overrides: object) -> dict:
    body: dict = {"v": 1, "agent": "agent-1", "boot": 3, "seq": 7, "sent": NOW,
                  "events": [{"desk": "desk-1", "state": "occupied", "at": NOW - 5}]}
    body.update(overrides)
    return body


def reason(body: object, topic: str = TOPIC, raw: bytes | None = None) -> str:
    payload = raw if raw is not None else json.dumps(body).encode()
    with pytest.raises(ProtocolError) as caught:
        p.decode(topic, payload, now=NOW)
    return str(caught.value)


def test_a_hand_written_desks_message_decodes() -> None:
    raw = (b'{"v":1,"agent":"agent-1","boot":3,"seq":7,"sent":1800000000,'
           b'"events":[{"desk":"desk-1","state":"occupied","at":1799999995.5}]}')
    message = p.decode(TOPIC, raw, now=NOW)
    assert message == p.DesksMessage(
        agent="agent-1", boot=3, seq=7, sent=1_800_000_000.0,
        events=(p.DeskEvent("desk-1", "occupied", 1_799_999_995.5),))


@pytest.mark.parametrize(("body", "expected"), [
    (desks_body(v=2), "unknown protocol version; this receiver speaks v1"),
    (desks_body(v=True), "unknown protocol version; this receiver speaks v1"),
    ({"agent": "agent-1"}, "missing field 'v' (protocol version)"),
    (desks_body(mac="aa"), "unknown field 'mac' in message"),
    (desks_body(events=[{"desk": "desk-1", "state": "occupied", "at": 1, "rssi": -60}]),
     "unknown field 'rssi' in events[0]"),
    (desks_body(boot="3"), "boot must be an integer"),
    (desks_body(seq=True), "seq must be an integer"),
    (desks_body(seq=-1), f"seq must be between 0 and {p.MAX_INT}"),
    (desks_body(sent="now"), "sent must be a number"),
    (desks_body(agent="agent-2"), "agent in payload does not match the agent in the topic"),
    (desks_body(agent="Agent 1"), "agent must be an id matching [a-z0-9-]{1,64}"),
    (desks_body(events=[]), f"events must hold between 1 and {p.MAX_ITEMS} items"),
    (desks_body(events=[{"desk": "desk-1", "state": "busy", "at": 1}]),
     "events[0].state must be one of occupied, vacant, unknown"),
    (desks_body(events=[{"desk": "desk-1", "state": "occupied", "at": NOW + 301}]),
     "events[0].at is more than 300 s in the future"),
    (desks_body(sent=NOW + 1000), "sent is more than 300 s in the future"),
    (desks_body(events=[{"desk": "desk-1", "state": "occupied"}]),
     "missing field 'at' in events[0]"),
    ([1, 2], "payload must be a JSON object"),
])
def test_invalid_desks_messages_are_rejected_with_a_reason(body: object, expected: str) -> None:
    assert reason(body) == expected


HORIZON = 14 * 86400.0


@pytest.mark.parametrize(("body", "expected"), [
    (desks_body(sent=1000),
     "sent is before 2020-01-01: the sender's clock is not set"),
    (desks_body(events=[{"desk": "desk-1", "state": "occupied", "at": 12}]),
     "events[0].at is before 2020-01-01: the sender's clock is not set"),
    (desks_body(events=[{"desk": "desk-1", "state": "occupied", "at": NOW - HORIZON - 1}]),
     "events[0].at is older than the event horizon (14 days)"),
    (desks_body(sent=NOW - HORIZON - 60),
     "sent is older than the event horizon (14 days)"),
])
def test_time_stamps_before_the_clock_was_set_or_the_horizon_are_refused(
    body: dict, expected: str
) -> None:
    """Issue 24, item 1: one message from a Pi without a clock cost the hub minutes."""
    with pytest.raises(ProtocolError) as caught:
        p.decode(TOPIC, json.dumps(body).encode(), now=NOW, max_age=HORIZON)
    assert str(caught.value) == expected


def test_the_horizon_applies_only_when_the_receiver_asks_for_it() -> None:
    old = desks_body(events=[{"desk": "desk-1", "state": "occupied", "at": NOW - HORIZON - 1}])
    assert p.decode(TOPIC, json.dumps(old).encode(), now=NOW).events[0].at == NOW - HORIZON - 1
    edge = desks_body(events=[{"desk": "desk-1", "state": "occupied", "at": NOW - HORIZON}])
    assert p.decode(TOPIC, json.dumps(edge).encode(), now=NOW, max_age=HORIZON)


def test_a_health_report_from_a_clock_not_set_is_accepted_for_its_offset() -> None:
    body = {"v": 1, "agent": "agent-1", "boot": 1, "sent": 35.5, "uptime": 30.0,
            "outbox_depth": 0, "dropped": 0}
    health = p.decode("deskpulse/v1/hq/agent-1/health", json.dumps(body).encode(), now=NOW,
                      max_age=HORIZON)
    assert isinstance(health, p.Health) and health.sent == 35.5


@pytest.mark.parametrize(("raw", "expected"), [
    (b'{"v":1,"v":1,"agent":"agent-1","boot":3,"seq":7,"sent":1800000000,'
     b'"events":[{"desk":"desk-1","state":"occupied","at":1799999995}]}',
     "field 'v' appears more than once in an object"),
    (b'{"v":1,"agent":"agent-1","boot":3,"seq":7,"sent":1800000000,'
     b'"events":[{"desk":"desk-1","state":"occupied","at":1799999995,"at":1799999990}]}',
     "field 'at' appears more than once in an object"),
    (b'{"v":1,"agent":"agent-1","agent":"agent-1","boot":3,"seq":7,"sent":1800000000,'
     b'"events":[{"desk":"desk-1","state":"occupied","at":1799999995}]}',
     "field 'agent' appears more than once in an object"),
    (b'{"v":1,"agent":"agent-1","boot":3,"seq":7,"sent":1800000000,"Bad Key":1,"Bad Key":2,'
     b'"events":[{"desk":"desk-1","state":"occupied","at":1799999995}]}',
     "field '?' appears more than once in an object"),
])
def test_a_repeated_key_is_refused(raw: bytes, expected: str) -> None:
    """Issue 24, item 9: parsers disagree on which copy wins, so the payload is ambiguous."""
    assert reason(None, raw=raw) == expected


def test_payload_level_rejections() -> None:
    assert reason(None, raw=b"\xff\xfe") == "payload is not UTF-8"
    assert reason(None, raw=b"{not json") == "payload is not valid JSON"
    assert reason(None, raw=b'{"v":1,"sent":NaN}') == "NaN is not valid JSON"
    big = b" " * (p.MAX_PAYLOAD_BYTES + 1)
    assert reason(None, raw=big) == f"message is larger than {p.MAX_PAYLOAD_BYTES} bytes"


def test_topic_rejections() -> None:
    assert reason(desks_body(), topic="deskpulse/v2/hq/agent-1/desks") == (
        "topic is not of the form deskpulse/v1/{site}/{agent}/{kind}")
    assert reason(desks_body(), topic="deskpulse/v1/HQ/agent-1/desks") == (
        "site in topic is not a valid id ([a-z0-9-]{1,64})")
    assert reason(desks_body(), topic="deskpulse/v1/hq/agent-1/gps") == "unknown topic kind"


def test_zone_bins_must_be_multiples_of_the_bin_width() -> None:
    body = {"v": 1, "agent": "agent-1", "boot": 1, "seq": 1, "sent": NOW,
            "counts": [{"zone": "z1", "bin": 1_799_999_100 + 60, "devices": 4}]}
    assert reason(body, topic="deskpulse/v1/hq/agent-1/zones") == (
        "counts[0].bin is not a multiple of the bin width 900 s")


def test_topics_and_delivery_follow_the_protocol_table() -> None:
    assert p.topic_for("hq", "agent-1", "status") == "deskpulse/v1/hq/agent-1/status"
    assert p.parse_topic("deskpulse/v1/hq/agent-1/zones") == p.Topic("hq", "agent-1", "zones")
    assert set(p.KINDS) == {"status", "desks", "zones", "checkins", "health", "config",
                            "feedback"}
    assert p.DELIVERY["status"] == (1, True) and p.DELIVERY["health"] == (0, False)
    assert p.DELIVERY["config"] == (1, True)
    assert p.subscription_for_agent("hq", "agent-1") == [
        "deskpulse/v1/hq/agent-1/config", "deskpulse/v1/hq/agent-1/feedback"]
    with pytest.raises(ValueError):
        p.topic_for("HQ", "agent-1", "desks")


def test_last_will_has_no_version_and_birth_has_one() -> None:
    assert p.encode(p.Status(online=False, boot=4)) == b'{"v":1,"online":false,"boot":4}'
    assert json.loads(p.encode(p.Status(True, 4, "0.1.0"))) == {
        "v": 1, "online": True, "boot": 4, "version": "0.1.0"}


def test_no_forbidden_field_can_be_encoded() -> None:
    """Privacy item 3: the schema itself has no room for a MAC, RSSI or device name."""
    forbidden = {"mac", "rssi", "address", "name", "device", "image", "location"}
    for cls in _all_structs():
        assert not forbidden & set(cls.__struct_fields__), cls.__name__


def _all_structs() -> list[type]:
    return [p.Status, p.DeskEvent, p.DesksMessage, p.ZoneCount, p.ZonesMessage, p.Scan,
            p.CheckinsMessage, p.RadioHealth, p.Health, p.DeskAssignment, p.Config,
            p.Feedback]


def test_every_field_has_a_rejection_rule() -> None:
    """The reasons are worded per field name (p.RULES): a new field needs its rule."""
    for cls in _all_structs():
        for name in cls.__struct_fields__:
            assert name in p.RULES, (cls.__name__, name)


@pytest.mark.parametrize(("body", "expected"), [
    (desks_body(agent="agent-1\n"), "agent must be an id matching [a-z0-9-]{1,64}"),
    (desks_body(sent=1e12), "sent is not a plausible Unix timestamp in seconds"),
    (desks_body(events={}), "events must be a list"),
    (desks_body(events=[5]), "events[0] must be a JSON object"),
])
def test_more_rejections_worded_as_before(body: dict, expected: str) -> None:
    assert reason(body) == expected


def test_a_number_read_as_infinity_is_refused_as_before() -> None:
    raw = json.dumps(desks_body(sent="INF")).replace('"INF"', "1e400").encode()
    assert reason(None, raw=raw) == "sent must be a finite, non-negative number"


def test_a_missing_version_is_refused_even_when_the_rest_is_valid() -> None:
    body = desks_body()
    del body["v"]
    assert reason(body) == "missing field 'v' (protocol version)"


def test_health_and_config_reasons() -> None:
    health = {"v": 1, "agent": "agent-1", "boot": 1, "sent": NOW, "uptime": 3.0,
              "outbox_depth": 0, "dropped": 0}
    topic = "deskpulse/v1/hq/agent-1/health"
    assert reason({**health, "sensor_faults": ["D"]}, topic) == (
        "sensor_faults[0] must be an id matching [a-z0-9-]{1,64}")
    assert reason({**health, "radio": [{"desk": "d1", "signal": "good", "faults": 0,
                                        "battery": 101}]}, topic) == (
        "radio[0].battery must be between 0 and 100")
    assert reason({**health, "uptime": -1}, topic) == (
        "uptime must be a finite, non-negative number")
    config = {"v": 1, "agent": "agent-1", "issued": NOW, "key_epoch": 1, "badges": ["ab"]}
    assert reason(config, "deskpulse/v1/hq/agent-1/config") == (
        "badges[0] has characters that are not allowed")
