"""Shared fixtures: real Mosquitto brokers and a throw-away PostgreSQL on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import Mosquitto
from tests.pg import PostgresCluster


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
