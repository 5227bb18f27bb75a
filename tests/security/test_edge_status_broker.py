"""``deskpulse edge status --broker`` against the real deploy/mosquitto configuration
(TLS, password file, ACL): accepted, refused, wrong certificate, nothing listening; and a
running agent's session is left alone."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.cli import main
from tests.broker import Mosquitto, free_port
from tests.support.secure_broker import SecureBroker


def edge_toml(tmp_path: Path, broker: SecureBroker, password: str, *, port: int | None = None,
              tls: bool = True, ca: Path | None = None) -> Path:
    mqtt_lines = ["host = \"127.0.0.1\"", f"port = {port or broker.tls_port}",
                  "username = \"pi-status\"", f"password = {json.dumps(password)}",
                  f"tls = {'true' if tls else 'false'}"]
    if ca is not None:
        mqtt_lines.append(f"ca_file = {json.dumps(str(ca))}")
    path = tmp_path / "edge.toml"
    path.write_text(
        f'site = "hq"\nagent = "pi-status"\ndata_dir = {json.dumps(str(tmp_path / "data"))}\n'
        "[mqtt]\n" + "\n".join(mqtt_lines) + "\n\n"
        '[[desks]]\nid = "hq-d1"\nzone = "hq-z1"\nsensor = "file:/run/deskpulse/hq-d1"\n')
    return path


@pytest.fixture(scope="module")
def password(secure_broker: SecureBroker) -> str:
    return secure_broker.add("pi-status", "hq")


def run(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["status", "--config", str(config), "--broker"])
    return code, capsys.readouterr().out


def test_the_agents_own_credentials_are_accepted(
    secure_broker: SecureBroker, password: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    config = edge_toml(tmp_path, secure_broker, password, ca=secure_broker.ca)
    code, out = run(config, capsys)
    assert code == 0, out
    assert f"Broker 127.0.0.1:{secure_broker.tls_port} (TLS): reachable, credentials accepted" \
        in out


@pytest.mark.parametrize(("case", "expected"), [
    ("wrong password", ("credentials refused (", "check mqtt.username and mqtt.password")),
    ("untrusted certificate", ("TLS failed (", "check mqtt.ca_file")),  # the system's CAs
    ("nothing listening", ("cannot connect (", "is the broker running?")),
])
def test_a_failed_check_says_what_to_check_and_exits_1(
    secure_broker: SecureBroker, password: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], case: str, expected: tuple[str, str]
) -> None:
    settings: dict[str, Any] = {
        "wrong password": {"password": password + "x", "ca": secure_broker.ca},
        "untrusted certificate": {"password": password, "ca": None},
        "nothing listening": {"password": password, "port": free_port(), "tls": False},
    }[case]
    code, out = run(edge_toml(tmp_path, secure_broker, **settings), capsys)
    assert code == 1
    assert all(text in out for text in expected), out
    assert out.count("warning: the broker check failed") == 1


def warning_line(out: str) -> str:
    (line,) = [x for x in out.splitlines() if x.startswith("warning: the broker check")]
    return line


def test_refused_credentials_are_named_in_one_line(
    secure_broker: SecureBroker, password: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(edge_toml(tmp_path, secure_broker, password + "x", ca=secure_broker.ca),
                    capsys)
    assert code == 1
    assert warning_line(out) == (
        "warning: the broker check failed: credentials refused (Not authorized): check "
        "mqtt.username and mqtt.password against `deskpulse hub agents add`")


@pytest.mark.parametrize("problem", ["missing", "a directory", "not a certificate"])
def test_a_ca_file_that_cannot_be_used_is_named_before_connecting(
    secure_broker: SecureBroker, password: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], problem: str
) -> None:
    """Not "cannot connect (No such file or directory): check mqtt.host": the CA file."""
    ca = tmp_path / "ca.crt"
    if problem == "a directory":
        ca.mkdir()
    elif problem == "not a certificate":
        ca.write_text("this is the key, not the certificate\n")
    code, out = run(edge_toml(tmp_path, secure_broker, password, ca=ca), capsys)
    assert code == 1
    assert warning_line(out) == "warning: the broker check failed: " + {
        "missing": f"the CA file {ca} does not exist: copy the hub's ca.crt there "
                   "(deploy/mosquitto) or fix mqtt.ca_file",
        "a directory": f"the CA file {ca} cannot be read (Is a directory): let the agent's "
                       "user read it (chmod 644, or chgrp deskpulse)",
        "not a certificate": f"the CA file {ca} is not a PEM certificate: copy the hub's "
                             "ca.crt there again",
    }[problem]


def test_a_broker_that_lets_anybody_in_is_not_reported_as_accepting_the_credentials(
    broker: Mosquitto, secure_broker: SecureBroker, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """tests/broker.py's Mosquitto allows anonymous clients: any password gets in."""
    config = edge_toml(tmp_path, secure_broker, "whatever-password", port=broker.port,
                       tls=False)
    code, out = run(config, capsys)
    assert code == 1, out
    assert "credentials accepted" not in out
    assert warning_line(out) == (
        "warning: the broker check failed: the broker accepts any password (anonymous "
        "access): the credentials were not checked; set allow_anonymous false and a "
        "password_file (deploy/mosquitto)")


def test_the_check_leaves_a_running_agents_session_alone(
    secure_broker: SecureBroker, password: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """The agent connects as deskpulse-hq-pi-status; a second client with that id would
    make the broker drop the agent's connection."""
    dropped = threading.Event()
    connected = threading.Event()
    agent = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="deskpulse-hq-pi-status",
                        protocol=mqtt.MQTTv311)
    agent.username_pw_set("pi-status", password)
    agent.tls_set(ca_certs=str(secure_broker.ca))

    def on_connect(*_args: Any) -> None:
        connected.set()

    def on_disconnect(*_args: Any) -> None:
        dropped.set()

    agent.on_connect = on_connect
    agent.on_disconnect = on_disconnect
    agent.connect("127.0.0.1", secure_broker.tls_port)
    agent.loop_start()
    try:
        assert connected.wait(5)
        code, out = run(edge_toml(tmp_path, secure_broker, password, ca=secure_broker.ca),
                        capsys)
        assert code == 0, out
        assert not dropped.wait(1.0), "the status check knocked the agent off the broker"
    finally:
        agent.disconnect()
        agent.loop_stop()
