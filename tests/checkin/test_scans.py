"""Scans from a desk camera: verified by the hub, answered on the agent's feedback topic."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.protocol import CheckinsMessage, Feedback, Scan, Topic, decode, encode, topic_for
from hub.checkin import service
from hub.checkin.service import handle_scans
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.ingest.ingestor import Ingestor
from tests.broker import Mosquitto

SITE, AGENT = "hq", "hq-agent-1"
TOPIC = Topic(SITE, AGENT, "checkins")


class Sent(list[tuple[str, bytes, int]]):
    def __call__(self, topic: str, payload: bytes, qos: int) -> None:
        self.append((topic, payload, qos))


def _message(seq: int, *scans: tuple[str, str], at: float | None = None) -> CheckinsMessage:
    when = time.time() if at is None else at
    return CheckinsMessage(agent=AGENT, boot=1, seq=seq, sent=when, scans=tuple(
        Scan(desk=desk, token=token, via="qr", at=when) for desk, token in scans))


def test_each_scan_gets_one_feedback_with_the_reason(
    settings: HubSettings, store: SqliteStore, ann: int, bob: int,
) -> None:
    now = time.time()
    good, _ = service.issue_token(store, settings, ann, now=now)
    bound, _ = service.issue_token(store, settings, bob, now=now, desk="hq-d5")
    old, _ = service.issue_token(store, settings, bob, now=now - 100)
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    sent = Sent()
    answers = handle_scans(store, settings, TOPIC, _message(
        7, ("hq-d1", good), ("hq-d2", good), ("hq-d2", bound), ("hq-d2", old),
        ("hq-d2", forged), ("lab-d1", good), ("nope", good), at=now), sent, now=now)
    assert [(a.result, a.reason) for a in answers] == [
        ("accepted", "checked in"),
        ("rejected", "token already used"),
        ("rejected", "token is for another desk"),
        ("rejected", "token expired"),
        ("rejected", "token not valid"),
        ("rejected", "unknown desk"),  # a desk of another site
        ("rejected", "unknown desk"),
    ]
    assert [topic for topic, _, _ in sent] == [topic_for(SITE, AGENT, "feedback")] * 7
    assert {qos for _, _, qos in sent} == {1}
    first = decode(Topic(SITE, AGENT, "feedback"), sent[0][1], now=now)
    assert isinstance(first, Feedback) and (first.seq, first.desk) == (7, "hq-d1")
    assert b"ann" not in b"".join(payload for _, payload, _ in sent)
    mine = service.current(store, ann)
    assert mine is not None and (mine.desk, mine.via) == ("hq-d1", "qr")


def test_a_redelivered_message_is_already_recorded_not_a_replay(
    settings: HubSettings, store: SqliteStore, ann: int,
) -> None:
    token, _ = service.issue_token(store, settings, ann)
    message = _message(9, ("hq-d1", token))
    first = handle_scans(store, settings, TOPIC, message, Sent())
    again = handle_scans(store, settings, TOPIC, message, Sent())
    assert (first[0].reason, again[0].result, again[0].reason) == (
        "checked in", "accepted", "already recorded")
    other = handle_scans(store, settings, TOPIC, _message(10, ("hq-d1", token)), Sent())
    assert (other[0].result, other[0].reason) == ("rejected", "token already used")


def test_a_scan_arriving_long_after_it_was_made_is_refused(
    settings: HubSettings, store: SqliteStore, ann: int,
) -> None:
    token, _ = service.issue_token(store, settings, ann)
    answers = handle_scans(store, settings, TOPIC, _message(3, ("hq-d1", token)), Sent(),
                           now=time.time() + 600)
    assert answers[0].reason == "scan arrived too late"
    future = handle_scans(store, settings, TOPIC, _message(4, ("hq-d1", token)), Sent(),
                          now=time.time() - 120)
    assert future[0].reason == "scan time is in the future"
    assert service.current(store, ann) is None


@pytest.fixture
def agent_link(fresh_broker: Mosquitto) -> Iterator[tuple[mqtt.Client, queue.Queue[bytes]]]:
    """An 'edge agent' client that publishes checkins and listens to its feedback topic."""
    inbox: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"agent-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv311)
    subscribed = threading.Event()
    client.on_message = lambda c, u, m: inbox.put(bytes(m.payload))
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", fresh_broker.port)
    client.loop_start()
    client.subscribe(topic_for(SITE, AGENT, "feedback"), qos=1)
    assert subscribed.wait(5)
    yield client, inbox
    client.disconnect()
    client.loop_stop()


@pytest.mark.broker
def test_ingest_verifies_scans_and_answers_on_feedback(
    fresh_broker: Mosquitto, store: SqliteStore, settings: HubSettings,
    ann: int, agent_link: tuple[mqtt.Client, queue.Queue[bytes]],
) -> None:
    client, inbox = agent_link
    hub_settings = settings.model_copy(update={"mqtt_port": fresh_broker.port})
    ingestor = Ingestor(hub_settings, store, client_id=f"hub-{uuid.uuid4().hex[:8]}")
    ingestor.start()
    try:
        assert ingestor.wait_connected(5)
        token, _ = service.issue_token(store, settings, ann)
        client.publish(topic_for(SITE, AGENT, "checkins"),
                       encode(_message(1, ("hq-d2", token))), qos=1).wait_for_publish(5)
        answer = json.loads(inbox.get(timeout=5))
        assert (answer["result"], answer["reason"], answer["desk"], answer["seq"]) == (
            "accepted", "checked in", "hq-d2", 1)
        mine = service.current(store, ann)
        assert mine is not None and mine.desk == "hq-d2"
        client.publish(topic_for(SITE, AGENT, "checkins"),
                       encode(_message(2, ("hq-d2", token))), qos=1).wait_for_publish(5)
        replay = json.loads(inbox.get(timeout=5))
        assert (replay["result"], replay["reason"]) == ("rejected", "token already used")
    finally:
        ingestor.stop()
