"""Shared fixtures: real Mosquitto brokers on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import Mosquitto


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
