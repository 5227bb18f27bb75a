"""The simulator's command line: files it writes, one-line errors, and a real fleet process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import MqttConfig
from edge.protocol import Status, decode
from firmware_sim.building import generate_building
from firmware_sim.cli import UsageError, main, parse_mqtt_url
from tests.broker import Mosquitto


def test_building_writes_the_hub_import_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    out = tmp_path / "building.json"
    assert main(["building", "--seed", "4", "--desks", "24", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == generate_building(seed=4, desks=24).to_dict()
    assert f"wrote 24 desks, 4 agents to {out}" in capsys.readouterr().out
    assert main(["building", "--seed", "4", "--desks", "24", "--out", "-"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(out.read_text())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["building", "--site", "Main Office", "--out", "-"],
         "error: site_id must match [a-z0-9-]{1,51}\n"),
        (["building", "--timezone", "Nowhere/City", "--out", "-"],
         "error: unknown time zone 'Nowhere/City'\n"),
        (["fleet", "--building", "nope.json", "--data", "d"], "error: nope.json: file not found\n"),
        (["fleet", "--building", "nope.json", "--data", "d", "--speed", "0.5"],
         "error: --speed must be between 1 and 1000000\n"),
        (["fleet", "--building", "nope.json", "--data", "d", "--mqtt", "http://x"],
         "error: --mqtt must look like mqtt://host:port or mqtts://host:port\n"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == message


def test_a_broken_building_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    bad = tmp_path / "b.json"
    bad.write_text('{"sites": [{"id": "x"}]}')
    assert main(["fleet", "--building", str(bad), "--data", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "error: site x: missing field 'timezone'\n"
    bad.write_text("{not json")
    assert main(["fleet", "--building", str(bad), "--data", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {bad}: not valid JSON\n"


def test_mqtt_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESKPULSE_MQTT_PASSWORD", raising=False)
    assert parse_mqtt_url("mqtt://broker.local") == MqttConfig(host="broker.local", port=1883)
    assert parse_mqtt_url("mqtts://a%40b:p%3Aw@h:8884") == MqttConfig(
        host="h", port=8884, username="a@b", password="p:w", tls=True)
    monkeypatch.setenv("DESKPULSE_MQTT_PASSWORD", "s3cret-value")
    assert parse_mqtt_url("mqtts://agent@h").password == "s3cret-value"
    assert parse_mqtt_url("mqtts://agent@h").port == 8883
    with pytest.raises(UsageError, match="needs a user name"):
        parse_mqtt_url("mqtt://h:1883")
    with pytest.raises(UsageError, match="port must be a number"):
        parse_mqtt_url("mqtt://h:99999")
    with pytest.raises(UsageError, match="no path"):
        parse_mqtt_url("mqtt://h:1883/topic")


@pytest.mark.broker
def test_fleet_process_publishes_until_interrupted(broker: Mosquitto, tmp_path: Path) -> None:
    site = f"cli-{uuid.uuid4().hex[:8]}"
    building = tmp_path / "building.json"
    assert main(["building", "--site", site, "--desks", "4", "--floors", "1",
                 "--desks-per-agent", "2", "--out", str(building)]) == 0
    status: dict[str, Status] = {}
    desks: list[str] = []
    births = threading.Event()

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        message = decode(msg.topic, bytes(msg.payload), now=time.time())
        if isinstance(message, Status):
            status[msg.topic.split("/")[3]] = message
            if sum(s.online for s in status.values()) == 2:
                births.set()
        else:
            desks.append(msg.topic)

    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.subscribe(f"deskpulse/v1/{site}/+/#", 1)
    client.loop_start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware_sim.cli", "fleet", "--building", str(building),
         "--mqtt", broker.url, "--data", str(tmp_path / "data"), "--since", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert births.wait(15), proc.stderr
        deadline = time.monotonic() + 10
        while len(desks) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        time.sleep(0.2)
        client.loop_stop()
        client.disconnect()
    assert proc.returncode == 0, err
    assert "running 2 agents for 4 desks" in out
    assert {t.split("/")[3] for t in desks} == {f"{site}-agent-01", f"{site}-agent-02"}
    assert sorted(status) == [f"{site}-agent-01", f"{site}-agent-02"]
    assert not any(s.online for s in status.values())  # each said "offline" on the way out
