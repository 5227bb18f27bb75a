"""The foundation path through real parts: plain MQTT client -> Mosquitto -> hub -> API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.auth.accounts import create_api_token
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.server import HubServer
from tests.broker import Mosquitto, free_port

SITE = "e2e"
AGENT = "e2e-agent-1"
BUILDING = {"sites": [{"id": SITE, "name": "End to end", "timezone": "Europe/Berlin",
                       "floors": [{"id": "e2e-f1", "name": "First floor", "level": 1,
                                   "zones": [{"id": "e2e-z1", "name": "North",
                                              "desks": [{"id": f"e2e-d{i}", "name": f"D{i}",
                                                         "agent": AGENT, "x": 0.1 * i,
                                                         "y": 0.5} for i in range(1, 4)]}]}]}]}


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto) -> Iterator[tuple[HubServer, httpx.Client]]:
    settings = HubSettings(data_dir=tmp_path / "hub", mqtt_port=broker.port,
                           http_port=free_port())
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    token = create_api_token(store.db, "e2e-test", role="manager")
    server = HubServer(settings, store)
    server.start()
    deadline = time.monotonic() + 10
    while not server.ingestor.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    yield server, client
    client.close()
    server.stop()


@pytest.fixture
def publish(broker: Mosquitto) -> Iterator[Callable[..., None]]:
    """Publish with a plain paho client, as third-party firmware would (QoS 1, PUBACKed)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"plain-{time.time_ns()}")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()

    def send(topic: str, payload: bytes, times: int = 1) -> None:
        for _ in range(times):
            client.publish(topic, payload, qos=1).wait_for_publish(5)

    yield send
    client.disconnect()
    client.loop_stop()


def wait_for(check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def desk_states(client: httpx.Client) -> dict[str, str]:
    body = client.get("/api/v1/desks", params={"site": SITE}).json()
    return {d["id"]: d["state"] for d in body["desks"]}


def desks_payload(seq: int, desk: str, state: str, at: float) -> bytes:
    return json.dumps({"v": 1, "agent": AGENT, "boot": 1, "seq": seq, "sent": at,
                       "events": [{"desk": desk, "state": state, "at": at}]}).encode()


TOPIC = f"deskpulse/v1/{SITE}/{AGENT}/desks"


def test_hand_written_message_appears_in_the_api_within_one_second(
        hub: tuple[HubServer, httpx.Client], publish: Callable[..., None]) -> None:
    _, client = hub
    assert desk_states(client)["e2e-d1"] == "unknown"
    sent = time.monotonic()
    publish(TOPIC, desks_payload(1, "e2e-d1", "occupied", time.time()))
    assert wait_for(lambda: desk_states(client)["e2e-d1"] == "occupied", 1.0)
    assert time.monotonic() - sent < 1.0


def test_malformed_message_goes_to_dead_letter_and_hub_keeps_serving(
        hub: tuple[HubServer, httpx.Client], publish: Callable[..., None]) -> None:
    server, client = hub
    publish(TOPIC, b'{"v":1,"agent":"e2e-agent-1","mac":"aa:bb:cc:dd:ee:ff"}')
    publish(TOPIC, b"\x00\xff not json")
    publish(TOPIC, desks_payload(2, "e2e-d2", "occupied", time.time()))
    assert wait_for(lambda: desk_states(client)["e2e-d2"] == "occupied", 2.0)
    reasons = [d["reason"] for d in server.store.dead_letters()]
    assert "unknown field 'mac' in message" in reasons
    assert "payload is not UTF-8" in reasons
    assert client.get("/healthz").json()["status"] == "ok"
    # The dead-letter table keeps a reason and a digest, never the payload (it held a MAC).
    dump = "\n".join(server.store.db.conn.iterdump())
    assert "aa:bb:cc:dd:ee:ff" not in dump


def test_a_message_delivered_twice_is_counted_once(
        hub: tuple[HubServer, httpx.Client], publish: Callable[..., None]) -> None:
    server, client = hub
    at = time.time() - 60
    publish(TOPIC, desks_payload(3, "e2e-d3", "occupied", at), times=2)
    assert wait_for(lambda: server.store.counters().get("duplicates", 0) >= 1, 2.0)
    rows = list(server.store.db.query(
        "select count(*) as n from transitions where desk = ?", ["e2e-d3"]))
    assert rows[0]["n"] == 1
    assert desk_states(client)["e2e-d3"] == "occupied"
