"""The small two-site building the hub tests import, and ``Desks``, which writes desk events
through the store's real ingest path."""

from __future__ import annotations

import itertools
import time
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.protocol import DeskEvent, DesksMessage, Topic, ZoneCount, ZonesMessage
from hub.db.protocol import Store
from hub.db.sqlite.store import Incoming, SqliteStore

SITE = "hq"


AGENT = "hq-agent-1"


ALL_DAY = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}


def _desk(i: int, agent: str = AGENT) -> dict[str, Any]:
    return {"id": f"hq-d{i}", "name": f"Desk {i}", "agent": agent, "x": 0.1 * i, "y": 0.5}


BUILDING: dict[str, Any] = {"sites": [
    {"id": SITE, "name": "Head office", "timezone": "Europe/Berlin", "core_hours": ALL_DAY,
     "floors": [
         {"id": "hq-f1", "name": "First floor", "level": 1, "zones": [
             {"id": "hq-north", "name": "North", "desks": [_desk(1), _desk(2)]},
             {"id": "hq-south", "name": "South", "desks": [_desk(3)]},
         ]},
         {"id": "hq-f2", "name": "Second floor", "level": 2, "zones": [
             {"id": "hq-east", "name": "East", "desks": [_desk(4), _desk(5)]},
         ]},
     ]},
    {"id": "lab", "name": "Lab", "timezone": "UTC", "floors": [
        {"id": "lab-f0", "name": "Ground", "level": 0, "zones": [
            {"id": "lab-z", "name": "Bench", "desks": [
                {"id": "lab-d1", "name": "Bench 1", "agent": "lab-agent"}]},
        ]},
    ]},
]}


class Desks:
    """Writes desk events through the store's real ingest path (``Store.apply``)."""

    def __init__(self, store: Store, site: str = SITE, agent: str = AGENT) -> None:
        self.store, self.site, self.agent = store, site, agent
        self._seq = itertools.count(1)

    def send(self, *events: tuple[str, str, float]) -> None:
        now = time.time()
        message = DesksMessage(
            agent=self.agent, boot=1, seq=next(self._seq), sent=now,
            events=tuple(DeskEvent(desk=d, state=s, at=at) for d, s, at in events),  # type: ignore[arg-type]
        )
        result = self.store.apply([Incoming(Topic(self.site, self.agent, "desks"), message, now)])
        assert not result.rejected, result.rejected
        assert result.applied == 1


def incoming(kind: str, message: object) -> Incoming:
    return Incoming(Topic(SITE, AGENT, kind), message, time.time())  # type: ignore[arg-type]


_ZONE_SEQ = itertools.count(1)  # zones messages of send(), one sequence per process


def send(store: SqliteStore, site: str, agent: str, *counts: tuple[str, int, int]) -> None:
    """Zone counts through the real ingest path, as an agent's `zones` message."""
    message = ZonesMessage(agent=agent, boot=1, seq=next(_ZONE_SEQ), sent=time.time(),
                           counts=tuple(ZoneCount(zone=z, bin=b, devices=d) for z, b, d in counts))
    result = store.apply([Incoming(Topic(site, agent, "zones"), message, time.time())])
    assert not result.rejected, result.rejected


BERLIN = ZoneInfo("Europe/Berlin")


BIN = 900


def local_midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=BERLIN).timestamp()
