"""A fresh hub database with the API tests' building, people, and a TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.auth import accounts
from hub.config import HubSettings
from hub.db.engines import open_store
from hub.db.protocol import Store
from tests.api.conftest import BUILDING, csrf_from

SECRET = "checkin-tests-secret-0123456789"
PASSWORD = "a long test password"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2, with small parameters: these tests sign in often, not test hashing."""
    monkeypatch.setattr(accounts, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> HubSettings:
    return HubSettings(data_dir=tmp_path / "hub", secret_key=SECRET, database_url=database_url)


@pytest.fixture
def store(settings: HubSettings) -> Iterator[Store]:
    """The hub store on this test's engine (tests/conftest.py ``engine``)."""
    store = open_store(settings.store_url)
    store.import_building(BUILDING)
    accounts.ensure_schema(store.db)
    yield store
    store.close()


@pytest.fixture
def ann(store: Store) -> int:
    """An employee."""
    return accounts.create_user(store.db, "ann", PASSWORD, "employee")


@pytest.fixture
def bob(store: Store) -> int:
    """Another employee."""
    return accounts.create_user(store.db, "bob", PASSWORD, "employee")


@pytest.fixture
def app(settings: HubSettings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def manager_auth(store: Store) -> dict[str, str]:
    token = accounts.create_api_token(store.db, "camera-tests", role="manager")
    return {"Authorization": f"Bearer {token}"}


def sign_in(client: TestClient, username: str) -> None:
    form = client.get("/login")
    response = client.post("/login", data={
        "username": username, "password": PASSWORD, "csrf_token": csrf_from(form.text),
    })
    assert response.status_code == 303, response.text
