"""A real Mosquitto started from deploy/mosquitto (paths and ports moved into tmp), plus
MQTT client helpers that report what the broker answered instead of raising."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.support.secure_broker import SecureBroker


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    if shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto_passwd is not installed (package mosquitto)")
    broker = SecureBroker(tmp_path_factory.mktemp("secure-broker")).start()
    yield broker
    broker.stop()
