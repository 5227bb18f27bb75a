"""A fresh hub database with people whose data fills every personal table, and a client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.auth import accounts, invitations
from hub.auth.accounts import Principal
from hub.checkin import colleagues
from hub.checkin.service import pseudonym_for
from hub.config import HubSettings
from hub.db.engines import open_store
from hub.db.protocol import Store
from hub.privacy import audit
from tests.api.conftest import BUILDING, csrf_from

SECRET = "privacy-tests-secret-0123456789"
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
def app(settings: HubSettings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def sign_in(client: TestClient, username: str) -> None:
    form = client.get("/login")
    response = client.post("/login", data={
        "username": username, "password": PASSWORD, "csrf_token": csrf_from(form.text),
    })
    assert response.status_code == 303, response.text


def _seed_checkins(store: Store, person: int, desk: str) -> None:
    now = time.time()
    store.db.execute(
        'INSERT INTO checkins (person_id, desk, site, via, start, "end", end_reason) '
        "VALUES (?, ?, 'hq', 'phone', ?, ?, 'checkout')", [person, desk, now - 3600, now - 60])


def _seed_badges(store: Store, person: int, desk: str) -> None:
    digest = f"{person:064x}"
    store.db.execute("INSERT INTO badges (person_id, hash, hint, enrolled) VALUES (?, ?, ?, ?)",
                     [person, digest, digest[:8], time.time()])


def _seed_audit(store: Store, person: int, desk: str) -> None:
    admin = Principal(kind="token", name="auditor", role="admin")
    with store.transaction() as db:
        audit.append(db, admin, "read", audit.subject_for(db, SECRET, person), "read checkins")


def _seed_login_failures(store: Store, person: int, desk: str) -> None:
    name = store.db.execute("SELECT username FROM users WHERE id = ?", [person]).fetchone()[0]
    store.db.execute("INSERT INTO login_failures (username, at) VALUES (?, ?)",
                     [name, time.time()])


# How the tests put one linked row into each personal table. A new table with a person
# reference needs a seeder here, or test_export_covers_every_table... fails and says so.
SEEDERS: dict[str, Callable[[Store, int, str], object]] = {
    "users": lambda store, person, desk: None,  # made by create_user
    "sessions": lambda store, person, desk: accounts.create_session(store.db, person),
    "login_failures": _seed_login_failures,
    "checkins": _seed_checkins,
    "checkin_people": lambda store, person, desk: pseudonym_for(store, person),
    "badges": _seed_badges,
    "consents": lambda store, person, desk: colleagues.set_visible(store, person, True),
    "invitations": lambda store, person, desk: invitations.create(store.db, person),
    "audit_log": _seed_audit,
}


def make_person(store: Store, username: str, desk: str, role: str = "employee") -> int:
    """An account with one row in every personal table the seeders know."""
    person = accounts.create_user(store.db, username, PASSWORD, role)
    for seed in SEEDERS.values():
        seed(store, person, desk)
    return person


@pytest.fixture
def ann(store: Store) -> int:
    return make_person(store, "ann", "hq-d1")


@pytest.fixture
def bob(store: Store) -> int:
    return make_person(store, "bob", "hq-d2")
