"""Every shared fixture of the suite: real Mosquitto brokers and a throw-away PostgreSQL on
free ports, the hub's settings/store/app/client over the small building of
tests/support/building.py, and argon2 at its cheapest unless a test is about hashing.

Helpers that tests import (BUILDING, Desks, csrf_from, login, ...) live in tests/support/;
no test module imports a conftest or another test module (tests/test_suite_layout.py).

The functional suites (tests/api, tests/checkin, tests/privacy) run on both store engines:
a test whose fixtures reach ``engine`` (through ``settings``/``store``) runs once on SQLite
and once on a PostgreSQL database of its own. ``@pytest.mark.sqlite_only`` keeps a test on
SQLite; say why next to it (it opens the SQLite file itself, or nothing in it touches the
database).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.broker import Mosquitto
from tests.pg import PostgresCluster
from tests.smtp import SmtpServer, smtp_server
from tests.support.building import BUILDING, Desks
from tests.support.web import SECRET

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from hub.config import HubSettings
    from hub.db.protocol import Store
    from hub.ingest.ingestor import Ingestor

ENGINES = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("engine", ["sqlite"] if only_sqlite else list(ENGINES))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups for ``pytest -n N --dist loadgroup`` (`make test`): a test module whose tests
    share a module-scoped fixture (a Chromium, a secure broker, a watched demo) runs on one
    worker, so the fixture is built once, not once per worker. An explicit
    ``pytest.mark.xdist_group`` wins: "timing" holds the tests that measure time, so they
    never run next to each other; "faults" keeps the fault-injection suite in sequence."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(d and d[-1].scope == "module" for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


@pytest.fixture
def engine() -> str:
    """The store engine of this test; parametrised by pytest_generate_tests above."""
    return "sqlite"


@pytest.fixture
def database_url(engine: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None on SQLite (the settings' file); on PostgreSQL a new database of this test's own
    with the hub schema, dropped after the test."""
    if engine != "postgres":
        yield None
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    url = cluster.create_hub_database()
    yield url
    cluster.drop_database(url)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One Mosquitto for the whole session; tests must use their own topics/sites."""
    proc = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto of this test's own, which the test may stop, kill and restart."""
    proc = Mosquitto(tmp_path / "broker")
    proc.workdir.mkdir()
    proc.start()
    yield proc
    proc.kill()


@pytest.fixture(autouse=True)
def cheap_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest for every test where logins are not the subject (the real cost
    is ~50 ms a hash, on purpose, and signing in is most of many web tests' time).
    ``@pytest.mark.real_argon2`` keeps the production parameters: tests of hashing itself
    and of the login rate limit, whose race window is the hashing time."""
    from argon2 import PasswordHasher

    from hub.auth import accounts

    # The unknown-user dummy hash is cached per process: each test makes its own, with
    # this test's hasher, so a cheap one never leaks into a real_argon2 test.
    monkeypatch.setattr(accounts, "_dummy_hash", None)
    if request.node.get_closest_marker("real_argon2") is None:
        monkeypatch.setattr(accounts, "_hasher",
                            PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


# -- the hub over the small building (tests/support/building.py) -------------------------

@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> HubSettings:
    """Hub settings with a data dir of this test's own, on this test's engine."""
    from hub.config import HubSettings

    return HubSettings(data_dir=tmp_path / "hub", secret_key=SECRET, database_url=database_url)


@pytest.fixture
def store(settings: HubSettings) -> Iterator[Store]:
    """The hub store on this test's engine, with the small building and the account tables."""
    from hub.auth import accounts
    from hub.db.engines import open_store

    store = open_store(settings.store_url)
    store.import_building(BUILDING)
    accounts.ensure_schema(store.db)
    yield store
    store.close()


@pytest.fixture
def desks(store: Store) -> Desks:
    return Desks(store)


@pytest.fixture
def broker_state() -> dict[str, Any]:
    """What the app's ingest probe reports; tests may change it."""
    return {"broker": "connected"}


@pytest.fixture
def app(settings: HubSettings, store: Store, broker_state: dict[str, Any]) -> FastAPI:
    from hub.api.app import create_app

    return create_app(settings, store, ingest_status=lambda: dict(broker_state))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def token(store: Store) -> str:
    """A manager's API token."""
    from hub.auth import accounts

    return accounts.create_api_token(store.db, "tests", role="manager")


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(store: Store) -> dict[str, str]:
    """An admin's API token, as request headers."""
    from hub.auth import accounts

    return {"Authorization": f"Bearer {accounts.create_api_token(store.db, 'ops', 'admin')}"}


@pytest.fixture
def manager(store: Store) -> tuple[str, str]:
    """A manager account: (username, password)."""
    from hub.auth import accounts

    accounts.create_user(store.db, "mia", "correct horse battery", "manager")
    return "mia", "correct horse battery"


@pytest.fixture
def ingestor(fresh_broker: Mosquitto, settings: HubSettings, store: Store) -> Iterator[Ingestor]:
    """A real Ingestor on this test's own broker, writing to the suite's ``store`` (the
    ``settings``/``store`` fixtures of tests/api, tests/checkin or tests/privacy)."""
    from hub.ingest.ingestor import Ingestor

    ingestor = Ingestor(settings.model_copy(update={"mqtt_port": fresh_broker.port}), store,
                        client_id=f"hub-{uuid.uuid4().hex[:8]}")
    ingestor.start()
    assert ingestor.wait_connected(5)
    yield ingestor
    ingestor.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster (initdb in a temp dir) for the session; never the system one."""
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(postgres: PostgresCluster) -> str:
    """A new, empty database of this test's own on the session's cluster."""
    return postgres.create_database()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real local SMTP server (aiosmtpd) for this test; see tests/smtp.py."""
    with smtp_server() as server:
        yield server
