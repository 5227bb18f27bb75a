"""A real edge Agent and the hub's Ingestor, each with its own provisioned account, deliver
desk states over TLS through Mosquitto run from deploy/mosquitto."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.config import AgentConfig
from edge.sensors.base import Reading
from hub.admin import provision
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from hub.ingest.ingestor import Ingestor
from tests.support.secure_broker import SecureBroker, connect, wait_until

pytestmark = pytest.mark.broker
SITE, AGENT = "tls-site", "tls-pi-1"
BUILDING = {"sites": [{"id": SITE, "name": "TLS", "timezone": "UTC", "floors": [
    {"id": "f1", "name": "F1", "zones": [{"id": "z1", "name": "Z1", "desks": [
        {"id": "tls-d1", "name": "D1", "agent": AGENT},
        {"id": "tls-d2", "name": "D2", "agent": AGENT}]}]}]}]}


class Present:
    def read(self, now: float) -> Reading:
        return Reading(now, "present")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "hub" / "deskpulse.db")
    store.import_building(BUILDING)
    yield store
    store.close()


def test_agent_and_hub_deliver_desks_over_tls_with_their_own_accounts(
    secure_broker: SecureBroker, store: SqliteStore, tmp_path: Path
) -> None:
    password, text = provision.add_agent(
        AGENT, SITE, passwd_file=secure_broker.passwd, acl_file=secure_broker.acl,
        broker_host="127.0.0.1", broker_port=secure_broker.tls_port, tls=True,
        ca_file=secure_broker.ca, desks=provision.agent_desks(store.db, AGENT, SITE))
    secure_broker.reload()
    assert wait_until(lambda: connect(secure_broker, AGENT, password).ok, 5)
    (tmp_path / "edge.toml").write_text(text)
    config = dataclasses.replace(AgentConfig.from_toml(tmp_path / "edge.toml"),
                                 data_dir=tmp_path / "edge")
    assert config.mqtt.tls and config.mqtt.ca_file == secure_broker.ca

    settings = HubSettings(
        data_dir=tmp_path / "hub", mqtt_port=secure_broker.tls_port,
        mqtt_username=provision.HUB_ACCOUNT, mqtt_password=secure_broker.hub_password,
        mqtt_tls=True, mqtt_ca_file=secure_broker.ca)
    ingestor = Ingestor(settings, store, client_id="tls-e2e-hub")
    agent = Agent(config, {desk.id: Present() for desk in config.desks}, radio=False)
    try:
        ingestor.start()
        assert ingestor.wait_connected(10), secure_broker.log.read_text()
        agent.start()
        assert agent.wait_connected(10), secure_broker.log.read_text()
        agent.step(time.time())

        def states() -> dict[str, str]:
            return {d["id"]: d["state"] for d in store.desks(SITE)}

        assert wait_until(lambda: set(states().values()) == {"occupied"}, 10), states()
        assert ingestor.stats["dead"] == 0
    finally:
        agent.stop()
        ingestor.stop()


def test_the_hub_refuses_to_start_with_an_unreadable_ca_file(tmp_path: Path) -> None:
    from hub.errors import ConfigError

    store = SqliteStore(tmp_path / "db.sqlite")
    settings = HubSettings(data_dir=tmp_path, mqtt_tls=True, mqtt_ca_file=tmp_path / "none.crt")
    try:
        with pytest.raises(ConfigError, match="mqtt_ca_file"):
            Ingestor(settings, store)
    finally:
        store.close()
