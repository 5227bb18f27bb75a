"""A fresh hub database per test with a small building, and a TestClient over a real app."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge.protocol import DeskEvent, DesksMessage, Topic
from hub.api.app import create_app
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.engines import open_store
from hub.db.protocol import Store
from hub.db.sqlite.store import Incoming

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


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> HubSettings:
    return HubSettings(data_dir=tmp_path / "hub", database_url=database_url)


@pytest.fixture
def store(settings: HubSettings) -> Iterator[Store]:
    """The hub store on this test's engine (tests/conftest.py ``engine``)."""
    store = open_store(settings.store_url)
    store.import_building(BUILDING)
    yield store
    store.close()


@pytest.fixture
def desks(store: Store) -> Desks:
    return Desks(store)


@pytest.fixture
def broker_state() -> dict[str, Any]:
    """What the fake ingest probe reports; tests may change it."""
    return {"broker": "connected"}


@pytest.fixture
def app(settings: HubSettings, store: Store, broker_state: dict[str, Any]) -> FastAPI:
    return create_app(settings, store, ingest_status=lambda: dict(broker_state))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def token(store: Store) -> str:
    return accounts.create_api_token(store.db, "tests", role="manager")


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def manager(store: Store) -> tuple[str, str]:
    """A manager account: (username, password)."""
    accounts.create_user(store.db, "mia", "correct horse battery", "manager")
    return "mia", "correct horse battery"


def login(client: TestClient, username: str, password: str) -> Any:
    form = client.get("/login")
    return client.post("/login", data={
        "username": username, "password": password, "csrf_token": csrf_from(form.text),
    })
