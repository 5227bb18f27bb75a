"""The agent: sensors -> desk state machines -> outbox (SQLite) -> MQTT, and health.

Threads: the caller's thread runs :meth:`Agent.step` (or :meth:`Agent.run`); one drainer
thread moves outbox rows to paho and deletes them on PUBACK; paho's own thread runs the
network and only signals the drainer. The drainer alone owns the mid -> row map, so a
PUBACK can never be matched before its publish was recorded.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from edge import __version__
from edge.ble.zones import ZoneCounter
from edge.config import AgentConfig
from edge.errors import ConfigError
from edge.hindsight import Hindsight
from edge.mqtt import MqttLink
from edge.outbox import Outbox
from edge.protocol import (
    MAX_ITEMS,
    MIN_TIMESTAMP,
    CheckinsMessage,
    Config,
    DeskEvent,
    DesksMessage,
    Feedback,
    Health,
    Message,
    RadioHealth,
    Scan,
    ZoneCount,
    ZonesMessage,
    encode,
    topic_for,
)
from edge.sensors.base import Reading, Sensor
from edge.sensors.pipeline import DetectingSensor
from edge.sensors.pir import PirDetector
from edge.state import DeskStateMachine

if TYPE_CHECKING:  # bleak and cv2 are imported only by agents that scan / have a camera
    import numpy as np

    from edge.ble.badges import BadgeWatcher
    from edge.ble.scanner import BleScanner
    from edge.qr.camera import Camera
    from edge.qr.scans import ScanFilter
    from edge.wireless.inputs import WirelessInputs

log = logging.getLogger(__name__)

_PRESENCES = ("present", "absent", "fault")
_IDLE_SECONDS = 1.0  # drainer wake-up when nothing signals it
# ``health.radio`` rows at most (~70 bytes each: the report stays well under 64 KiB)
MAX_RADIO_ROWS = 400


class Agent:
    """One edge agent. Build it with a validated config and one sensor per desk."""

    def __init__(
        self,
        config: AgentConfig,
        sensors: Mapping[str, Sensor],
        *,
        clock: Callable[[], float] = time.time,
        on_feedback: Callable[[Feedback], None] | None = None,
        radio: bool = True,
        capture: bool = True,
        wireless: WirelessInputs | None = None,
    ) -> None:
        """``radio=False`` keeps the BLE scanner's thread off (and the wireless inputs'
        broker client and serial threads): adverts then enter only through
        ``agent.scanner.detection_callback``; ``capture=False`` keeps the camera thread
        off: frames then enter only through ``observe_frame`` (the simulator's paths).
        ``wireless``: the channels :func:`edge.sensor_factory.build_sensors` made for
        the desks' wireless sensors; BTHome adverts reach them through the scanner."""
        missing = [d.id for d in config.desks if d.id not in sensors]
        if missing:
            raise ValueError(f"no sensor for desk(s): {', '.join(missing)}")
        extra = sorted(set(sensors) - {d.id for d in config.desks})
        if extra:
            raise ValueError(f"sensor(s) for desk(s) not in the config: {', '.join(extra)}")
        badge_desk = config.ble.desk if config.ble is not None else None
        if badge_desk is not None and badge_desk not in {d.id for d in config.desks}:
            raise ConfigError(f"ble.desk '{badge_desk}' is not one of this agent's desks")
        self.config = config
        self.clock = clock
        self._sensors = {d.id: sensors[d.id] for d in config.desks}
        self._machines = {
            d.id: DeskStateMachine(config.hold_seconds, desk=d.id) for d in config.desks
        }
        # PIR-only desks also get the history estimator: late corrections (edge/hindsight.py).
        # Not wireless motion sensors: it reads a wired PIR's latched level, and their
        # channels give sparse pulses (one per advert), which it would take for absence.
        from edge.wireless.channel import Channel

        self._hindsight = {
            desk: Hindsight(desk) for desk, sensor in self._sensors.items()
            if isinstance(sensor, DetectingSensor) and isinstance(sensor.detector, PirDetector)
            and not isinstance(sensor.driver, Channel)
        }
        self._faults: tuple[str, ...] = ()  # desks whose last reading was a fault
        self._fault_logged: set[str] = set()  # touched by the stepping thread only
        self._on_feedback = on_feedback
        self.last_config: Config | None = None
        self._badges: frozenset[str] = frozenset()
        self._topic = topic_for(config.site, config.agent, "desks")
        self._health_topic = topic_for(config.site, config.agent, "health")

        bounds = config.outbox
        self.outbox = Outbox(
            config.outbox_path, max_rows=bounds.max_messages,
            max_bytes=int(bounds.max_megabytes * 1024 * 1024),
            max_age=bounds.max_age_days * 86400.0,
        )
        self.boot: int = self.outbox.start_boot()
        self._seq = 0
        self._lock = threading.Lock()  # state machines, seq and their enqueue order
        # True while desk changes are held because the clock is not set (see _enqueue).
        self._clock_unset = False
        self._started_at = clock()
        self._zones_topic = topic_for(config.site, config.agent, "zones")
        self._ble_lock = threading.Lock()  # the counter: scanner thread vs stepping thread
        self.zone_counter: ZoneCounter | None = None
        self.scanner: BleScanner | None = None
        self._radio = radio
        self._capture = capture
        self.wireless = wireless
        counting = config.ble is not None and config.ble.enabled
        if counting or (wireless is not None and wireless.bthome is not None):
            from edge.ble.scanner import BleScanner

            if config.ble is not None and config.ble.enabled:
                self.zone_counter = ZoneCounter(config.ble.zone, clock(),
                                                bin_seconds=config.ble.bin_seconds,
                                                policy=config.ble.policy)
            self.scanner = BleScanner(self.observe_advert, clock=clock,
                                      adapter=config.ble.adapter if config.ble else None)
        self.badge_watcher: BadgeWatcher | None = None
        ble = config.ble
        if ble is not None and ble.enabled and ble.desk is not None and ble.badge_key:
            from edge.ble.badges import BadgeWatcher

            self.badge_watcher = BadgeWatcher(ble.desk, ble.badge_key, ble.badge_policy)
        self._checkins_topic = topic_for(config.site, config.agent, "checkins")
        self.camera: Camera | None = None
        self._scan_filter: ScanFilter | None = None
        if config.camera is not None and config.camera.enabled:
            from edge.qr.camera import Camera
            from edge.qr.scans import ScanFilter

            self._scan_filter = ScanFilter(config.camera.desk)
            self.camera = Camera(config.camera.source, self._camera_frame,
                                 fps=config.camera.fps, clock=clock)

        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._reconnects = 0  # bumped by paho's thread; the drainer compares
        self._wake = threading.Event()
        self._online = threading.Event()  # connected AND the drainer has resynced
        self._stopping = threading.Event()
        self._drainer: threading.Thread | None = None
        self.link = MqttLink(
            config.mqtt,
            site=config.site,
            agent=config.agent,
            boot=self.boot,
            version=__version__,
            on_acked=self._acked,
            on_connected=self._connected,
            on_disconnected=self._online.clear,
            on_message=self._received,
            max_inflight=config.max_inflight,
            clock=clock,
        )
        log.info("agent %s/%s boot %d with %d desks",
                 config.site, config.agent, self.boot, len(config.desks))

    # -- the pure-ish core ------------------------------------------------------------

    @property
    def states(self) -> Mapping[str, str]:
        """Desk id -> current state (``unknown`` until a desk's first reading)."""
        with self._lock:
            return {desk: m.state for desk, m in self._machines.items()}

    def step(self, now: float) -> DesksMessage | None:
        """Read every sensor at ``now``; enqueue ONE message with all state changes."""
        readings = {desk: self._read(desk, sensor, now) for desk, sensor in self._sensors.items()}
        with self._lock:
            self._faults = tuple(d for d, r in readings.items() if r.presence == "fault")
            events = []
            corrections = []  # written after the live events: at the same at, they win
            for desk, reading in readings.items():
                event = self._machines[desk].update(reading)
                if event is not None:
                    events.append(event)
                hindsight = self._hindsight.get(desk)
                if hindsight is not None:
                    sensor = self._sensors[desk]
                    assert isinstance(sensor, DetectingSensor)
                    corrections += hindsight.sample(now, sensor.last_sample)
                    if event is not None:
                        corrections += hindsight.event(event)
            events += corrections
            if self._clock_unset and now >= MIN_TIMESTAMP:
                # The clock has been set: every desk's state, stamped now, replaces the
                # changes held back while it was not (their times were meaningless).
                self._clock_unset = False
                log.info("the clock is set; sending the state of every desk")
                events = [e for m in self._machines.values()
                          if (e := m.snapshot(now)) is not None]
            message = None
            for first in range(0, len(events), MAX_ITEMS):  # the protocol's bound
                message = self._enqueue(events[first:first + MAX_ITEMS], now)
        if message is not None:
            log.debug("boot %d seq %d: %d desk change(s)", self.boot, message.seq, len(events))
            self._wake.set()
        if self.zone_counter is not None:
            with self._ble_lock:  # held while enqueuing: bins reach the outbox in order
                self._enqueue_zones(self.zone_counter.tick(now), now)
        return message

    def observe_advert(
        self,
        address: str,
        rssi: int,
        manufacturer_data: Mapping[int, bytes],
        service_data: Mapping[str, bytes],
        now: float,
    ) -> None:
        """One BLE advert (the scanner's handler): a configured BTHome desk sensor's goes
        to its channel (and is not counted: it is furniture, not a person); others are
        counted in memory, only counts leave; an enrolled badge dwelling at this agent's
        badge desk becomes a check-in scan."""
        wireless = self.wireless
        if wireless is not None and wireless.observe_advert(address, rssi, service_data, now):
            return
        counter = self.zone_counter
        if counter is None:
            return
        with self._ble_lock:
            rows = counter.observe(address, rssi, manufacturer_data, service_data, now)
            if rows:
                self._enqueue_zones(rows, now)
            watcher = self.badge_watcher
            if watcher is not None and self._badges:
                scans = watcher.observe(rssi, manufacturer_data, self._badges, now)
                if scans:
                    self._enqueue_scans(scans, now)

    def _clock_is_unset(self, now: float, what: str) -> bool:
        """True (and logged once) while the clock reads before MIN_TIMESTAMP (2020): a Pi
        without a real-time clock boots at 1970 until NTP answers. Nothing is stamped
        with such a time: the hub would refuse it (docs/protocol.md, "Clocks")."""
        if now >= MIN_TIMESTAMP:
            return False
        if not self._clock_unset:
            self._clock_unset = True
            log.warning("the clock is not set (it reads before 2020): %s are held back "
                        "until it is; check NTP", what)
        return True

    def _enqueue_scans(self, scans: list[Scan], now: float) -> CheckinsMessage | None:
        """Publish check-in scans through the outbox with the next seq (dropped while the
        clock is not set: a scan cannot be placed in time)."""
        if self._clock_is_unset(now, "desk changes, zone counts and scans"):
            return None
        with self._lock:
            self._seq += 1
            message = CheckinsMessage(agent=self.config.agent, boot=self.boot, seq=self._seq,
                                      sent=now, scans=tuple(scans))
            self.outbox.enqueue(self._checkins_topic, encode(message), 1)
        log.info("boot %d seq %d: %d check-in scan(s)", self.boot, message.seq, len(scans))
        self._wake.set()
        return message

    def _enqueue_zones(self, rows: list[ZoneCount], now: float) -> ZonesMessage | None:
        """Publish closed bins' counts through the outbox with the next seq."""
        if not rows or self._clock_is_unset(now, "desk changes, zone counts and scans"):
            return None
        with self._lock:
            self._seq += 1
            message = ZonesMessage(agent=self.config.agent, boot=self.boot, seq=self._seq,
                                   sent=now, counts=tuple(rows))
            self.outbox.enqueue(self._zones_topic, encode(message), 1)
        log.debug("boot %d seq %d: %d zone count(s)", self.boot, message.seq, len(rows))
        self._wake.set()
        return message

    def _camera_frame(self, frame: np.ndarray, now: float) -> None:
        self.observe_frame(frame, now)

    def observe_frame(self, frame: np.ndarray, now: float) -> CheckinsMessage | None:
        """Camera thread: decode QR codes in memory and publish new tokens (never the frame).

        Every fifth frame gets the slower, more thorough decoding pass."""
        from edge.qr.decode import decode_frame

        scan_filter = self._scan_filter
        if scan_filter is None:
            return None
        thorough = self.camera is not None and self.camera.frames % 5 == 0
        scans = scan_filter.accept(decode_frame(frame, thorough=thorough), now)
        if not scans:
            return None
        return self._enqueue_scans(scans, now)

    @property
    def badges(self) -> frozenset[str]:
        """Keyed hashes of enrolled badges from the hub's retained config (for check-in)."""
        return self._badges

    def _read(self, desk: str, sensor: Sensor, now: float) -> Reading:
        """A sensor that raises or returns nonsense is a fault, never a crash."""
        cause = "it reports a fault"
        try:
            reading = sensor.read(now)
            if not (
                isinstance(reading, Reading)
                and reading.presence in _PRESENCES
                and isinstance(reading.at, int | float)
                and math.isfinite(reading.at)
                and reading.at >= 0
            ):
                raise TypeError(f"read() returned {type(reading).__name__}, not a valid Reading")
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}"
            reading = Reading(now, "fault")
        if reading.presence == "fault":
            if desk not in self._fault_logged:  # once per fault, not once per poll
                self._fault_logged.add(desk)
                log.warning("sensor of desk %s failed (%s); desk is unknown", desk, cause)
        elif desk in self._fault_logged:
            self._fault_logged.discard(desk)
            log.info("sensor of desk %s recovered", desk)
        return reading

    def _enqueue(self, events: list[DeskEvent], now: float) -> DesksMessage | None:
        """Number and persist one message; the caller holds ``_lock`` so seq order is row
        order. While the clock is not set nothing is enqueued: the machines keep the
        state, and the first step with a set clock sends it all (see :meth:`step`)."""
        if not events or self._clock_is_unset(now, "desk changes, zone counts and scans"):
            return None
        # A reading from before the clock was set, carried in a state machine: stamped now.
        events = [e if e.at >= MIN_TIMESTAMP else DeskEvent(e.desk, e.state, now)
                  for e in events]
        self._seq += 1
        message = DesksMessage(
            agent=self.config.agent, boot=self.boot, seq=self._seq, sent=now,
            events=tuple(events),
        )
        self.outbox.enqueue(self._topic, encode(message), 1)
        return message

    def snapshot(self, now: float) -> DesksMessage | None:
        """Enqueue every known desk's current state, so a restarted hub converges."""
        with self._lock:
            events = [e for m in self._machines.values() if (e := m.snapshot(now)) is not None]
            message = self._enqueue(events, now)
        if message is not None:
            self._wake.set()
        return message

    def health(self, now: float) -> Health:
        """The agent's health report at ``now`` (counts only, nothing personal)."""
        return Health(
            agent=self.config.agent,
            boot=self.boot,
            sent=now,
            uptime=max(now - self._started_at, 0.0),
            outbox_depth=self.outbox.depth(),
            dropped=self.outbox.dropped,
            sensor_faults=tuple(sorted(self._faults)),
            radio=self._radio_health(now),
        )

    def _radio_health(self, now: float) -> tuple[RadioHealth, ...]:
        """Wireless sensors' battery (tens of %), signal word and fault count."""
        if self.wireless is None:
            return ()
        rows = [RadioHealth(desk=desk, signal=h.signal, faults=h.faults, battery=h.battery)
                for desk, h in self.wireless.health(now)]
        if len(rows) > MAX_RADIO_ROWS:  # keep the report under the protocol's size bound:
            rank = {"none": 0, "weak": 1, "fair": 2, "good": 3}  # the worst ones first
            rows.sort(key=lambda r: (rank[r.signal], -r.faults,
                                     100 if r.battery is None else r.battery))
            rows = rows[:MAX_RADIO_ROWS]
        return tuple(rows)

    def outbox_depth(self) -> int:
        """Messages not yet acknowledged by the broker."""
        return self.outbox.depth()

    @property
    def seq(self) -> int:
        """The last sequence number used in this boot (0 before the first message)."""
        with self._lock:
            return self._seq

    def wait_connected(self, timeout: float) -> bool:
        """True once connected, subscribed and resynced (snapshot enqueued)."""
        deadline = time.monotonic() + timeout
        return self._online.wait(timeout) and self.link.wait_subscribed(
            max(deadline - time.monotonic(), 0.0)
        )

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Connect (in the background) and start the outbox drainer."""
        if self._drainer is not None:
            return
        self._drainer = threading.Thread(
            target=self._drain_forever, name=f"outbox-{self.config.agent}", daemon=True
        )
        self._drainer.start()
        self.link.start()
        if self.scanner is not None and self._radio:
            self.scanner.start()
        if self.wireless is not None and self._radio:
            self.wireless.start()
        if self.camera is not None and self._capture:
            self.camera.start()

    def stop(self, drain_seconds: float = 2.0) -> None:
        """Drain briefly, publish "offline" (retained), disconnect, close the outbox.

        The open BLE bin is not published: a partial bin would under-count."""
        if self.scanner is not None:
            self.scanner.stop()
        if self.wireless is not None:
            self.wireless.stop()
        if self.camera is not None:
            self.camera.stop()
        if self._drainer is not None:
            if self.link.connected:
                self.wait_drained(drain_seconds)
            self._stopping.set()
            self._wake.set()
            self._drainer.join(5.0)
            self.link.stop()
            self._drainer = None
        left = self.outbox.depth()
        self.outbox.close()
        log.info("agent %s/%s stopped; %d message(s) left in the outbox",
                 self.config.site, self.config.agent, left)

    def run(self, stop: threading.Event, on_tick: Callable[[], object] | None = None) -> None:
        """Step every ``poll_seconds`` and publish health every ``health_seconds``;
        ``on_tick`` runs once per loop (the systemd watchdog ping: a hung loop stops it)."""
        next_step = next_health = self.clock()
        while not stop.is_set():
            if on_tick is not None:
                on_tick()
            now = self.clock()
            if now >= next_step:
                self.step(now)
                next_step += self.config.poll_seconds
                if next_step <= now:  # fell behind (slow sensor, suspended): don't burst
                    next_step = now + self.config.poll_seconds
            if now >= next_health and self._publish_health(now):
                next_health = now + self.config.health_seconds
            stop.wait(max(next_step - self.clock(), 0.0))

    def _publish_health(self, now: float) -> bool:
        """QoS 0 and not via the outbox: a stale health report is worth nothing. False
        when not connected, so that the next poll tries again."""
        try:
            return self.link.publish(self._health_topic, encode(self.health(now)), 0) is not None
        except ValueError:
            log.exception("health message could not be encoded")
            return True

    def wait_drained(self, timeout: float) -> bool:
        """True once every outbox row has been acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        while self.outbox.depth() > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    # -- drainer thread --------------------------------------------------------------

    def _drain_forever(self) -> None:
        inflight: dict[int, int] = {}  # mid -> row id
        seen_reconnects = 0
        while not self._stopping.is_set():
            self._wake.wait(_IDLE_SECONDS)
            self._wake.clear()
            try:
                seen_reconnects = self._drain_once(inflight, seen_reconnects)
            except Exception:
                log.exception("outbox drainer failed; retrying")
                time.sleep(_IDLE_SECONDS)

    def _drain_once(self, inflight: dict[int, int], seen_reconnects: int) -> int:
        while True:  # acks first: they may belong to the connection that just ended
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            row_id = inflight.pop(mid, None)
            if row_id is not None:
                self.outbox.ack(row_id)
        reconnects = self._reconnects
        if reconnects != seen_reconnects:
            # paho dropped its unacknowledged publishes on connect: send them all again.
            inflight.clear()
            self.snapshot(self.clock())
            if self.link.connected:
                self._online.set()
        room = self.config.max_inflight - len(inflight)
        if room <= 0 or not self.link.connected:
            return reconnects
        for row in self.outbox.pending(room, exclude=set(inflight.values())):
            sent = self.link.publish(row.topic, row.payload, row.qos)
            if sent is None:
                break  # not connected after all; the next connect wakes us
            inflight[sent] = row.id
        return reconnects

    # -- paho thread callbacks: signal only ------------------------------------------

    def _acked(self, mid: int) -> None:
        self._acks.put(mid)
        self._wake.set()

    def _connected(self) -> None:
        self._reconnects += 1
        self._wake.set()

    def _received(self, message: Message) -> None:
        if isinstance(message, Config):
            self.last_config = message
            self._badges = frozenset(message.badges)
            log.info("config received: key epoch %d, %d desk(s), %d badge(s)",
                     message.key_epoch, len(message.desks), len(message.badges))
        elif isinstance(message, Feedback):
            log.debug("feedback for desk %s: %s", message.desk, message.result)
            if self._on_feedback is not None:
                self._on_feedback(message)
