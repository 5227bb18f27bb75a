"""A store with one site and a real Ingestor on a broker, for the ingest and clock tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from edge.protocol import DeskEvent, DesksMessage, encode, topic_for
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.db.sqlite.store import SqliteStore
from hub.ingest.ingestor import Ingestor
from tests.broker import Mosquitto


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(check: Callable[[], bool], timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


class Hub:
    """A store with one site (desks d0..d2 of one agent) and an Ingestor on the broker."""

    def __init__(
        self, tmp_path: Path, broker: Mosquitto, store: Store | None = None, **settings: object
    ) -> None:
        self.site, self.agent = unique("s"), unique("a")
        self.desks = [f"{self.site}-d{i}" for i in range(3)]
        self.settings = HubSettings(data_dir=tmp_path, mqtt_port=broker.port, **settings)
        self.store = store or SqliteStore(tmp_path / "hub.db", busy_timeout=0.2)
        self.store.import_building({"sites": [{
            "id": self.site, "name": "Ingest", "timezone": "UTC",
            "floors": [{"id": "f", "name": "F", "level": 0, "zones": [
                {"id": "z", "name": "Z", "desks": [
                    {"id": d, "name": d, "agent": self.agent} for d in self.desks]}]}],
        }]})
        self.client_id = unique("hub")
        self.ingestor = Ingestor(self.settings, self.store, client_id=self.client_id)

    def state(self, desk: str) -> str:
        return next(d["state"] for d in self.store.desks(self.site) if d["id"] == desk)

    def desks_payload(self, seq: int, desk: str, state: str, at: float | None = None) -> bytes:
        at = time.time() if at is None else at
        return encode(DesksMessage(agent=self.agent, boot=1, seq=seq, sent=at,
                                   events=(DeskEvent(desk, state, at),)))  # type: ignore[arg-type]

    def topic(self, kind: str = "desks") -> str:
        return topic_for(self.site, self.agent, kind)  # type: ignore[arg-type]
