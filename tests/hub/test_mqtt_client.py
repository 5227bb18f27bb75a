"""HubClient (chunked reads, batched acks, raw publish hand-over) against a real Mosquitto:
it must receive exactly what a stock paho client receives, and its acknowledgements must
settle a persistent session as paho's do."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.ingest.mqtt_client import CHUNK, HubClient
from tests.broker import Mosquitto

pytestmark = pytest.mark.broker


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Received:
    """(topic, payload, mid, qos) of every message a client got, and a count to wait on."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes, int, int]] = []
        self.changed = threading.Condition()

    def add(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        with self.changed:
            self.items.append((topic, payload, mid, qos))
            self.changed.notify_all()

    def drain(self, client: HubClient, n: int, acked: Callable[[bytes], bool] = bool,
              timeout: float = 20.0) -> bool:
        """Wait for ``n`` messages, acknowledging those ``acked`` accepts as they come
        (the broker sends only a window of unacknowledged messages at a time)."""
        done = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.changed:
                if len(self.items) == done:
                    self.changed.wait(0.05)
                fresh, done = self.items[done:], len(self.items)
            client.ack_all(mid for _t, payload, mid, _q in fresh if acked(payload))
            if done >= n:
                return True
        return False


@contextmanager
def hub_client(broker: Mosquitto, client_id: str, received: Received) -> Iterator[HubClient]:
    client = HubClient(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                       protocol=mqtt.MQTTv311, manual_ack=True)
    client.on_publish_raw = received.add
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def subscribe(client: mqtt.Client, topic: str) -> None:
    done = threading.Event()
    client.on_subscribe = lambda *_args: done.set()
    client.subscribe(topic, qos=1)
    assert done.wait(5)


def publish_all(broker: Mosquitto, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("pub"))
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    info = None
    for topic, payload in messages:
        info = client.publish(topic, payload, qos=1)
    assert info is not None
    info.wait_for_publish(20)
    client.loop_stop()
    client.disconnect()


def test_chunked_reads_deliver_what_a_stock_client_gets(broker: Mosquitto) -> None:
    """Small messages many to a chunk, and large ones across chunk boundaries, arrive
    complete, in order and without stalling at the end of a chunk."""
    root = unique("t")
    rng = random.Random(5)
    messages = [(f"{root}/a{k % 7}", rng.randbytes(rng.choice([20, 300, 5000, CHUNK + 3000])))
                for k in range(400)]
    stock_got: list[tuple[str, bytes]] = []
    stock = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("stock"))
    stock.on_message = lambda _c, _u, m: stock_got.append((m.topic, bytes(m.payload)))
    stock.connect("127.0.0.1", broker.port)
    stock.loop_start()
    subscribe(stock, f"{root}/#")
    received = Received()
    with hub_client(broker, unique("hub"), received) as client:
        subscribe(client, f"{root}/#")
        publish_all(broker, messages)
        assert received.drain(client, len(messages)), f"got {len(received.items)}"
    deadline = time.monotonic() + 10
    while len(stock_got) < len(messages) and time.monotonic() < deadline:
        time.sleep(0.02)
    stock.loop_stop()
    stock.disconnect()
    assert [(t, p) for t, p, _mid, _qos in received.items] == messages == stock_got
    assert {qos for *_rest, qos in received.items} == {1}


def test_ack_all_settles_the_session_and_unacked_messages_come_back(
    broker: Mosquitto,
) -> None:
    root, client_id = unique("t"), unique("hub")
    received = Received()
    with hub_client(broker, client_id, received) as client:
        subscribe(client, f"{root}/#")
        publish_all(broker, [(f"{root}/x", b"%d" % k) for k in range(300)])
        # Messages 200.. stay unacknowledged (those beyond the broker's window not sent).
        assert received.drain(client, 200, acked=lambda payload: int(payload) < 200)
        time.sleep(0.5)  # let the acks leave before disconnecting
    again = Received()
    with hub_client(broker, client_id, again) as client:
        assert again.drain(client, 100)
        time.sleep(0.5)  # nothing more may come
    assert sorted(p for _t, p, _m, _q in again.items) == sorted(b"%d" % k for k in range(200, 300))
