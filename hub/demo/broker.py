"""A local MQTT broker for `deskpulse demo`: Mosquitto when installed, else amqtt in-process.

Production and tests use a real Mosquitto with per-agent credentials (deploy/mosquitto);
this module exists so that one command shows the whole system on a bare machine. Both
brokers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from hub.errors import DeskpulseError

log = logging.getLogger(__name__)


class BrokerError(DeskpulseError):
    """The local demo broker could not start."""


class LocalBroker(Protocol):
    kind: str
    port: int

    def stop(self) -> None: ...


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pick_port(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` when it is free, otherwise (or when it is 0) any free port."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


class MosquittoBroker:
    """A private mosquitto process with a generated config in ``workdir``."""

    kind = "mosquitto"

    def __init__(self, binary: str, workdir: Path, port: int) -> None:
        self.port = port
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\n"
            "allow_anonymous true\n"
            f"user {getpass.getuser()}\n"  # keep write access to our own workdir
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 100000\n"
            f"log_dest file {workdir}/mosquitto.log\n"
        )
        # Its own session: a Ctrl-C in the terminal reaches the demo, which stops the
        # agents (they say goodbye through this broker) before it stops the broker.
        self.proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not wait_listening(port, 10):
            self.stop()
            raise BrokerError(f"mosquitto did not start on port {port}; see {workdir}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class AmqttBroker:
    """amqtt (MQTT 3.1.1) on its own event loop in a daemon thread."""

    kind = "amqtt (embedded)"

    def __init__(self, port: int) -> None:
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._broker: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="amqtt", daemon=True)
        self._thread.start()
        if not self._ready.wait(15) or self._error is not None:
            raise BrokerError(f"the embedded MQTT broker did not start: {self._error}")

    def _run(self) -> None:
        from amqtt.broker import Broker

        asyncio.set_event_loop(self._loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        try:
            self._broker = Broker(config, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        with contextlib.suppress(Exception):
            future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def start_local_broker(workdir: Path, preferred_port: int = 1883,
                       prefer_mosquitto: bool = True) -> LocalBroker:
    """Start mosquitto if it is on PATH (and wanted), else the embedded amqtt broker."""
    port = pick_port(preferred_port)
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if prefer_mosquitto and binary:
        return MosquittoBroker(binary, workdir, port)
    return AmqttBroker(port)
