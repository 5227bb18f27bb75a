"""paho's MQTT client with a receive path fit for the hub's message rates.

Why: paho reads a packet in three or four ``recv`` calls (the command byte, the
remaining length a byte at a time, then the rest). At thousands of messages a second
those system calls, each one releasing and retaking the interpreter lock the ingest
writer also needs, cost the hub more than the protocol work. And every manual
acknowledgement wakes paho's network thread through its socket pair.

:class:`HubClient` changes only that, not the protocol: it reads the socket in 64 KiB
chunks and serves paho's small reads from the chunk; :meth:`HubClient.ack_all` queues a
batch's acknowledgements with one wake-up; ``on_publish_raw`` hands each PUBLISH over as
plain values, without paho's message object, log line and topic-filter match. It relies
on paho 2.x internals (``_sock_recv``, ``_sock_close``, ``_sockpairW``,
``_handle_publish``, ``_in_packet``, ``paho.mqtt._packet``); tests/hub/test_mqtt_client.py
holds it to a stock paho client's behaviour against a real broker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt import _packet

CHUNK = 65_536


class HubClient(mqtt.Client):
    """A paho client that reads in chunks and acknowledges in batches (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunk = b""
        self._offset = 0
        # (topic, payload, mid, qos) of each QoS 0/1 PUBLISH of MQTT 3.1.1, called on the
        # network thread instead of on_message; anything else still goes to on_message.
        self.on_publish_raw: Callable[[str, bytes, int, int], None] | None = None

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        """paho's, without a message object, a debug log line and a topic-filter match
        per message when ``on_publish_raw`` is set (they cost more than the hub's own
        work on the network thread)."""
        handler = self.on_publish_raw
        if handler is None or self._protocol == mqtt.MQTTv5:
            return super()._handle_publish()
        packet = self._in_packet
        result = _packet.decode_publish(packet["command"], packet["packet"], self._protocol)
        if result.qos not in (0, 1):
            return super()._handle_publish()
        try:
            topic = result.topic.decode("utf-8")
        except UnicodeDecodeError:
            return super()._handle_publish()
        handler(topic, bytes(result.payload), result.mid, result.qos)
        if result.qos == 1 and not self._manual_ack:
            return self._send_puback(result.mid)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sock_recv(self, bufsize: int) -> bytes:
        """Up to ``bufsize`` bytes: from the chunk in hand, else from one large read.

        It raises (BlockingIOError: nothing to read) only when the chunk is used up, so
        paho's read loop never stops with bytes left here that select() cannot see.
        """
        if self._offset >= len(self._chunk):
            data = super()._sock_recv(CHUNK)
            if len(data) <= bufsize:
                return data
            self._chunk, self._offset = data, 0
        start = self._offset
        self._offset = min(start + bufsize, len(self._chunk))
        return self._chunk[start:self._offset]

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        """paho's, repeated while the chunk still holds bytes: they are the next packets,
        and select() would not wake for them (they have left the socket)."""
        rc = super().loop_read(max_packets)
        while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and self._buffered():
            rc = super().loop_read(max_packets)
        return rc

    def _buffered(self) -> bool:
        return self._sock is not None and self._offset < len(self._chunk)

    def _sock_close(self) -> None:
        self._chunk, self._offset = b"", 0  # the next connection starts afresh
        super()._sock_close()

    def ack_all(self, mids: Iterable[int]) -> None:
        """PUBACK every ``mid`` (QoS 1), waking the network thread once, not per message."""
        wake = self._sockpairW
        self._sockpairW = None  # paho's _packet_queue then only queues the packet
        try:
            for mid in mids:
                self.ack(mid, 1)
        finally:
            self._sockpairW = wake
        if wake is not None:
            try:
                wake.send(b"0")
            except BlockingIOError:
                pass  # the pair is full of wake-ups already: the thread will wake
