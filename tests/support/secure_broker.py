"""A real Mosquitto started from deploy/mosquitto (paths and ports moved into tmp), plus
MQTT client helpers that report what the broker answered instead of raising."""

from __future__ import annotations

import getpass
import importlib.util
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.admin import provision
from tests.broker import free_port, wait_for_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


def load_make_certs() -> ModuleType:
    """deploy/mosquitto/make_certs.py is a script, not a package module: load it by path."""
    spec = importlib.util.spec_from_file_location("make_certs", DEPLOY / "make_certs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replace_once(text: str, old: str, new: str) -> str:
    """The deploy file must still contain ``old``: the test runs that very configuration."""
    assert text.count(old) == 1, f"deploy/mosquitto/mosquitto.conf no longer has {old!r}"
    return text.replace(old, new)


@dataclass
class SecureBroker:
    workdir: Path
    plain_port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    hub_password: str = ""

    @property
    def passwd(self) -> Path:
        return self.workdir / "deskpulse.passwd"

    @property
    def acl(self) -> Path:
        return self.workdir / "deskpulse.acl"

    @property
    def certs(self) -> Path:
        return self.workdir / "certs"

    @property
    def ca(self) -> Path:
        return self.certs / "ca.crt"

    @property
    def log(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_conf(self) -> Path:
        text = (DEPLOY / "mosquitto.conf").read_text()
        for old, new in [
            ("/etc/mosquitto/deskpulse.passwd", str(self.passwd)),
            ("/etc/mosquitto/deskpulse.acl", str(self.acl)),
            ("/etc/mosquitto/certs/ca.crt", str(self.certs / "ca.crt")),
            ("/etc/mosquitto/certs/server.crt", str(self.certs / "server.crt")),
            ("/etc/mosquitto/certs/server.key", str(self.certs / "server.key")),
            ("/var/lib/mosquitto/", f"{self.workdir}/"),
            ("listener 1883 127.0.0.1\n", f"listener {self.plain_port} 127.0.0.1\n"),
            ("listener 8883\n", f"listener {self.tls_port} 127.0.0.1\n"),
        ]:
            text = _replace_once(text, old, new)
        # As root mosquitto would switch to user "mosquitto", who cannot read our tmp files.
        text = f"user {getpass.getuser()}\nlog_dest file {self.log}\n" + text
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(text)
        return conf

    def start(self) -> SecureBroker:
        load_make_certs().make_all(self.certs)
        shutil.copy(DEPLOY / "acl", self.acl)
        password = provision.ensure_hub_account(passwd_file=self.passwd, acl_file=self.acl)
        assert password is not None
        self.hub_password = password
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([binary, "-c", str(self.write_conf())],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.plain_port)
        wait_for_port(self.tls_port)
        return self

    def add(self, name: str, site: str) -> str:
        """Provision an agent and reload the broker; returns its password."""
        password, _ = provision.add_agent(
            name, site, passwd_file=self.passwd, acl_file=self.acl, broker_host="127.0.0.1",
            broker_port=self.tls_port, tls=True, ca_file=self.ca)
        self.reload()
        assert wait_until(lambda: connect(self, name, password).ok, 5), self.log.read_text()
        return password

    def reload(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def wait_until(check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


class Client:
    """A paho client that records the CONNACK, SUBACKs and messages it got."""

    def __init__(self, username: str | None, password: str | None, *,
                 ca: Path | None = None, tls: bool = False) -> None:
        self.done = threading.Event()
        self.ok = False
        self.reason = "no answer"
        self.messages: list[tuple[str, bytes]] = []
        self.subacks: list[list[Any]] = []
        self._suback = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"sec-{username}-{time.time_ns()}",
                                  protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=str(ca) if ca else None)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.ok = not reason.is_failure
        self.reason = str(reason)
        self.done.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self.done.is_set():
            self.reason = f"disconnected: {reason}"
        self.done.set()

    def _on_subscribe(self, _c: Any, _u: Any, _m: int, reasons: Any, _p: Any) -> None:
        self.subacks.append(list(reasons))
        self._suback.set()

    def connect(self, port: int, timeout: float = 5.0) -> Client:
        try:
            self.client.connect("127.0.0.1", port, keepalive=10)
        except OSError as exc:  # e.g. the TLS handshake failed
            self.reason = f"{type(exc).__name__}: {exc}"
            self.done.set()
            return self
        self.client.loop_start()
        self.done.wait(timeout)
        return self

    def subscribe(self, *topics: str) -> list[Any]:
        self._suback.clear()
        self.client.subscribe([(t, 1) for t in topics])
        assert self._suback.wait(5), "no SUBACK"
        return self.subacks[-1]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def wait_for(self, topic: str, timeout: float = 5.0) -> bytes | None:
        found = wait_until(lambda: [p for t, p in self.messages if t == topic], timeout)
        return found[0] if found else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(broker: SecureBroker, username: str | None, password: str | None, *,
            tls: bool = False, ca: Path | None = None, port: int | None = None) -> Client:
    """Connect and disconnect again; the Client says whether the broker accepted it."""
    default = broker.tls_port if tls else broker.plain_port
    client = Client(username, password, tls=tls, ca=ca).connect(port or default)
    client.close()
    return client
