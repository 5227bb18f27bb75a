"""Store fixtures: the store tests run once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.db.engines import open_store
from hub.db.protocol import Store
from tests.broker import Mosquitto
from tests.hub.ingest_helpers import unique
from tests.pg import PostgresCluster
from tests.support.stores import StoreFactory


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_test_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StoreFactory]:
    """``open_test_store(name="hub")`` opens a store on this test's database ``name`` (a
    SQLite file in tmp_path, or a new PostgreSQL database); all are closed at the end."""
    targets: dict[str, str | Path] = {}
    opened: list[Store] = []

    def factory(name: str = "hub") -> Store:
        if name not in targets:
            if backend == "postgres":
                cluster: PostgresCluster = request.getfixturevalue("postgres")
                targets[name] = cluster.create_database()
            else:
                targets[name] = tmp_path / f"{name}.db"
        opened.append(open_store(targets[name]))
        return opened[-1]

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def publisher(broker: Mosquitto) -> Iterator[Callable[[str, bytes], None]]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("pub"),
                         protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()

    def publish(topic: str, payload: bytes) -> None:
        client.publish(topic, payload, qos=1).wait_for_publish(5)

    yield publish
    client.disconnect()
    client.loop_stop()
