"""The Ingestor against a real Mosquitto: apply, dead letters, dedup, persistence, retry.

Tests through the ``hub`` fixture run on both stores (SQLite and PostgreSQL); the ones that
lock the SQLite file to make a batch fail stay SQLite-only."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.protocol import DeskEvent, DesksMessage, Status, encode, parse_topic, topic_for
from hub.db.sqlite.store import Incoming
from hub.ingest.ingestor import Ingestor
from tests.broker import Mosquitto
from tests.hub.ingest_helpers import Hub, unique, wait_until
from tests.support.stores import StoreFactory

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("timing")]  # measures time








@pytest.fixture
def broker(fresh_broker: Mosquitto) -> Mosquitto:
    """A broker per test: the hub subscribes to every site, so retained statuses left by
    other tests on the shared session broker would show up in its counters."""
    return fresh_broker


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto, open_test_store: StoreFactory) -> Iterator[Hub]:
    h = Hub(tmp_path, broker, open_test_store())
    h.ingestor.start()
    assert h.ingestor.wait_connected(5)
    yield h
    h.ingestor.stop()
    h.store.close()




def test_a_published_desks_message_is_in_the_store_within_a_second(
    hub: Hub, publisher: Callable[[str, bytes], None]
) -> None:
    publisher(hub.topic(), hub.desks_payload(1, hub.desks[0], "occupied"))
    assert wait_until(lambda: hub.state(hub.desks[0]) == "occupied", 1.0)
    assert wait_until(lambda: hub.ingestor.stats["applied"] == 1)
    assert hub.ingestor.connected


def test_malformed_messages_are_dead_lettered_and_ingest_goes_on(
    hub: Hub, publisher: Callable[[str, bytes], None]
) -> None:
    publisher(hub.topic(), b'{"v":1,"agent":"x"')
    publisher(hub.topic(), b'{"v":2}')
    publisher(f"deskpulse/v1/{hub.site}/Bad_Agent/desks", hub.desks_payload(1, hub.desks[0],
                                                                            "occupied"))
    publisher(hub.topic(), hub.desks_payload(1, f"{hub.site}-d9", "occupied"))
    publisher(hub.topic(), hub.desks_payload(2, hub.desks[1], "occupied"))
    assert wait_until(lambda: hub.state(hub.desks[1]) == "occupied")
    assert wait_until(lambda: len(hub.store.dead_letters()) == 4)
    reasons = [d["reason"] for d in reversed(hub.store.dead_letters())]
    assert reasons == [
        "payload is not valid JSON",
        "unknown protocol version; this receiver speaks v1",
        "agent in topic is not a valid id ([a-z0-9-]{1,64})",
        f"unknown desk '{hub.site}-d9'",
    ]
    assert hub.store.dead_letters()[1]["topic"] == f"deskpulse/v1/{hub.site}/?/desks"
    assert hub.ingestor.stats["dead"] == 4


def test_the_same_message_published_twice_counts_once(
    hub: Hub, publisher: Callable[[str, bytes], None]
) -> None:
    payload = hub.desks_payload(1, hub.desks[2], "occupied")
    publisher(hub.topic(), payload)
    publisher(hub.topic(), payload)
    assert wait_until(lambda: hub.ingestor.stats["received"] == 2)
    assert len(hub.store.transitions([hub.desks[2]], 0, time.time() + 60)) == 1
    assert hub.store.counters()["duplicates"] >= 1
    assert hub.ingestor.stats["duplicates"] == 1


def test_messages_sent_while_the_hub_is_down_arrive_when_it_returns(
    tmp_path: Path, broker: Mosquitto, publisher: Callable[[str, bytes], None],
    open_test_store: StoreFactory,
) -> None:
    h = Hub(tmp_path, broker, open_test_store())
    h.ingestor.start()
    assert h.ingestor.wait_connected(5)
    h.ingestor.stop()  # the persistent session stays at the broker
    publisher(h.topic(), h.desks_payload(1, h.desks[0], "occupied"))
    publisher(h.topic("status"), encode(Status(online=True, boot=1, version="t")))
    again = Ingestor(h.settings, h.store, client_id=h.client_id)
    again.start()
    try:
        assert wait_until(lambda: h.state(h.desks[0]) == "occupied", 5.0)
        assert wait_until(lambda: bool(h.store.agents(h.site)[0]["online"]), 2.0)
    finally:
        again.stop()
        h.store.close()


def test_a_failing_batch_is_not_lost_but_retried(
    tmp_path: Path, broker: Mosquitto, publisher: Callable[[str, bytes], None]
) -> None:
    """Hold the database's write lock longer than the store's busy timeout: the batch fails,
    stays unacknowledged, and is applied once the lock is gone."""
    h = Hub(tmp_path, broker)
    blocker = sqlite3.connect(tmp_path / "hub.db")
    blocker.execute("BEGIN IMMEDIATE")
    h.ingestor.start()
    try:
        assert h.ingestor.wait_connected(5)
        publisher(h.topic(), h.desks_payload(1, h.desks[0], "occupied"))
        assert wait_until(lambda: h.ingestor.stats["errors"] >= 1, 3.0)
        assert h.store.counters()["messages"] == 0
        blocker.rollback()
        assert wait_until(lambda: h.state(h.desks[0]) == "occupied", 5.0)
        assert h.store.counters()["messages"] == 1
    finally:
        blocker.close()
        h.ingestor.stop()
        h.store.close()


def test_agents_expire_only_after_the_hub_listened_for_a_whole_timeout(
    tmp_path: Path, broker: Mosquitto
) -> None:
    h = Hub(tmp_path, broker, heartbeat_timeout=0.3)
    now = time.time()
    h.store.apply([Incoming(parse_topic(h.topic()), DesksMessage(
        agent=h.agent, boot=1, seq=1, sent=now - 100,
        events=(DeskEvent(h.desks[0], "occupied", now - 100),)), now - 100)])
    assert h.ingestor.expire_agents(now) == []  # not even connected: knows nothing
    h.ingestor.start()
    try:
        assert h.ingestor.wait_connected(5)
        assert h.ingestor.expire_agents(time.time()) == []  # queued messages may follow
        time.sleep(0.35)
        assert h.ingestor.expire_agents(time.time()) == [h.agent]
        assert h.state(h.desks[0]) == "unknown"
    finally:
        h.ingestor.stop()
        h.store.close()


def test_unacknowledged_messages_come_back_and_acknowledged_ones_do_not(
    tmp_path: Path, broker: Mosquitto, publisher: Callable[[str, bytes], None]
) -> None:
    """The ack follows the commit: a message whose batch failed is redelivered by the broker
    to the next hub session; one that was committed is not."""
    h = Hub(tmp_path, broker)
    blocker = sqlite3.connect(tmp_path / "hub.db")
    blocker.execute("BEGIN IMMEDIATE")
    h.ingestor.start()
    assert h.ingestor.wait_connected(5)
    publisher(h.topic(), h.desks_payload(1, h.desks[0], "occupied"))
    assert wait_until(lambda: h.ingestor.stats["errors"] >= 1, 3.0)
    h.ingestor.stop()  # crash-like: the failed message was never acknowledged
    blocker.rollback()
    blocker.close()
    assert h.store.counters()["messages"] == 0

    second = Ingestor(h.settings, h.store, client_id=h.client_id)
    second.start()
    assert wait_until(lambda: h.state(h.desks[0]) == "occupied", 5.0)
    assert wait_until(lambda: second.stats["applied"] == 1)
    time.sleep(0.1)  # let the acknowledgement leave before disconnecting
    second.stop()

    third = Ingestor(h.settings, h.store, client_id=h.client_id)
    third.start()
    assert third.wait_connected(5)
    time.sleep(0.5)
    third.stop()
    assert third.stats["received"] == 0
    assert h.store.counters()["messages"] == 1
    h.store.close()


def test_an_agent_whose_every_message_is_refused_gets_no_agents_row(
    hub: Hub, publisher: Callable[[str, bytes], None]
) -> None:
    """Issue 24, item 9: a refused message leaves its dead letter and nothing else."""
    stranger = unique("x")
    topic = topic_for(hub.site, stranger, "desks")
    now = time.time()
    publisher(topic, encode(DesksMessage(agent=stranger, boot=1, seq=1, sent=now, events=(
        DeskEvent(f"{hub.site}-d9", "occupied", now),))))
    publisher(topic, encode(DesksMessage(agent=stranger, boot=1, seq=2, sent=now, events=(
        DeskEvent(hub.desks[0], "occupied", now),))))  # another agent's desk
    assert wait_until(lambda: len(hub.store.dead_letters()) == 2, 5)
    assert [d["reason"] for d in reversed(hub.store.dead_letters())] == [
        f"unknown desk '{hub.site}-d9'",
        f"desk '{hub.desks[0]}' is assigned to agent '{hub.agent}', not '{stranger}'",
    ]
    assert [a["id"] for a in hub.store.agents(hub.site)] == [hub.agent]
