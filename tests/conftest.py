"""Shared fixtures: real Mosquitto brokers and a throw-away PostgreSQL on free ports.

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
from typing import TYPE_CHECKING

import pytest

from tests.broker import Mosquitto
from tests.pg import PostgresCluster
from tests.smtp import SmtpServer, smtp_server

if TYPE_CHECKING:
    from hub.config import HubSettings
    from hub.db.protocol import Store
    from hub.ingest.ingestor import Ingestor

ENGINES = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("engine", ["sqlite"] if only_sqlite else list(ENGINES))


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


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest, for tests where logins are not the subject (the real cost
    is ~50 ms a hash, on purpose)."""
    from argon2 import PasswordHasher

    from hub.auth import accounts

    monkeypatch.setattr(accounts, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


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
