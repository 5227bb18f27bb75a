"""The demo's simulated employees who check in, each way the product offers.

Some desks are *check-in desks*: whoever sits down there checks in, on one channel:

- ``label`` desks: by scanning the desk label with a phone, through the hub's real
  check-in service (``via: phone``, as the label page's button does);
- ``qr`` desks (one per agent, under its camera): by showing a personal QR code, a
  fresh token issued by the hub's service and drawn into a simulated camera frame that
  goes through the agent's real ``observe_frame`` (``decode_frame``) and checkins topic;
- ``badge`` desks (one per zone, where the zone's receiver stands): with an enrolled
  iBeacon badge, whose adverts go through the receiver agent's real badge watcher.

Check-outs are the hub's own: by sensor (the desk stays vacant) or at the end of core
hours. People are taken from a pool per channel, never two stays at once for one person.
A person checks in ``delay`` seconds after sitting down (a badge must dwell that long),
so a short stay never checks in and the previous holder has been checked out by then.
The 4-week history gets label check-ins only (a QR or badge scan must reach the hub
within two minutes of being made, so those happen live).
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from edge.agent import Agent
from firmware_sim.camera import camera_frame
from firmware_sim.fleet import expected_occupancy
from firmware_sim.live import LiveTruth, Stay
from firmware_sim.live_ble import BadgeVisit, LiveRadio
from firmware_sim.people import PeopleModel
from hub.checkin import service
from hub.config import HubSettings
from hub.db.protocol import Store
from hub.errors import DeskpulseError

log = logging.getLogger(__name__)

BADGE_UUID = uuid.UUID("6b1f0e2a-4c0d-4d8e-9a57-d35b1e0c7a11")  # the demo company's badges
BADGE_MAJOR = 100
VIAS = ("phone", "qr", "beacon")
_IDLE = (0.0, "", 0, Stay("", 0.0, 0.0))  # the worker's "nothing arrived" marker


@dataclass
class PersonPool:
    """People who check in on one channel; each is given one stay at a time."""

    people: Sequence[int]
    free_at: dict[int, float] = field(default_factory=dict)

    def take(self, start: float, end: float) -> int:
        """The person free longest before ``start`` (or the one free soonest)."""
        person = min(self.people, key=lambda p: (self.free_at.get(p, 0.0) > start,
                                                 self.free_at.get(p, 0.0)))
        self.free_at[person] = end
        return person


@dataclass(frozen=True)
class CheckinDesks:
    """Which desks check people in, and how: label desks; camera desk -> agent id;
    badge desk -> the agent whose receiver stands on it."""

    label: tuple[str, ...]
    qr: Mapping[str, str]
    badge: Mapping[str, str]


def backfill_labels(
    store: Store, people: PeopleModel, desks: Sequence[str], pool: PersonPool,
    start: float, end: float, *, hold_seconds: float = 600.0,
    progress: Callable[[float], object] | None = None,
) -> int:
    """Label check-ins of the history ``[start, end)``: each sitting at a label desk is
    checked in when it begins and checked out by the sensor when it ends. ``progress``
    gets the simulated time reached."""
    if end <= start or not desks:
        return 0
    occupancy = people.occupancy(start, end)
    stays = sorted(
        (s, e, desk) for desk in desks
        for s, e in expected_occupancy(occupancy.get(desk, []), hold_seconds, until=end)
        if e < end  # still seated at the end: the live part decides
    )
    done = 0
    for s, e, desk in stays:
        if progress is not None:
            progress(s)
        person = pool.take(s, e)
        try:
            service.check_in(store, person, desk, via="phone", now=s)
            service.check_out(store, person, now=e, reason="vacant")
            done += 1
        except DeskpulseError:
            continue
    return done


class DemoCheckins:
    """Turns the live stays at check-in desks into check-ins on their channel.

    ``on_step(t)`` runs on the fleet's stepping thread and only queues work; a worker
    thread redeems it (the hub's service, a camera frame through the agent), as a
    phone or a camera would, at its own pace.
    """

    def __init__(
        self,
        store: Store,
        settings: HubSettings,
        live: LiveTruth,
        radio: LiveRadio | None,
        desks: CheckinDesks,
        pools: Mapping[str, PersonPool],
        badges: Mapping[int, int],
        agents: Callable[[], Mapping[str, Agent]],
        *,
        start: float,
        delay: float = 40.0,
    ) -> None:
        self.store, self.settings, self.live, self.radio = store, settings, live, radio
        self.desks, self.pools, self.badges, self._agents = desks, pools, badges, agents
        self._last = start
        self.delay = delay
        self._work: queue.SimpleQueue[tuple[float, str, int, Stay] | None] = \
            queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.started: dict[str, int] = dict.fromkeys(VIAS, 0)  # attempts per channel

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-checkins", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._work.put(None)
            self._thread.join(10)
            self._thread = None

    def on_step(self, t: float) -> None:
        after, self._last = self._last, t
        channels = [("phone", d) for d in self.desks.label]
        channels += [("qr", d) for d in self.desks.qr]
        channels += [("beacon", d) for d in self.desks.badge]
        for via, desk in channels:
            for stay in self.live.stays_starting(desk, after, t):
                if stay.end - stay.start <= self.delay:
                    continue  # gone again before checking in
                person = self.pools[via].take(stay.start, stay.end)
                if via == "beacon":
                    self._badge(person, stay)
                else:
                    self._work.put((stay.start + self.delay, via, person, stay))

    def _badge(self, person: int, stay: Stay) -> None:
        minor = self.badges.get(person)
        if self.radio is None or minor is None:
            return
        self.started["beacon"] += 1
        self.radio.badge_visit(BadgeVisit(self.desks.badge[stay.desk], stay.start, stay.end,
                                          BADGE_UUID, BADGE_MAJOR, minor))

    def _run(self) -> None:
        due: list[tuple[float, int, str, int, Stay]] = []  # (when, tie-break, ...)
        n = 0
        while True:
            wait = min(max(0.0, due[0][0] - time.time()), 1.0) if due else 1.0
            try:
                item = self._work.get(timeout=wait)
            except queue.Empty:
                item = _IDLE
            if item is None:
                return
            if item is not _IDLE:
                n += 1
                when, via, person, stay = item
                heapq.heappush(due, (when, n, via, person, stay))
            while due and due[0][0] <= time.time():
                _, _, via, person, stay = heapq.heappop(due)
                self._redeem(via, person, stay)

    def _redeem(self, via: str, person: int, stay: Stay) -> None:
        try:
            if via == "phone":
                self._label(person, stay)
            else:
                self._qr(person, stay)
        except DeskpulseError as exc:  # the desk was still checked in, and so on
            log.debug("demo check-in via %s refused: %s", via, type(exc).__name__)
        except Exception:
            log.exception("demo check-in via %s failed", via)

    def _label(self, person: int, stay: Stay) -> None:
        self.started["phone"] += 1
        service.check_in(self.store, person, stay.desk, via="phone")

    def _qr(self, person: int, stay: Stay) -> None:
        agent = self._agents().get(self.desks.qr[stay.desk])
        if agent is None:
            return  # that agent is offline: the camera sees nothing
        token, _ = service.issue_token(self.store, self.settings, person)
        frame = camera_frame([token], seed=int(stay.start) % 100_000, size=150,
                             rotation=12.0, noise=4.0)
        self.started["qr"] += 1
        for _ in range(2):  # the phone is held up for a moment: a few frames see it
            agent.observe_frame(frame.image, agent.clock())
            time.sleep(0.05)
