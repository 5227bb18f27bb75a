"""`hub serve --role`: each role runs its own parts and nothing else; the worker settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from edge.protocol import subscription_for_hub
from hub.config import HubSettings
from hub.errors import ConfigError
from hub.server import HubServer
from tests.broker import Mosquitto, free_port


def settings(tmp_path: Path, port: int, **extra: object) -> HubSettings:
    return HubSettings(data_dir=tmp_path, mqtt_port=port, http_port=free_port(),
                       rollup_interval=0.2, **extra)  # type: ignore[arg-type]


def test_each_role_builds_only_its_parts(tmp_path: Path) -> None:
    parts = {}
    for role in ("all", "ingest", "aggregate", "api"):
        server = HubServer(settings(tmp_path, 1883), role=role)  # type: ignore[arg-type]
        parts[role] = ({type(p).__name__ for p in server.parts}, server.serves_http)
        server.store.close()
    assert parts["all"] == ({"Ingestor", "IndexingJob", "Rollupper", "CheckinJobs",
                             "RetentionJobs"}, True)
    assert parts["ingest"] == ({"Ingestor", "LivenessJob", "IndexingJob"}, False)
    assert parts["aggregate"] == ({"Rollupper", "CheckinJobs", "RetentionJobs"}, False)
    assert parts["api"] == (set(), True)
    with pytest.raises(ValueError, match="unknown hub role"):
        HubServer(settings(tmp_path, 1883), role="everything")  # type: ignore[arg-type]


def test_aggregator_leaves_agent_liveness_to_ingest(tmp_path: Path) -> None:
    """Only an ingest worker knows whether queued messages have arrived yet."""
    server = HubServer(settings(tmp_path, 1883), role="aggregate")
    try:
        assert server.rollupper is not None and server.rollupper.expire_agents is False
    finally:
        server.store.close()
    whole = HubServer(settings(tmp_path, 1883), role="all")
    try:
        assert whole.rollupper is not None and whole.rollupper.expire_agents is True
    finally:
        whole.store.close()


def test_aggregator_first_on_a_new_database_runs_every_job(tmp_path: Path) -> None:
    """No API process has created the account tables yet; the jobs must still run."""
    server = HubServer(settings(tmp_path, 1883), role="aggregate")
    try:
        assert server.retention is not None and server.checkin_jobs is not None
        assert server.rollupper is not None
        assert server.retention.tick()["sessions"] == 0
        assert server.checkin_jobs.tick()["vacant"] == 0
        assert server.rollupper.tick() == 0
    finally:
        server.store.close()


@pytest.mark.broker
def test_api_role_serves_http_without_a_broker_link(tmp_path: Path) -> None:
    server = HubServer(settings(tmp_path, free_port()), role="api")  # no broker listens there
    server.start()
    try:
        answer = httpx.get(f"{server.url}healthz", timeout=5.0)
        assert answer.status_code == 200
        assert answer.json()["broker"] == "unknown"  # stateless: it has no ingest to report
    finally:
        server.stop()


@pytest.mark.broker
def test_ingest_role_subscribes_as_its_worker_in_the_shared_group(
    tmp_path: Path, fresh_broker: Mosquitto
) -> None:
    server = HubServer(settings(tmp_path, fresh_broker.port, worker_name="w2",
                                mqtt_shared_group="deskpulse"), role="ingest")
    server.start()
    try:
        assert server.ingestor is not None and server.ingestor.wait_connected(10)
        assert server.ingestor.client_id == "deskpulse-hub-w2"
        with pytest.raises(httpx.ConnectError):  # no HTTP in an ingest worker
            httpx.get(server.url, timeout=1.0)
    finally:
        server.stop()


def test_shared_subscription_filters() -> None:
    plain = subscription_for_hub()
    shared = subscription_for_hub(shared_group="deskpulse")
    assert shared == [f"$share/deskpulse/{topic}" for topic in plain]
    assert all(topic.startswith("deskpulse/v1/+/+/") for topic in plain)


def test_worker_settings_and_client_ids() -> None:
    assert HubSettings().mqtt_client_id == "deskpulse-hub"  # the single hub's old session
    assert HubSettings(worker_name="ingest-3").mqtt_client_id == "deskpulse-hub-ingest-3"
    for bad in ("a/b", "#", "+", "x" * 41, "w 1"):
        with pytest.raises(ConfigError, match="worker_name"):
            HubSettings(worker_name=bad)
        with pytest.raises(ConfigError, match="mqtt_shared_group"):
            HubSettings(mqtt_shared_group=bad)


@pytest.mark.parametrize(("url", "expected"), [
    ("mqtt://broker.lan", ("broker.lan", 1883, False)),
    ("mqtts://broker.lan", ("broker.lan", 8883, True)),
    ("mqtts://10.0.0.5:9883", ("10.0.0.5", 9883, True)),
    ("mqtt://[::1]:1884/", ("::1", 1884, False)),
])
def test_mqtt_url_sets_host_port_and_tls(url: str, expected: tuple[str, int, bool]) -> None:
    s = HubSettings(mqtt_url=url)
    assert (s.mqtt_host, s.mqtt_port, s.mqtt_tls) == expected


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mqtt_url": "http://broker.lan"}, "must look like"),
    ({"mqtt_url": "mqtt://"}, "must look like"),
    ({"mqtt_url": "mqtt://hub:secret@broker.lan"}, "must not hold credentials"),
    ({"mqtt_url": "mqtt://broker.lan:99999"}, "not a valid URL"),
    ({"mqtt_url": "mqtt://broker.lan/topic"}, "path or query"),
    ({"mqtt_url": "mqtt://broker.lan", "mqtt_port": 1884}, "either mqtt_url or mqtt_port"),
])
def test_bad_mqtt_url_is_refused_with_a_reason(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HubSettings.from_toml(None, **kwargs)


def test_mqtt_url_from_toml_and_environment(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hub.toml"
    path.write_text('mqtt_url = "mqtts://broker.lan"\nmqtt_shared_group = "deskpulse"\n')
    monkeypatch.setenv("DESKPULSE_WORKER_NAME", "7")
    s = HubSettings.from_toml(path)
    assert (s.mqtt_host, s.mqtt_port, s.mqtt_tls) == ("broker.lan", 8883, True)
    assert s.mqtt_client_id == "deskpulse-hub-7" and s.mqtt_shared_group == "deskpulse"
