"""The privacy scan shared by the pipeline test and the demo test (PRIVACY.md item 1).

What a leak looks like: MAC-shaped text (``AA:BB:..`` with ``:``, ``-`` or ``_``), a
known address as hex or as raw bytes (either byte order), a device name, and the
forbidden field names in JSON; :class:`Capture` records every MQTT message a broker
routes (a plain paho subscriber on ``#``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

MAC = re.compile(rb"(?i)(?<![0-9a-f])[0-9a-f]{2}([:_-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}"
                 rb"(?![0-9a-f])")
FORBIDDEN_KEYS = {"mac", "rssi", "address", "name", "device_name", "local_name", "image"}
FORBIDDEN_COLUMNS = FORBIDDEN_KEYS - {"name"}  # sites, zones and desks have names
# JPEG and PNG, raw and base64-encoded: a camera frame or a picture of one.
IMAGE_MARKS = (b"\xff\xd8\xff", b"\x89PNG\r\n", b"/9j/", b"iVBORw0KGgo")


def images(blob: bytes) -> list[str]:
    """Every image signature in ``blob``."""
    return [f"image signature {mark!r}" for mark in IMAGE_MARKS if mark in blob]


class Capture:
    """A plain paho client on '#': every message the broker routes, retained ones too."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        self.client.on_connect = lambda c, *_: c.subscribe("#", 1)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(5)

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def leaks(blob: bytes, addresses: Collection[str], names: Collection[str]) -> list[str]:
    """Every way ``blob`` betrays a device: MAC-shaped text, an address's hex or raw
    bytes, a device name."""
    found = [f"MAC-shaped {m.group(0)!r}" for m in MAC.finditer(blob)]
    lower = blob.lower()
    for address in addresses:
        hexed = address.replace(":", "").lower().encode()
        raw = bytes.fromhex(address.replace(":", ""))
        if hexed in lower:
            found.append(f"hex of {address}")
        if raw in blob or raw[::-1] in blob:  # HCI sends addresses little-endian
            found.append(f"raw bytes of {address}")
    found.extend(f"name {n!r}" for n in names if n.encode().lower() in lower)
    return found


def forbidden_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        keys = {k.lower() for k in value} & FORBIDDEN_KEYS
        return keys.union(*(forbidden_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(forbidden_keys(v) for v in value))
    return set()
