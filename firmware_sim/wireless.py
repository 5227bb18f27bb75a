"""Simulated wireless desk sensors: the bytes and payloads real devices send, and how
they fail.

Encoders (the same formats the real adapters parse):

- :func:`bthome_service_data`: a BTHome v2 service-data payload (UUID 0xFCD2), plain or
  AES-CCM encrypted as the BTHome specification describes (nonce = MAC, UUID, device
  info byte, counter);
- :data:`Z2M_FIXTURES`: zigbee2mqtt state payloads of tested devices, as their
  zigbee2mqtt device pages document them;
- :func:`edge.wireless.ld2410.encode_frame`: LD2410 report frames.

Models (drivers for the accuracy bench, fed with the people model's ground truth; each
returns what the agent's channel would hold, or raises SensorFault as a stale channel
does):

- :class:`SimBthomeMotion`: a Shelly BLU Motion: reports motion with a re-trigger blind
  time (``retrigger_seconds``, 30-60 s), a still person is missed like by any PIR, and
  packets are lost at distance (``loss``);
- :class:`SimZigbeePresence`: an mmWave presence sensor behind zigbee2mqtt (Aqara FP1E,
  Tuya): sees still people, clears ``clear_seconds`` after they leave, and drops off the
  network now and then (``unavailable_rate`` per hour: availability ``offline``);
- :class:`SimRadar`: an LD2410 at the desk: a seated target at 50-90 cm, a neighbour at
  the next desk at 150-220 cm, energy noise, and frames lost on the UART.

Every model also dies of a flat battery when ``battery_dies_at`` is set (nothing heard
after it: the desk becomes ``unknown``).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from edge.sensors.base import Reading
from edge.sensors.pipeline import SensorFault
from edge.wireless.ld2410 import RadarFrame
from firmware_sim.people import Interval, merge_intervals

__all__ = ["Z2M_FIXTURES", "SimBthomeMotion", "SimRadar", "SimZigbeePresence",
           "WirelessDeskSensor", "bthome_objects", "bthome_service_data"]

BTHOME_UUID16 = b"\xd2\xfc"
OBJECT_IDS = {"packet_id": 0x00, "battery": 0x01, "opening": 0x11, "motion": 0x21,
              "occupancy": 0x23, "presence": 0x25, "window": 0x2D}

# zigbee2mqtt state payloads (fields as on each device's zigbee2mqtt page); the test of
# tests/wireless/test_mqtt_devices.py publishes each to a real Mosquitto.
Z2M_FIXTURES: dict[str, dict[str, object]] = {
    # Aqara FP1E presence sensor (RTCZCGQ13LM): mmWave, sees a still person
    "aqara_fp1e": {"presence": True, "movement": "static", "target_distance": 0.84,
                   "motion_sensitivity": "medium", "device_temperature": 31,
                   "linkquality": 142},
    # Philips Hue motion sensor (9290012607, SML001): PIR occupancy with a timeout
    "hue_sml001": {"occupancy": True, "illuminance": 13, "illuminance_lux": 20,
                   "temperature": 21.8, "battery": 87, "occupancy_timeout": 60,
                   "motion_sensitivity": "high", "linkquality": 98},
    # Tuya ZY-M100 24 GHz mmWave presence sensor (TS0601)
    "tuya_zy_m100": {"presence": True, "target_distance": 1.12, "illuminance_lux": 154,
                     "radar_sensitivity": 7, "minimum_range": 0, "maximum_range": 4.5,
                     "detection_delay": 0.1, "fading_time": 30, "linkquality": 65},
    # Aqara door and window contact sensor (MCCGQ11LM): a chair-back or drawer contact
    "aqara_mccgq11lm": {"contact": False, "battery": 100, "voltage": 3025,
                        "device_temperature": 24, "linkquality": 33},
}


def bthome_objects(**values: int | bool) -> bytes:
    """BTHome v2 objects in id order, e.g. ``bthome_objects(packet_id=1, motion=True)``."""
    items = sorted((OBJECT_IDS[name], int(value)) for name, value in values.items())
    return b"".join(bytes([oid, value & 0xFF]) for oid, value in items)


def bthome_service_data(objects: bytes, *, mac: str | None = None,
                        bind_key: bytes | None = None, counter: int = 0) -> bytes:
    """The service data of one BTHome v2 advert carrying ``objects``; encrypted with
    ``bind_key`` (then ``mac``, the device's address, is part of the nonce)."""
    if bind_key is None:
        return bytes([0x40]) + objects
    if mac is None:
        raise ValueError("an encrypted BTHome advert needs the device's MAC for its nonce")
    info = 0x41  # v2, encrypted
    count = counter.to_bytes(4, "little")
    nonce = bytes.fromhex(mac.replace(":", "")) + BTHOME_UUID16 + bytes([info]) + count
    sealed = AESCCM(bind_key, tag_length=4).encrypt(nonce, objects, None)
    return bytes([info]) + sealed[:-4] + count + sealed[-4:]


class _Truth:
    def __init__(self, intervals: Iterable[Interval], seed: int,
                 battery_dies_at: float | None) -> None:
        self.intervals = merge_intervals(intervals)
        self._starts = [s for s, _ in self.intervals]
        self.rng = random.Random(f"wireless:{seed}")
        self.battery_dies_at = battery_dies_at

    def occupied(self, now: float) -> bool:
        i = bisect.bisect_right(self._starts, now) - 1
        return i >= 0 and now < self.intervals[i][1]

    def last_end(self, now: float) -> float:
        """When the latest visit ended before ``now`` (-inf if none)."""
        i = bisect.bisect_right(self._starts, now) - 1
        while i >= 0 and self.intervals[i][1] > now:
            i -= 1
        return self.intervals[i][1] if i >= 0 else -math.inf

    def dead(self, now: float) -> bool:
        return self.battery_dies_at is not None and now >= self.battery_dies_at


class SimBthomeMotion:
    """Shelly BLU Motion seen through the agent's BTHome channel in pulse mode: ``sample``
    is True when a motion advert (a new packet id with motion=1) was heard since the
    previous sample, and a SensorFault once nothing was heard for ``timeout_seconds``.

    The device sends a motion advert on detection and then is blind for
    ``retrigger_seconds`` (motion inside that time is not reported); it beacons its state
    every ``beacon_seconds`` (motion=1 while the last detection is younger than the blind
    time). Each advert is lost with probability ``loss`` (distance, 2.4 GHz traffic)."""

    def __init__(self, intervals: Iterable[Interval], motion: Iterable[float], *, seed: int,
                 loss: float = 0.1, retrigger_seconds: float = 45.0,
                 beacon_seconds: float = 60.0, timeout_seconds: float = 900.0,
                 battery_dies_at: float | None = None) -> None:
        self.truth = _Truth(intervals, seed, battery_dies_at)
        self.motion = sorted(motion)  # true motion instants (from the behaviour profile)
        self.loss, self.retrigger = loss, retrigger_seconds
        self.beacon, self.timeout = beacon_seconds, timeout_seconds
        self._sent = -math.inf  # the last detection the device reported
        self._heard = -math.inf
        self._i = 0
        self._next_beacon: float | None = None

    def sample(self, now: float) -> bool:
        rng = self.truth.rng
        pulse = False
        while self._i < len(self.motion) and self.motion[self._i] <= now:
            t = self.motion[self._i]
            self._i += 1
            if self.truth.dead(t) or t < self._sent + self.retrigger:
                continue  # blind time
            self._sent = t
            if rng.random() >= self.loss:
                pulse, self._heard = True, t
        if self._next_beacon is None:
            self._next_beacon = now + rng.uniform(0, self.beacon)
        while self._next_beacon <= now:
            at = self._next_beacon
            self._next_beacon += self.beacon
            if not self.truth.dead(at) and rng.random() >= self.loss:
                self._heard = max(self._heard, at)
                pulse = pulse or at < self._sent + self.retrigger
        if now - self._heard > self.timeout:
            raise SensorFault("BTHome sensor silent")
        return pulse


class SimZigbeePresence:
    """An mmWave presence sensor behind zigbee2mqtt: ``sample`` is the mapped flag."""

    def __init__(self, intervals: Iterable[Interval], *, seed: int,
                 clear_seconds: float = 30.0, unavailable_rate: float = 0.02,
                 miss_rate: float = 0.002, battery_dies_at: float | None = None) -> None:
        self.truth = _Truth(intervals, seed, battery_dies_at)
        self.clear = clear_seconds
        self.unavailable_rate, self.miss_rate = unavailable_rate, miss_rate
        self._offline_until = -math.inf
        self._miss_until = -math.inf
        self._last = -math.inf

    def sample(self, now: float) -> bool:
        rng = self.truth.rng
        dt = max(0.0, min(now - self._last, 3600.0)) if self._last > -math.inf else 0.0
        self._last = now
        if self.truth.dead(now):
            raise SensorFault("zigbee device offline (battery)")
        if now >= self._offline_until and rng.random() < self.unavailable_rate * dt / 3600:
            self._offline_until = now + rng.uniform(60.0, 600.0)  # a router rebooting
        if now < self._offline_until:
            raise SensorFault("zigbee2mqtt availability: offline")
        if self.truth.occupied(now):
            if now >= self._miss_until and rng.random() < self.miss_rate * dt:
                self._miss_until = now + rng.uniform(5.0, 40.0)  # a very still moment
            return now >= self._miss_until
        return now - self.truth.last_end(now) < self.clear


class SimRadar:
    """An LD2410 under the desk: ``sample`` is the newest RadarFrame the channel holds."""

    def __init__(self, intervals: Iterable[Interval], neighbour: Iterable[Interval] = (),
                 *, seed: int, frame_loss: float = 0.05, hold_seconds: float = 5.0,
                 battery_dies_at: float | None = None) -> None:
        self.truth = _Truth(intervals, seed, battery_dies_at)
        self.neighbour = _Truth(neighbour, seed + 1, None)
        self.frame_loss, self.hold = frame_loss, hold_seconds
        self._frame: RadarFrame | None = None
        self._at = -math.inf

    def sample(self, now: float) -> RadarFrame:
        rng = self.truth.rng
        if self.truth.dead(now):
            raise SensorFault("radar silent")
        if rng.random() >= self.frame_loss:
            here = self.truth.occupied(now) or now - self.truth.last_end(now) < self.hold
            state, moving_cm, moving_e, still_cm, still_e = 0, 0, 0, 0, 0
            if here:
                still_cm = int(rng.uniform(50, 90))
                still_e = int(max(0, min(100, rng.gauss(55, 15))))
                if rng.random() < 0.4:
                    state |= 1
                    moving_cm, moving_e = still_cm + int(rng.uniform(-10, 10)), \
                        int(max(0, min(100, rng.gauss(40, 15))))
                state |= 2
            if self.neighbour.occupied(now):  # the next desk's person is seen too
                if not here or rng.random() < 0.3:
                    state |= 2
                    still_cm = int(rng.uniform(150, 220))
                    still_e = int(max(0, min(100, rng.gauss(30, 10))))
            if not here and rng.random() < 0.002:  # a passer-by crosses the beam
                state |= 1
                moving_cm, moving_e = int(rng.uniform(60, 200)), int(rng.uniform(20, 60))
            self._frame = RadarFrame(state, moving_cm, moving_e, still_cm, still_e,
                                     max(moving_cm, still_cm))
            self._at = now
        if self._frame is None or now - self._at > 10.0:
            raise SensorFault("radar silent")
        return self._frame


class WirelessDeskSensor:
    """A whole desk sensor for the fleet simulator (``GroundTruth(wireless_share=...)``):
    a zigbee presence or LD2410 model read by the agent's own detector for that kind, so
    a simulated building can mix wireless desks with the abstract ones. ``extend`` takes
    more ground truth (a day at a time); the model restarts with it, the detector keeps
    its state. (BTHome motion needs a behaviour profile's motion events, which the fleet's
    people model does not make: it is benchmarked in bench/wireless.py only.)"""

    def __init__(self, kind: str, *, seed: int) -> None:
        from edge.config import SensorConfig
        from edge.sensor_factory import wireless_detector
        from edge.sensors.pipeline import DetectingSensor

        if kind not in ("zigbee", "radar"):
            raise ValueError("WirelessDeskSensor kind must be zigbee or radar")
        self.kind, self.seed = kind, seed
        self._intervals: list[Interval] = []
        self._truth = _Truth((), 0, None)
        config = SensorConfig(type="zigbee", device="sim", payload_field="presence") \
            if kind == "zigbee" else SensorConfig(type="radar", port="/dev/null", max_cm=120)
        self._sensor = DetectingSensor(self._model(), wireless_detector(config))

    @property
    def intervals(self) -> list[Interval]:
        return list(self._intervals)

    def _model(self) -> SimZigbeePresence | SimRadar:
        if self.kind == "zigbee":
            return SimZigbeePresence(self._intervals, seed=self.seed)
        return SimRadar(self._intervals, seed=self.seed)

    def extend(self, intervals: Iterable[Interval]) -> None:
        self._intervals = merge_intervals([*self._intervals, *intervals])
        self._truth = _Truth(self._intervals, 0, None)
        self._sensor.driver = self._model()

    def occupied(self, now: float) -> bool:
        """Ground truth (for tests and checks), not what the sensor says."""
        return self._truth.occupied(now)

    def read(self, now: float) -> Reading:
        return self._sensor.read(now)
