"""Test helpers for the edge agent: a settable sensor and a plain paho subscriber."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import AgentConfig
from edge.protocol import Message, decode
from edge.sensors.base import Presence, Reading

T = TypeVar("T")


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class ScriptedSensor:
    """A sensor whose presence the test sets; ``error`` makes read() raise."""

    def __init__(self, presence: Presence = "absent") -> None:
        self.presence: Presence = presence
        self.error: Exception | None = None

    def read(self, now: float) -> Reading:
        if self.error is not None:
            raise self.error
        return Reading(now, self.presence)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    def decoded(self) -> Message:
        return decode(self.topic, self.payload, now=time.time())


class Subscriber:
    """A plain paho client that records every message on ``topic`` (QoS 1).

    With ``client_id`` set it keeps a persistent session, so the broker queues messages
    for it while it is disconnected (e.g. across a broker restart)."""

    def __init__(self, port: int, topic: str, client_id: str | None = None) -> None:
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or "",
            clean_session=client_id is None,
            protocol=paho.MQTTv311,
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, 1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self._subscribed.wait(5), "subscription not acknowledged"

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def wait_for(self, find: Callable[[list[Received]], T | None], timeout: float = 10.0) -> T:
        """Wait until ``find(messages)`` returns something other than None/False."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = find(list(self.messages))
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    shown = [(m.topic.rsplit("/", 1)[-1], m.payload[:80]) for m in self.messages]
                    raise AssertionError(f"timed out; received {shown}")
                self._cond.wait(remaining)

    def of_kind(self, kind: str) -> list[Message]:
        with self._cond:
            return [m.decoded() for m in self.messages if m.topic.endswith("/" + kind)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


ConfigFactory = Callable[..., AgentConfig]


REPO = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, port: int, site: str, agent: str, sensor: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        f'site = "{site}"\nagent = "{agent}"\ndata_dir = "data"\n'
        "poll_seconds = 0.1\nhold_seconds = 0.3\n"
        f"[mqtt]\nport = {port}\nkeepalive = 1\n"
        f'[[desks]]\nid = "d1"\nzone = "z1"\nsensor = "{sensor}"\n'
    )
    return path
