"""Hub ingest vs a bare paho subscriber, same broker, same backlog, same run.

Both consumers subscribe once with a persistent session, go away, and find the same
backlog of N QoS-1 `desks` messages queued at Mosquitto when they come back. The bare
subscriber only counts messages; the hub decodes, validates, dedups, writes transitions
and acknowledges after commit. Their drain rates give the overhead ratio.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge import protocol as p
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.ingest.ingestor import Ingestor

SITE, AGENT = "bench", "bench-agent"
DESKS = [f"bench-d{i:03d}" for i in range(100)]


def _client(client_id: str, port: int, *, clean: bool) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=clean)
    client.connect("127.0.0.1", port)
    return client


def _publish_backlog(port: int, n: int, boot: int) -> None:
    pub = _client(f"bench-pub-{boot}", port, clean=True)
    pub.loop_start()
    now = time.time()
    topic = p.topic_for(SITE, AGENT, "desks")
    last = None
    for seq in range(n):
        desk = DESKS[seq % len(DESKS)]
        state = "occupied" if (seq // len(DESKS)) % 2 == 0 else "vacant"
        msg = p.DesksMessage(AGENT, boot, seq, now, (p.DeskEvent(desk, state, now - n + seq),))
        last = pub.publish(topic, p.encode(msg), qos=1)
    assert last is not None
    last.wait_for_publish(120)
    pub.loop_stop()
    pub.disconnect()


def _bare_subscriber_rate(port: int, n: int) -> float:
    client_id = "bench-bare"
    sub = _client(client_id, port, clean=False)
    sub.subscribe(p.subscription_for_hub()[1], qos=1)
    sub.loop(1.0)
    sub.disconnect()
    _publish_backlog(port, n, boot=1)

    got = 0
    done = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        nonlocal got
        got += 1
        if got >= n:
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    sub.on_message = on_message
    began = time.perf_counter()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    done.wait(300)
    elapsed = time.perf_counter() - began
    sub.loop_stop()
    sub.disconnect()
    if got < n:
        raise RuntimeError(f"bare subscriber received {got} of {n}")
    return n / elapsed


def _hub_rate(port: int, workdir: Path, n: int) -> tuple[float, int]:
    settings = HubSettings(data_dir=workdir / "hub", mqtt_port=port)
    store = SqliteStore(settings.database_path)
    store.import_building({"sites": [{"id": SITE, "name": "Bench", "timezone": "UTC",
                                      "floors": [{"id": "bench-f1", "name": "F1", "level": 1,
                                                  "zones": [{"id": "bench-z1", "name": "Z1",
                                                             "desks": [{"id": d, "name": d,
                                                                        "agent": AGENT}
                                                                       for d in DESKS]}]}]}]})
    ingestor = Ingestor(settings, store, client_id="bench-hub")
    ingestor.start()
    deadline = time.monotonic() + 10
    while not ingestor.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    ingestor.stop()
    _publish_backlog(port, n, boot=2)
    began = time.perf_counter()
    ingestor = Ingestor(settings, store, client_id="bench-hub")
    ingestor.start()
    deadline = time.monotonic() + 600
    while store.counters().get("messages", 0) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - began
    stored = store.counters().get("messages", 0)
    ingestor.stop()
    store.close()
    if stored < n:
        raise RuntimeError(f"hub stored {stored} of {n} messages")
    return n / elapsed, stored


def bench_ingest(port: int, workdir: Path, n: int) -> dict[str, Any]:
    bare = _bare_subscriber_rate(port, n)
    hub, stored = _hub_rate(port, workdir, n)
    return {
        "messages": n,
        "events_per_message": 1,
        "bare_paho_messages_per_second": round(bare),
        "hub_events_per_second": round(hub),
        "hub_to_bare_ratio": round(hub / bare, 3),
        "hub_messages_stored": stored,
    }
