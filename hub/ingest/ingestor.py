"""MQTT ingest: broker -> decode -> one store transaction per batch -> ack. At-least-once.

The hub's session is persistent (``clean_session=False``, a stable client id), so QoS 1
messages queue at the broker while the hub is down. Acknowledgements are manual and
are sent only after the batch that holds the message has committed, so a crash before
the commit makes the broker deliver again; the store drops the second copy by
``(agent, boot, seq)``. ``on_message`` never blocks: it only puts the message on a queue
for the writer thread.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.protocol import (
    CheckinsMessage,
    Topic,
    decode,
    parse_topic,
    subscription_for_hub,
)
from hub.checkin.badges import ConfigPublisher
from hub.checkin.service import handle_scans
from hub.config import HubSettings
from hub.db.apply import ClockPolicy, safe_topic
from hub.db.protocol import Store, is_transient
from hub.db.sqlite.store import Incoming
from hub.errors import ConfigError, ProtocolError
from hub.ingest.fast_decode import decode_desks
from hub.ingest.mqtt_client import HubClient

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.2
_PAUSE_SECONDS = 0.002  # a gap in deliveries this long ends a batch
MAX_ATTEMPTS = 4
RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 10.0


class _Received(NamedTuple):  # a tuple: made for every message on the network thread
    topic: str
    payload: bytes
    mid: int
    qos: int
    received: float
    session: int  # connection number: an ack belongs to the connection that delivered it
    attempts: int = 0


_TOPICS_CACHED = 65_536
_topics: dict[str, Topic] = {}  # topic strings parse to the same Topic every time


def _parse_topic(topic: str) -> Topic:
    """:func:`edge.protocol.parse_topic`, remembered (a bad topic raises every time)."""
    parsed = _topics.get(topic)
    if parsed is None:
        parsed = parse_topic(topic)
        if len(_topics) >= _TOPICS_CACHED:
            _topics.clear()
        _topics[topic] = parsed
    return parsed


class Ingestor:
    """Subscribes to every edge -> hub topic and writes what arrives to the store."""

    def __init__(
        self, settings: HubSettings, store: Store, *, client_id: str | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.client_id = client_id or settings.mqtt_client_id  # one broker session per worker
        # For _leave_group: messages delivered and handled (acked), and when the last was.
        self._delivered = 0
        self._handled = 0
        self._last_message = 0.0
        self.stats = {"received": 0, "applied": 0, "dead": 0, "duplicates": 0, "errors": 0}
        self._queue: queue.Queue[_Received] = queue.Queue()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._retries: list[tuple[float, _Received]] = []
        self._session = 0
        self._connected = threading.Event()
        self._subscribed_at: float | None = None
        self._client = self._make_client()
        # Retained per-agent configs (badge hashes): on connect and whenever they change.
        # (Portable SQL: it runs on PostgreSQL too, though typed for the SQLite store.)
        self.configs = ConfigPublisher(store, self._client.publish)

    def _make_client(self) -> HubClient:
        client = HubClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.settings.mqtt_username is not None:
            client.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password)
        if self.settings.mqtt_tls:  # the broker's certificate is checked against the CA
            ca_file = self.settings.mqtt_ca_file
            try:
                client.tls_set(ca_certs=str(ca_file) if ca_file else None)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"mqtt_ca_file '{ca_file}' cannot be loaded: {exc}") from None
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish_raw = self._on_publish
        return client

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Start the writer and connect in the background (retrying until the broker is up)."""
        if self._writer is not None:
            return
        self._stop.clear()
        self._writer = threading.Thread(target=self._write_loop, name="ingest", daemon=True)
        self._writer.start()
        self._client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        """Finish the batch in hand, then disconnect; what is not acked is redelivered later.

        A worker of a shared group leaves the group first (see :meth:`_leave_group`).
        """
        if self.settings.mqtt_shared_group and self._connected.is_set():
            self._leave_group()
        self._stop.set()
        if self._writer is not None:
            self._writer.join(30)
            self._writer = None
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self._connected.wait(timeout)

    def _leave_group(self, quiet: float = 0.5, timeout: float = 15.0) -> None:
        """Unsubscribe, then apply what the broker had already handed to this worker.

        The broker keeps a persistent session's share of the messages for it while it is
        away (Mosquitto does not pass them to the other members), so a worker stopped for
        good would strand them. Unsubscribed, its session gets nothing new; waiting until
        the deliveries stop and the queue is empty leaves nothing unacknowledged behind.
        """
        self._client.unsubscribe(
            subscription_for_hub(shared_group=self.settings.mqtt_shared_group))
        self._last_message = time.monotonic()
        deadline = self._last_message + timeout
        while time.monotonic() < deadline:
            # Every delivery handled, and quiet for a while after the last ack too: an ack
            # frees the broker's in-flight window, and it may then send what it still held.
            idle = time.monotonic() - self._last_message
            if idle >= quiet and self._handled >= self._delivered:
                return
            time.sleep(0.05)
        log.warning("left the shared group with messages still in hand; they stay in this "
                    "worker's broker session until it starts again")

    def expire_agents(self, now: float) -> list[str]:
        """Agents without any message for ``heartbeat_timeout``: offline, desks unknown.

        Only once the hub has itself been subscribed for a whole timeout: after a hub outage
        the agents' queued messages must arrive before their silence means anything.
        """
        since = self._subscribed_at
        timeout = self.settings.heartbeat_timeout
        if since is None or time.monotonic() - since < timeout:
            return []
        return self.store.expire_agents(now - timeout, now)

    # -- paho callbacks (network thread: nothing here may block) ---------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        self._session += 1
        group = self.settings.mqtt_shared_group or None
        if group:  # a session from before the group was set would get every message again
            client.unsubscribe(subscription_for_hub())
        client.subscribe([(topic, 1) for topic in subscription_for_hub(shared_group=group)])
        log.info("connected to mqtt://%s:%d", self.settings.mqtt_host, self.settings.mqtt_port)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any], properties: Any
    ) -> None:
        refused = [str(reason) for reason in reasons if reason.is_failure]
        if refused:
            log.error("the broker refused the hub's subscriptions: %s", ", ".join(refused))
            return
        # Connected means "subscribed": nothing published from now on can miss the hub.
        self._subscribed_at = time.monotonic()
        self.configs.reset()
        self._connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._connected.clear()
        self._subscribed_at = None
        if not self._stop.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._on_publish(message.topic, bytes(message.payload), message.mid, message.qos)

    def _on_publish(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        now = time.time()
        self._delivered += 1
        self._last_message = time.monotonic()
        self._queue.put(_Received(topic, payload, mid, qos, now, self._session))

    # -- writer thread ---------------------------------------------------------------------

    def _next_batch(self) -> list[_Received]:
        try:
            batch = [self._queue.get(timeout=_POLL_SECONDS)]
        except queue.Empty:
            return []
        # Take what is queued; wait for more (up to ingest_batch_wait) only while it keeps
        # coming. A pause means the broker is waiting for our acks (its in-flight window
        # is full) or the traffic is light: either way, committing now is what helps.
        deadline = time.monotonic() + self.settings.ingest_batch_wait
        while len(batch) < self.settings.ingest_batch_max:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = min(deadline - time.monotonic(), _PAUSE_SECONDS)
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            if self._connected.is_set():
                try:
                    self.configs.poll()
                except Exception:
                    log.exception("publishing agent configs failed; retrying")
            batch = self._due_retries() or self._next_batch()
            if not batch:
                continue
            try:
                self._process(batch)
            except Exception as exc:
                # Not acked: retried here one by one (the broker would only redeliver after
                # a reconnect), and the store's dedup makes any second copy harmless.
                self.stats["errors"] += 1
                log.exception("ingest batch of %d messages failed; not acknowledged", len(batch))
                self._defer(batch, transient=is_transient(exc))
                continue
            self._ack(batch)

    def _due_retries(self) -> list[_Received]:
        """The first retry whose back-off has passed, alone (so one bad message stays alone)."""
        now = time.monotonic()
        for k, (at, item) in enumerate(self._retries):
            if at <= now:
                del self._retries[k]
                return [item]
        return []

    def _defer(self, batch: list[_Received], *, transient: bool) -> None:
        """Retry each message alone with back-off.

        A busy or locked database is retried for as long as it takes; any other failure
        (a bug) gives up on the message after MAX_ATTEMPTS by dead-lettering and acking it,
        so that one poisonous message cannot stall ingest.
        """
        for item in batch:
            attempts = item.attempts + (0 if transient else 1)
            if attempts < MAX_ATTEMPTS:
                delay = min(RETRY_SECONDS * 2 ** (attempts + 1), MAX_RETRY_SECONDS)
                self._retries.append((time.monotonic() + delay, item._replace(attempts=attempts)))
                continue
            try:
                self.store.dead_letter(
                    item.topic, "the hub failed to apply this message (see the hub log)",
                    item.payload, item.received,
                )
            except Exception:
                log.exception("cannot record a dead letter either; retrying the message")
                self._retries.append((time.monotonic() + MAX_RETRY_SECONDS, item))
                continue
            self.stats["dead"] += 1
            self._ack([item])

    def _process(self, batch: list[_Received]) -> None:
        """Decode, dead-letter the undecodable, apply the rest: all in one transaction."""
        valid: list[Incoming] = []
        dead = 0
        horizon = self.settings.event_horizon_seconds
        with self.store.transaction():
            for item in batch:
                try:
                    topic = _parse_topic(item.topic)
                    message = decode_desks(
                        topic, item.payload, now=item.received, max_age=horizon,
                    ) or decode(
                        topic, item.payload, now=item.received,
                        bin_seconds=self.settings.bin_seconds, max_age=horizon,
                    )
                except ProtocolError as exc:
                    log.info("dead letter on %s: %s", safe_topic(item.topic), exc)
                    self.store.dead_letter(item.topic, str(exc), item.payload, item.received)
                    dead += 1
                    continue
                valid.append(Incoming(topic, message, item.received, item.payload))
            result = self.store.apply(valid, ClockPolicy(
                self.settings.max_clock_skew_seconds, self.settings.clock_skew_action,
            ))
        self._checkins(valid)
        for rejected in result.rejected:
            log.info("dead letter on %s: %s", rejected.topic, rejected.reason)
        self.stats["received"] += len(batch)
        self.stats["applied"] += result.applied
        self.stats["dead"] += dead + len(result.rejected)
        self.stats["duplicates"] += result.duplicates

    def _checkins(self, valid: list[Incoming]) -> None:
        """After the commit: verify scans and answer on feedback (docs/checkin.md).

        A redelivered message is verified again; the service answers "already recorded"
        for the same scan, so the device still gets its feedback.
        """
        for item in valid:
            if isinstance(item.message, CheckinsMessage):
                try:
                    handle_scans(self.store, self.settings, item.topic,
                                 item.message, self._client.publish)
                except Exception:
                    log.exception("check-in scans from %s failed", safe_topic(str(item.topic)))

    def _ack(self, batch: list[_Received]) -> None:
        session = self._session
        self._client.ack_all(item.mid for item in batch
                             if item.qos == 1 and item.session == session)
        for item in batch:
            if item.qos == 2 and item.session == session:  # the hub subscribes with QoS 1
                self._client.ack(item.mid, item.qos)
        self._handled += len(batch)
        self._last_message = time.monotonic()
