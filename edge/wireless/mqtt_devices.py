"""zigbee2mqtt and generic MQTT devices (ESPHome, Tasmota, Shelly) on a local broker.

The agent subscribes to each configured device's state topic and, for zigbee2mqtt, to its
``<base>/<friendly name>/availability`` topic. :func:`map_payload` turns a payload into
the desk sensor's value: a JSON object's configured ``field`` (``occupancy`` for a Hue
motion sensor, ``presence`` for an Aqara FP1E or a Tuya mmWave sensor, ``contact`` for a
door sensor), or the whole payload when no field is set (``ON`` / ``OFF`` from Tasmota or
ESPHome). ``offline`` on the availability topic makes the sensor unavailable, so the desk
goes ``unknown`` at the next poll; ``online`` or any new state makes it available again.

Payloads that do not parse are counted as faults and change nothing. A zigbee2mqtt state
carries ``linkquality`` and often ``battery``: kept as levels only. The IEEE address
(``0x00158d...``) is never configured here (devices are named by their friendly name)
and anything the broker sends besides the mapped field is dropped at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.wireless.channel import Channel, signal_level

__all__ = ["MqttDevice", "MqttDevices", "PayloadError", "map_payload"]

log = logging.getLogger(__name__)

ON_WORDS = frozenset({"on", "true", "1", "occupied", "present", "presence", "move",
                      "moving", "detected", "motion", "open", "yes"})
OFF_WORDS = frozenset({"off", "false", "0", "vacant", "absent", "none", "clear", "closed",
                       "no", "unoccupied", "no_motion"})
MAX_PAYLOAD = 16 * 1024


class PayloadError(ValueError):
    """A payload that says nothing usable about the configured field."""


def _word(value: object, on: str | None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if on is not None:
            return word == on.lower()
        if word in ON_WORDS:
            return True
        if word in OFF_WORDS:
            return False
    raise PayloadError(f"value of type {type(value).__name__} is not on/off")


def map_payload(payload: bytes, field: str | None, on_value: str | None = None
                ) -> tuple[bool | None, dict[str, Any]]:
    """(the value, or None when the field is absent, the JSON object or {}); raises
    :class:`PayloadError` with a reason for a payload that cannot be read."""
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError("payload larger than 16 KiB")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8") from None
    if field is None:
        if text.startswith("{"):
            raise PayloadError("a JSON object, but no field is configured for this sensor")
        try:
            value: object = json.loads(text)
        except ValueError:
            value = text
        return _word(value, on_value), {}
    try:
        doc = json.loads(text)
    except ValueError:
        raise PayloadError("payload is not JSON") from None
    if not isinstance(doc, dict):
        raise PayloadError("payload is not a JSON object")
    if field not in doc:
        return None, doc  # e.g. a battery-only report
    return _word(doc[field], on_value), doc


def availability(payload: bytes) -> bool | None:
    """zigbee2mqtt's availability: ``{"state": "online"}`` or legacy ``online``."""
    try:
        text = payload.decode("utf-8").strip()
        doc = json.loads(text) if text.startswith("{") else text
    except (UnicodeDecodeError, ValueError):
        return None
    state = doc.get("state") if isinstance(doc, dict) else doc
    if state == "online":
        return True
    if state == "offline":
        return False
    return None


@dataclass
class MqttDevice:
    """One configured device: its state topic, optional availability topic and mapping."""

    topic: str
    channel: Channel
    field: str | None = None
    on_value: str | None = None
    availability_topic: str | None = None
    invert: bool = False


class MqttDevices:
    """Routes messages from the local broker to channels; :meth:`handle` is pure-ish (no
    I/O) so tests and the simulator can call it directly; :meth:`start` connects paho."""

    def __init__(self, devices: list[MqttDevice], *, host: str = "127.0.0.1",
                 port: int = 1883, username: str | None = None,
                 password: str | None = None, client_id: str = "deskpulse-devices",
                 clock: Callable[[], float] | None = None) -> None:
        import time

        self.devices = devices
        self._state: dict[str, list[MqttDevice]] = {}
        self._availability: dict[str, list[MqttDevice]] = {}
        for device in devices:
            self._state.setdefault(device.topic, []).append(device)
            if device.availability_topic:
                self._availability.setdefault(device.availability_topic, []).append(device)
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.client_id = client_id
        self.clock = clock or time.time
        self.messages = 0
        self.faults = 0
        self._client: Any = None
        self.connected = threading.Event()

    @property
    def topics(self) -> list[str]:
        return sorted({*self._state, *self._availability})

    def handle(self, topic: str, payload: bytes, now: float) -> None:
        """One message; never raises (a bad payload is a counted fault)."""
        self.messages += 1
        for device in self._availability.get(topic, ()):
            state = availability(payload)
            if state is None:
                self._fault(device, "availability payload not understood")
            else:
                device.channel.set_available(state)
        for device in self._state.get(topic, ()):
            try:
                value, doc = map_payload(payload, device.field, device.on_value)
            except PayloadError as exc:
                self._fault(device, str(exc))
                continue
            quality, battery = doc.get("linkquality"), doc.get("battery")
            device.channel.levels(
                battery=float(battery) if isinstance(battery, int | float) else None,
                signal=signal_level(link_quality=float(quality))
                if isinstance(quality, int | float) else None)
            if value is None:
                device.channel.heard(now)
            else:
                device.channel.update(value != device.invert, now)

    def _fault(self, device: MqttDevice, reason: str) -> None:
        self.faults += 1
        device.channel.fault()
        if device.channel.faults == 1:
            log.warning("%s: %s (counted as a fault)", device.channel.what, reason)

    # -- paho ------------------------------------------------------------------------

    def start(self) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=True, protocol=paho.MQTTv311)
        client.suppress_exceptions = True
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_a: self.connected.set()  # SUBACK: messages flow
        client.on_disconnect = lambda *_a: self.connected.clear()
        client.on_message = lambda _c, _u, msg: self.handle(msg.topic, bytes(msg.payload),
                                                            self.clock())
        client.reconnect_delay_set(1, 30)
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()
        self._client = client

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any,
                    _props: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("device broker refused the connection: %s", reason)
            return
        topics = self.topics
        if topics:
            client.subscribe([(t, 1) for t in topics])
        else:
            self.connected.set()
        log.info("subscribed to %d device topic(s) on the device broker", len(topics))

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
