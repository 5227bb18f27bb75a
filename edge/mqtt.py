"""Thin paho adapter: connection, birth and last-will, publish, PUBACKs, inbound messages.

The adapter keeps no queue of its own: the outbox is the queue. On every (re)connect it
drops whatever paho still holds from the previous connection (the agent re-sends from the
outbox instead), publishes the retained birth status and subscribes to the agent's config
and feedback topics. Callbacks run on paho's network thread, so they must be quick.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.config import MqttConfig
from edge.errors import ConfigError, ProtocolError
from edge.protocol import Message, Status, decode, encode, subscription_for_agent, topic_for

log = logging.getLogger(__name__)


def _ignore(*_args: object) -> None:
    return None


class MqttLink:
    """One agent's MQTT session (MQTT 3.1.1, clean session, automatic reconnect)."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        site: str,
        agent: str,
        boot: int,
        version: str,
        on_acked: Callable[[int], None] = _ignore,
        on_connected: Callable[[], None] = _ignore,
        on_disconnected: Callable[[], None] = _ignore,
        on_message: Callable[[Message], None] = _ignore,
        max_inflight: int = 20,
        reconnect_max_seconds: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.site = site
        self.agent = agent
        self.boot = boot
        self.version = version
        self.status_topic = topic_for(site, agent, "status")
        self._on_acked = on_acked
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_message = on_message
        self._clock = clock
        self._connected = threading.Event()
        self._subscribed = threading.Event()

        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"deskpulse-{site}-{agent}",
            clean_session=True,
            protocol=paho.MQTTv311,
        )
        client.suppress_exceptions = True  # a bug in a callback must not kill the loop thread
        if log.isEnabledFor(logging.DEBUG):  # paho's own log is noisy above DEBUG
            client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        client.will_set(self.status_topic, encode(Status(online=False, boot=boot)), 1, True)
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls:
            try:
                client.tls_set(ca_certs=str(config.ca_file) if config.ca_file else None)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"mqtt.ca_file '{config.ca_file}' cannot be loaded ({exc}): check the path"
                ) from None
        client.reconnect_delay_set(1, reconnect_max_seconds)
        # Room for our own in-flight rows plus the birth/offline status.
        client.max_inflight_messages_set(max_inflight + 2)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_publish = self._handle_publish
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        self._client = client

    @property
    def connected(self) -> bool:
        """True between a successful CONNACK and the next disconnect."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """True once the broker accepted the connection (within ``timeout`` seconds)."""
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """True once the broker acknowledged the config/feedback subscription."""
        return self._subscribed.wait(timeout)

    def start(self) -> None:
        """Connect in the background; paho's thread retries until the broker answers."""
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> int | None:
        """Hand one message to paho; returns its mid, or None if it was not sent."""
        if not self.connected:
            return None
        info = self._client.publish(topic, payload, qos, retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("publish on %s not sent: %s", topic, paho.error_string(info.rc))
            return None
        return info.mid

    def stop(self, timeout: float = 2.0) -> None:
        """Say "offline" ourselves (a clean DISCONNECT suppresses the will), then disconnect.

        If the broker did not acknowledge "offline", the socket is closed without a
        DISCONNECT instead, so that the broker publishes the will.
        """
        sent = False
        if self.connected:
            offline = encode(Status(online=False, boot=self.boot))
            info = self._client.publish(self.status_topic, offline, 1, True)
            try:
                info.wait_for_publish(timeout)
                sent = info.is_published()
            except (RuntimeError, ValueError):
                sent = False
        self._connected.clear()
        self._subscribed.clear()
        if sent:
            self._client.disconnect()
            self._client.loop_stop()
            return
        log.warning("offline status not acknowledged; leaving it to the broker's last will")
        self._client.loop_stop()
        sock = self._client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    # -- paho callbacks (network thread) -------------------------------------------

    def _handle_connect(
        self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("broker %s:%d refused the connection: %s",
                        self.config.host, self.config.port, reason)
            return
        stale = client.drop_out_messages()  # the outbox re-sends them; no double delivery
        if stale:
            log.debug("dropped %d unacknowledged publishes from the last connection", len(stale))
        birth = Status(online=True, boot=self.boot, version=self.version)
        client.publish(self.status_topic, encode(birth), 1, True)
        client.subscribe([(topic, 1) for topic in subscription_for_agent(self.site, self.agent)])
        log.info("connected to %s:%d as deskpulse-%s-%s (boot %d)",
                 self.config.host, self.config.port, self.site, self.agent, self.boot)
        self._connected.set()
        self._call(self._on_connected)

    def _handle_disconnect(
        self, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        was_connected = self.connected
        self._connected.clear()
        self._subscribed.clear()
        if was_connected:
            log.warning("disconnected from the broker (%s); reconnecting", reason)
            self._call(self._on_disconnected)

    def _handle_subscribe(
        self, _client: paho.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.warning("broker refused the subscription to config/feedback: check the ACL")
            return
        self._subscribed.set()

    def _handle_publish(
        self, _client: paho.Client, _userdata: Any, mid: int, _reason: Any, _props: Any
    ) -> None:
        self._call(self._on_acked, mid)

    def _handle_message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        if not msg.payload:
            log.debug("empty (cleared) retained message ignored")
            return
        try:
            message = decode(msg.topic, bytes(msg.payload), now=self._clock())
        except ProtocolError as exc:
            log.warning("dropped an invalid message from the hub: %s", exc)
            return
        except UnicodeDecodeError:
            log.warning("dropped a message on a topic that is not UTF-8")
            return
        self._call(self._on_message, message)

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("callback %s failed", getattr(callback, "__name__", callback))
