"""A fleet of REAL edge agents driven by simulated sensors.

One :class:`edge.agent.Agent` per agent id of a building, each with its own data
directory (outbox, boot counter) and MQTT session, and a :class:`SimulatedSensor` per
desk replaying a PeopleModel's ground truth. The fleet only decides *when* agents step:

- ``backfill(start, end)`` steps through past time as fast as possible (the demo uses it
  to fill history up to now); it never steps past the wall clock;
- ``run_live(stop, speed)`` steps at the wall clock, or from a past time at ``speed``
  times real time until it catches up with the wall clock (never ahead of it).

The pure helpers at the bottom say what a perfect agent must report, so tests can
compare what arrived over MQTT with the ground truth exactly.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from edge.agent import Agent
from edge.config import AgentConfig, DeskConfig, MqttConfig
from edge.protocol import encode, topic_for
from edge.sensors.base import Reading
from firmware_sim.building import Building
from firmware_sim.people import Interval, PeopleModel, merge_intervals
from firmware_sim.sensors import GroundTruth

__all__ = [
    "FleetRunner", "Transition", "expected_occupancy", "grid_times", "intervals_from_events",
    "sample_intervals", "transitions_from",
]

log = logging.getLogger(__name__)

Transition = tuple[str, str, float]  # (desk, state, at)
Reader = Callable[[str, float], Reading]  # (desk, now) -> what its sensor reads
LIVE_MAX_STEP_SECONDS = 30.0


class FleetRunner:
    """Creates and drives one real Agent per agent id of ``building``.

    Agents step in lock-step on one thread (the caller's); each agent's own MQTT and
    outbox threads publish in the background once ``start()`` has been called.
    Simulated time only moves forward: a step earlier than the last one is refused.
    """

    def __init__(
        self,
        building: Building,
        people: PeopleModel,
        *,
        mqtt: MqttConfig,
        data_dir: Path,
        hold_seconds: float = 600.0,
        seed: int = 0,
        poll_seconds: float = 1.0,
        miss_rate: float = 0.0,
        dropout_rate: float = 0.0,
        wireless_share: float = 0.0,
        clock: Callable[[], float] = time.time,
        start_at: float | None = None,
        reader: Reader | None = None,
        configure: Callable[[AgentConfig], AgentConfig] | None = None,
    ) -> None:
        """``start_at``: the agents' time before the first step (default: the wall
        clock), e.g. so that a BLE bin starts being watched there. ``reader(desk, now)``
        replaces the people model's ground truth as what the sensors read (the demo's
        live replay). ``configure`` may change each agent's config (BLE, camera)."""
        self.building = building
        self.people = people
        self.hold_seconds = hold_seconds
        self.poll_seconds = poll_seconds
        self.seed = seed
        self._clock = clock
        self._start_at = start_at
        self._reader = reader
        self._configure = configure
        self._configs: dict[str, AgentConfig] = {}
        self._offline: set[str] = set()
        self._sensor_knobs = {"miss_rate": miss_rate, "dropout_rate": dropout_rate,
                              "wireless_share": wireless_share}
        self._truth: GroundTruth | None = None
        self._last: float | None = None
        self._started = False
        self._stopped = False
        self._step_lock = threading.Lock()  # a step or health round vs. stop()
        self.agents: dict[str, Agent] = {}
        try:
            self._make_agents(mqtt, Path(data_dir))
        except BaseException:
            self.stop()  # close the outboxes already opened
            raise

    def _make_agents(self, mqtt: MqttConfig, data_dir: Path) -> None:
        for agent_id, desks in self.building.agents().items():
            config = AgentConfig(
                site=self.building.site.id,
                agent=agent_id,
                desks=tuple(DeskConfig(d.id, d.zone) for d in desks),
                data_dir=data_dir / agent_id,
                mqtt=mqtt,
                poll_seconds=self.poll_seconds,
                hold_seconds=self.hold_seconds,
            )
            if self._configure is not None:
                config = self._configure(config)
            self._configs[agent_id] = config
            self.agents[agent_id] = self._make_agent(config)

    def _make_agent(self, config: AgentConfig) -> Agent:
        sensors = {d.id: _LazySensor(self, d.id) for d in config.desks}
        # The agents live in simulated time: their reconnect snapshots and health are
        # stamped with the fleet's last step, so the hub sees one consistent timeline.
        # Adverts and frames come from the simulator, never from a radio or a camera.
        return Agent(config, sensors, clock=self.now, radio=False, capture=False)

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        """Connect every agent to the broker and start its outbox drainer."""
        for agent in self.agents.values():
            agent.start()
        self._started = True

    def take_offline(self, agent_id: str) -> None:
        """Stop one agent as if it were switched off (it says "offline"); the others go
        on. ``bring_back`` starts it again, with a new boot."""
        with self._step_lock:
            if self._stopped or agent_id in self._offline:
                return
            self._offline.add(agent_id)
        self._stop_one(agent_id, self.agents[agent_id])

    def bring_back(self, agent_id: str) -> None:
        """Restart an agent taken offline: a new Agent on the same outbox (next boot)."""
        with self._step_lock:
            if self._stopped or agent_id not in self._offline:
                return
            agent = self._make_agent(self._configs[agent_id])
            self.agents[agent_id] = agent
            self._offline.discard(agent_id)
            if self._started:
                agent.start()

    @property
    def offline(self) -> frozenset[str]:
        """Agents taken offline and not yet brought back."""
        return frozenset(self._offline)

    def online_agents(self) -> dict[str, Agent]:
        """The agents that are running (not taken offline)."""
        return {a: agent for a, agent in self.agents.items() if a not in self._offline}

    def stop(self) -> None:
        """Stop every agent (each drains briefly, says "offline" and closes its outbox),
        all at once so a large fleet stops as fast as one agent. Waits for a step running
        on another thread; later steps are refused (backfill/run_live return). Idempotent."""
        with self._step_lock:
            if self._stopped:
                return
            self._stopped = True
        threads = [
            threading.Thread(target=self._stop_one, args=(agent_id, agent), daemon=True)
            for agent_id, agent in self.agents.items() if agent_id not in self._offline
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    @staticmethod
    def _stop_one(agent_id: str, agent: Agent) -> None:
        try:
            agent.stop()
        except Exception:  # one agent's failure must not leave the others running
            log.exception("agent %s did not stop cleanly", agent_id)

    def __enter__(self) -> FleetRunner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def wait_drained(self, timeout: float) -> bool:
        """True when every agent's outbox is empty (all messages acknowledged) in time."""
        deadline = time.monotonic() + timeout
        return all(
            agent.wait_drained(max(0.0, deadline - time.monotonic()))
            for agent in self.online_agents().values()
        )

    def outbox_depth(self) -> int:
        return sum(agent.outbox_depth() for agent in self.online_agents().values())

    def now(self) -> float:
        """Simulated now: the last step's time (the wall clock before the first step)."""
        if self._last is not None:
            return self._last
        return self._start_at if self._start_at is not None else self._clock()

    @property
    def last_step(self) -> float | None:
        """Simulated time of the last step, or None before the first."""
        return self._last

    # -- stepping -------------------------------------------------------------

    def backfill(
        self,
        start: float,
        end: float,
        step_seconds: float = 30.0,
        progress: Callable[[float], None] | None = None,
        on_step: Callable[[float], object] | None = None,
    ) -> int:
        """Step every agent at ``start, start + step, ...`` up to ``min(end, now)``.

        Runs as fast as the agents allow; returns the number of steps taken (fewer if the
        fleet was stopped meanwhile). The last step is the last grid time not after
        ``end`` and never after the wall clock. ``progress`` is called with the simulated
        time reached, about every 1 % of the way and after the last step. Messages wait
        in each agent's outbox until ``start()``; calling ``start()`` first also works, but
        then an agent's connect snapshot may be stamped one step before the state it shows.
        ``on_step(t)`` runs after every step (outside the step lock).
        """
        if step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        times = grid_times(start, min(end, self._clock()), step_seconds)
        every = max(1, len(times) // 100)
        for n, t in enumerate(times, 1):
            if not self._step_all(t):
                return n - 1
            if on_step is not None:
                on_step(t)
            if progress is not None and (n % every == 0 or n == len(times)):
                progress(t)
        return len(times)

    def run_live(
        self,
        stop: threading.Event,
        speed: float = 1.0,
        *,
        start: float | None = None,
        on_step: Callable[[float], object] | None = None,
    ) -> None:
        """Step agents every poll interval until ``stop`` is set or the fleet is stopped.

        Simulated time is ``start + speed * elapsed``, clamped to the wall clock, so at
        ``speed > 1`` the fleet replays from ``start`` (default: the last step, else one
        hour ago) and then runs in real time. Steps are at most 30 simulated seconds
        apart, so fast replays still see every visit longer than that. Each agent's health
        is published every ``health_seconds`` of wall time. ``on_step(t)`` runs after the
        steps of each poll (outside the step lock), with the simulated time reached.
        """
        if not speed >= 1.0 or math.isinf(speed):
            raise ValueError("speed must be a finite number >= 1")
        wall0 = self._clock()
        if start is None:
            start = wall0 if speed == 1.0 else (self._last or wall0 - 3600.0)
        start = min(start, wall0)
        if self._last is not None:
            start = max(start, self._last)
        next_health = wall0
        while not stop.is_set() and not self._stopped:
            wall = self._clock()
            target = min(start + (wall - wall0) * speed, wall)
            if not self._advance(target):
                return
            if on_step is not None and self._last is not None:
                on_step(self._last)
            if wall >= next_health and self._started:
                self._publish_health()
                next_health = wall + min(a.config.health_seconds for a in self.agents.values())
            stop.wait(self.poll_seconds)

    def _publish_health(self) -> None:
        with self._step_lock:
            if self._stopped:
                return
            now = self.now()
            for agent in self.online_agents().values():
                topic = topic_for(agent.config.site, agent.config.agent, "health")
                # Health is stamped with the wall clock: a simulated agent's clock is right,
                # only its data is replayed from the past (the hub measures clock offset from
                # health, docs/protocol.md "Clocks").
                health = replace(agent.health(now), sent=self._clock())
                agent.link.publish(topic, encode(health), 0)

    def _advance(self, target: float) -> bool:
        """Step up to ``target``, at most 30 s apart; False once the fleet is stopped."""
        if self._last is None:
            return self._step_all(target)
        t = self._last
        while target - t > LIVE_MAX_STEP_SECONDS:
            t += LIVE_MAX_STEP_SECONDS
            if not self._step_all(t):
                return False
        return self._step_all(target) if target > t else True

    def _step_all(self, t: float) -> bool:
        """One lock-step of every agent at ``t``; False (nothing done) once stopped."""
        with self._step_lock:
            if self._stopped:
                return False
            if self._last is not None and t < self._last:
                raise ValueError("simulated time never goes backwards")
            if self._reader is None:
                self._ground(t).ensure(t)
            self._last = t
            for agent in self.online_agents().values():
                agent.step(t)
            return True

    # -- ground truth ---------------------------------------------------------

    @property
    def ground_truth(self) -> GroundTruth | None:
        """What the sensors replay; None before the first step (which is its origin)."""
        return self._truth

    def _ground(self, origin: float) -> GroundTruth:
        if self._truth is None:
            self._truth = GroundTruth(
                self.people, origin=origin, seed=self.seed, **self._sensor_knobs
            )
        return self._truth

    def ground_truth_transitions(self, start: float, end: float) -> list[Transition]:
        """What a perfect agent reading continuously from ``start`` to ``end`` reports.

        Per desk: its initial state at ``start``, then ``occupied`` at each arrival and
        ``vacant`` at each departure, where, as the agent does, vacant gaps of at most
        ``hold_seconds`` are merged (the desk stays occupied) and a departure less than
        ``hold_seconds`` before ``end`` is not reported yet. Sorted by time, then desk.
        """
        truth = self.people.occupancy(start, end)
        out: list[Transition] = []
        for desk, intervals in truth.items():
            out.extend(transitions_from(
                desk, expected_occupancy(intervals, self.hold_seconds, until=end), start, end
            ))
        return sorted(out, key=lambda t: (t[2], t[0]))


class _LazySensor:
    """The agent's handle on one desk's SimulatedSensor (which exists from the first step)."""

    def __init__(self, fleet: FleetRunner, desk: str) -> None:
        self._fleet = fleet
        self._desk = desk

    def read(self, now: float) -> Reading:
        reader = self._fleet._reader
        if reader is not None:
            return reader(self._desk, now)
        truth = self._fleet._truth
        if truth is None or now >= truth.covered_until:  # only if read outside a step
            truth = self._fleet._ground(now)
            truth.ensure(now)
        return truth.sensors[self._desk].read(now)


# ---------------------------------------------------------------------------
# Pure helpers: what the agents should report


def grid_times(start: float, end: float, step: float) -> list[float]:
    """``start, start + step, ...`` up to and including ``end`` (computed as start + k*step)."""
    if end < start:
        return []
    count = math.floor((end - start) / step + 1e-9) + 1
    return [start + k * step for k in range(count)]


def sample_intervals(
    intervals: Iterable[Interval], start: float, end: float, step: float
) -> list[Interval]:
    """What a perfect sensor read on ``grid_times(start, end, step)`` shows.

    A desk is present at grid time t when some interval has ``s <= t < e``. Returns the
    runs of present readings as ``[first present, first absent)``; a run still present at
    the last grid time ends there (where an observer must close it).
    """
    times = grid_times(start, end, step)
    if not times:
        return []
    last = times[-1]

    def ceil_grid(x: float) -> float:
        k = max(0, math.ceil((x - start) / step))
        while k > 0 and start + (k - 1) * step >= x:
            k -= 1
        while start + k * step < x:
            k += 1
        return min(start + k * step, last)

    sampled = []
    for s, e in merge_intervals(intervals):
        if e <= start or s > last:
            continue
        first, gone = ceil_grid(s), ceil_grid(e)
        if gone == last and e > last:
            sampled.append((first, last))  # still present at the last reading
        elif gone > first:
            sampled.append((first, gone))
    return merge_intervals(sampled)


def expected_occupancy(
    intervals: Iterable[Interval], hold_seconds: float, *, until: float | None = None
) -> list[Interval]:
    """Occupied intervals as an agent with hold time h reports them.

    The agent turns a desk vacant only after an absent reading at least h after the
    first absent one, with no presence in between; so a vacant gap of length g is merged
    (the desk stays occupied) when ``g <= h``, and the reported departure is the real
    one. With ``until`` (the last reading), a final departure less than h before it is
    not known yet: that interval is extended to ``until``. Intervals are clipped there.
    """
    merged: list[list[float]] = []
    for s, e in merge_intervals(intervals):
        if until is not None:
            if s >= until:
                continue
            e = min(e, until)
        if merged and s - merged[-1][1] <= hold_seconds:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    if until is not None and merged and until - merged[-1][1] < hold_seconds:
        merged[-1][1] = until
    return [(s, e) for s, e in merged]


def transitions_from(
    desk: str, occupied: Iterable[Interval], start: float, end: float
) -> list[Transition]:
    """Initial state at ``start``, then occupied/vacant edges strictly inside the window."""
    intervals = list(occupied)
    initial = "occupied" if intervals and intervals[0][0] <= start < intervals[0][1] else "vacant"
    out: list[Transition] = [(desk, initial, start)]
    for s, e in intervals:
        if s > start:
            out.append((desk, "occupied", s))
        if e < end:
            out.append((desk, "vacant", e))
    return out


def intervals_from_events(
    events: Iterable[Transition], until: float
) -> Mapping[str, list[Interval]]:
    """Rebuild each desk's occupied intervals from (desk, state, at) events in any order;
    an interval still open at ``until`` is closed there."""
    by_desk: dict[str, list[tuple[float, str]]] = {}
    for desk, state, at in events:
        by_desk.setdefault(desk, []).append((at, state))
    out: dict[str, list[Interval]] = {}
    for desk, items in by_desk.items():
        opened: float | None = None
        intervals: list[Interval] = []
        for at, state in sorted(items, key=lambda item: item[0]):  # stable: keeps send order
            if state == "occupied" and opened is None:
                opened = at
            elif state != "occupied" and opened is not None:
                intervals.append((opened, at))
                opened = None
        if opened is not None and opened < until:
            intervals.append((opened, until))
        out[desk] = intervals
    return out
