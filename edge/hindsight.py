"""The history estimator for a PIR desk: hindsight, published as late desk events.

The live desk state (``edge.state.DeskStateMachine``) must turn vacant soon after someone
leaves, so a person in deep focus who does not move for 20 minutes is reported gone, and
a passer-by's motion during the live hold keeps a left desk occupied. Once ``horizon``
seconds have passed, the motion around a moment tells much more. So this module
re-estimates each desk's occupancy from its PIR motion *episodes* (runs of consecutive
motion samples) and publishes corrections: ordinary desk events with a past ``at``,
stored by the hub as late transitions (of two at the same time the one written later
wins, and the rollups re-open the bins they touch; ``hub.metrics.kernel``). The live state on
the hub never moves backwards, so the map is not touched.

The re-estimate (:func:`reestimate`, pure):

1. episodes less than ``link_seconds`` apart form a *cluster*;
2. a cluster is a *sitting's* motion if it holds a burst (an episode of at least
   ``burst_seconds``: sitting down, standing up, stretching) or ``rhythm_episodes``
   episodes over at least ``rhythm_seconds`` (a still reader's stirring). Anything else
   (a lone short pulse, a passer-by lingering a few seconds) is a *stir*: it never moves
   a stay's end, but it keeps a stay open (by one more ``window`` at most) while the
   stay's last counted motion was not a burst: a still person stirring, not a passer-by
   after someone stood up and left;
3. a stay begins at a cluster with an *arrival* burst (at least ``arrival_seconds``:
   nobody settles in without one; after one short pulse, which may be a passer-by, it
   takes ``lead_arrival_seconds``, longer than any fidget) or with a *steady* rhythm
   (``start_episodes`` episodes, ``start_stirs`` of them ``stir_gap`` apart: a reader
   whose settling in was missed; passers-by almost never do that). It takes in each
   following sitting cluster that begins at most ``window`` after its last motion,
   unless the stay ended with a burst (standing up) and the next cluster opens with an
   arrival burst (settling in). Without both signatures the person never left. A
   *sure* rhythm (``sure_episodes`` episodes, ``sure_stirs`` stirs) undoes a standing
   up (the person is still there) and takes the stay on even after a quiet spell
   longer than the window, up to ``resume_window`` after its last motion (a reader in
   deep focus twice over);
4. a stay that begins with a lone burst (nothing sitting after it in its cluster) is
   either an arrival or the packing up of the stay before, after a quiet spell. It
   counts as ended (standing up) until sitting motion follows, and if it ends without
   any (the next arrival, or ``window`` of quiet) it was the packing up: it joins the
   stay before when that ended at most ``window`` earlier;
5. a stay is occupied from its first motion to its last (+ ``tail_seconds``), where a
   cluster ending in a burst ends with that burst (lone pulses after it are
   passers-by).

:func:`reconcile` turns a re-estimate into the corrections that make the hub's history
equal to it over a span; :class:`Hindsight` runs both online with bounded memory.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from edge.protocol import DeskEvent

__all__ = ["Hindsight", "Rules", "reconcile", "reestimate"]

Episode = tuple[float, float]  # (first motion sample, last motion sample of the run)
Interval = tuple[float, float]


@dataclass(frozen=True)
class Rules:
    """The re-estimate's parameters (see the module docstring; seconds)."""

    window: float = 2700.0
    link_seconds: float = 240.0
    burst_seconds: float = 15.0
    arrival_seconds: float = 30.0
    rhythm_episodes: int = 4
    rhythm_seconds: float = 120.0
    tail_seconds: float = 5.0
    lead_arrival_seconds: float = 50.0
    stir_gap: float = 30.0
    sure_episodes: int = 6
    sure_stirs: int = 6
    start_episodes: int = 10
    start_stirs: int = 8
    resume_window: float = 5400.0

    def __post_init__(self) -> None:
        if not (self.window >= self.link_seconds > 0 and self.burst_seconds >= 0
                and self.arrival_seconds >= 0 and self.rhythm_episodes >= 1
                and self.rhythm_seconds >= 0 and self.tail_seconds >= 0
                and self.lead_arrival_seconds >= 0 and self.stir_gap >= 0
                and self.resume_window >= self.window
                and min(self.sure_episodes, self.sure_stirs, self.start_episodes,
                        self.start_stirs) >= 1):
            raise ValueError("Rules: resume_window >= window >= link_seconds > 0, the other "
                             "durations >= 0, the episode and stir counts >= 1 are "
                             "required")

    @property
    def horizon(self) -> float:
        """How long after a moment its re-estimate can still change: a stay's end waits
        for a lone burst within ``window`` after it and for that burst's fate (``window``
        more); stirs bridge at most two windows, a sure rhythm ``resume_window``; and a
        cluster is known once its first ``start_episodes`` episodes are."""
        episodes = max(self.rhythm_episodes, self.sure_episodes, self.start_episodes)
        return (max(2 * self.window, self.resume_window)
                + (episodes + 1) * self.link_seconds + self.rhythm_seconds)


def _clusters(episodes: Sequence[Episode], link: float) -> list[list[Episode]]:
    out: list[list[Episode]] = []
    for episode in episodes:
        if out and episode[0] - out[-1][-1][1] <= link:
            out[-1].append(episode)
        else:
            out.append([episode])
    return out


def _stirs(cluster: Sequence[Episode], gap: float) -> int:
    """Separate stirs in a cluster: episodes at least ``gap`` apart count apart."""
    pairs = zip(cluster, cluster[1:], strict=False)
    return 1 + sum(1 for (_, b), (a, _) in pairs if a - b >= gap)


def reestimate(episodes: Sequence[Episode], rules: Rules = Rules()) -> list[Interval]:
    """Occupied intervals from motion episodes in time order (module docstring)."""
    stays: list[list[float]] = []  # [first motion, last counted motion]
    lone = False  # the open stay began with a lone burst and nothing sitting followed
    open_stay = False  # the last stay may still grow
    departed = False  # ... and its last counted motion was a burst (standing up)
    stirred = -math.inf  # the last stir that keeps the open stay open

    def close() -> None:
        """The open stay ends: a lone burst without sitting after it was packing up."""
        nonlocal lone, open_stay
        if lone and len(stays) >= 2 and stays[-1][0] - stays[-2][1] <= rules.window:
            stays[-2][1] = stays[-1][1]
            del stays[-1]
        lone = open_stay = False

    for cluster in _clusters(episodes, rules.link_seconds):
        first, last = cluster[0][0], cluster[-1][1]
        quiet = first - max(stays[-1][1], stirred) if open_stay else 0.0
        bursts = [n for n, (a, b) in enumerate(cluster) if b - a >= rules.burst_seconds]
        rhythm = len(cluster) >= rules.rhythm_episodes and last - first >= rules.rhythm_seconds
        stirs = _stirs(cluster, rules.stir_gap)
        sure = rhythm and len(cluster) >= rules.sure_episodes and stirs >= rules.sure_stirs
        if quiet > rules.window and not (
                sure and not lone and first - stays[-1][1] <= rules.resume_window):
            close()  # no sitting's motion for longer than the window: gone
        if not (bursts or rhythm):
            if open_stay and not departed and quiet <= rules.window:  # a still person
                stirred = min(max(stirred, last), stays[-1][1] + rules.window)
            continue  # else a passer-by
        steady = rhythm and len(cluster) >= rules.start_episodes and stirs >= rules.start_stirs
        ends_with_burst = bool(bursts) and (
            not rhythm or len(cluster) - bursts[-1] < rules.rhythm_episodes)
        if ends_with_burst:
            last = cluster[bursts[-1]][1]  # lone pulses after the last burst: passers-by
        lead = bursts[0] if bursts else len(cluster)
        need = rules.arrival_seconds if lead == 0 else rules.lead_arrival_seconds
        arrival = lead <= 1 and cluster[lead][1] - cluster[lead][0] >= need
        if open_stay and not (departed and arrival):
            stays[-1][1] = max(stays[-1][1], last)  # the person never left
            lone = False
            if sure and not ends_with_burst:
                departed = False  # steady stirring after a burst: still sitting there
            elif bursts:  # a stir without a burst does not undo a standing up
                departed = ends_with_burst
        elif arrival or steady or any(b - a >= rules.arrival_seconds for a, b in cluster):
            # a stay begins with someone settling in (or a reader's steady rhythm)
            if open_stay:
                close()
            stays.append([cluster[lead][0] if arrival else first, last])
            stirred = -math.inf
            # settling in is no standing up, unless nothing sitting follows it (yet)
            lone = ends_with_burst and len(bursts) == 1 and len(cluster) - lead <= 2
            open_stay = True
            departed = lone or not bursts or (ends_with_burst and bursts[-1] > 0)
    if open_stay:
        close()  # as things stand: a lone burst at the end is packing up, until not
    return [(a, b + rules.tail_seconds) for a, b in stays]


def _state_at(occupied: Sequence[Interval], t: float) -> str:
    return "occupied" if any(a <= t < b for a, b in occupied) else "vacant"


def reconcile(
    live: Sequence[tuple[str, float]], occupied: Sequence[Interval], start: float, end: float,
    before: str | None = None,
) -> tuple[list[tuple[str, float]], str | None]:
    """(corrections, the history's state at ``end``) over [start, end).

    ``live`` are the live transitions (state, at) in the order written, ``before`` the
    history's state just before ``start`` (None: not known). Written after them, the
    corrections make the history equal ``occupied`` at every moment of the span where
    the live state is not ``unknown`` (a desk the agent could not see is not guessed
    at), with one correction per change only: none where the history is right already.
    """
    if end <= start:
        return [], before
    changes = {start, *(at for _, at in live if start <= at < end)}
    for a, b in occupied:
        changes.update(t for t in (a, b) if start <= t < end)
    earlier = [(at, n, state) for n, (state, at) in enumerate(live) if at <= start]
    live_state = max(earlier)[2] if earlier else None  # the newest; the last written of ties
    if live_state is not None and live_state != "unknown" and before is not None:
        live_state = before  # the earlier corrections' state carries on
    current = before if before is not None else live_state
    out = []
    for t in sorted(changes):
        here = [state for state, at in live if at == t]
        if here:
            live_state = current = here[-1]
        if live_state == "unknown":
            continue
        want = _state_at(occupied, t)
        if want != current:
            out.append((want, t))
            current = want
    return out, current


class Hindsight:
    """One PIR desk's history corrections, online.

    Feed every raw PIR sample (``sample``) and every live event (``event``) in time
    order. Every ``period`` seconds the span that has become final (older than the
    rules' ``horizon``) is re-estimated and the corrections for it are returned. Memory:
    the episodes of the last ``horizon`` + ``resume_window`` seconds and of the stay that
    may still reach into them (a working day at most), the live events not yet final, and
    the corrections held back since the desk's newest live event (one per period).
    """

    def __init__(self, desk: str = "desk", *, rules: Rules = Rules(),
                 period: float = 300.0) -> None:
        if not period > 0:
            raise ValueError("Hindsight: period must be > 0")
        self.desk = desk
        self.rules = rules
        self.period = float(period)
        self._episodes: deque[Episode] = deque()
        self._run: list[float] | None = None  # the motion run going on: [first, last]
        self._live: deque[tuple[str, float]] = deque()
        self._final_until: float | None = None  # history is corrected up to here
        self._next: float | None = None
        self._latest: float | None = None  # the newest live event's at
        self._held: list[DeskEvent] = []  # corrections not older than it (see _finalise)
        self._state: str | None = None  # the history's state at _final_until

    def sample(self, at: float, motion: object) -> list[DeskEvent]:
        """One raw PIR sample (True: motion since the previous one). A failed read
        (None) or anything that is not a bool is skipped."""
        if motion is True:
            if self._run is None:
                self._run = [at, at]
            else:
                self._run[1] = at
        elif motion is False:
            if self._run is not None:
                self._episodes.append((self._run[0], self._run[1]))
                self._run = None
        else:
            return []
        if self._final_until is None:
            self._final_until = at
            self._next = at + self.rules.horizon + self.period
        if self._next is not None and at >= self._next:
            self._next = at + self.period
            return self._finalise(at - self.rules.horizon)
        return []

    def event(self, event: DeskEvent) -> list[DeskEvent]:
        """A live event of this desk, as the state machine emitted it; returns the held
        corrections it lets out (see ``_finalise``)."""
        self._live.append((event.state, event.at))
        if self._latest is None or event.at > self._latest:
            self._latest = event.at
        ready = [c for c in self._held if c.at < event.at]
        self._held = [c for c in self._held if c.at >= event.at]
        return ready

    def _finalise(self, until: float) -> list[DeskEvent]:
        start = self._final_until
        if start is None or until <= start:
            return []
        episodes = list(self._episodes)
        if self._run is not None:
            episodes.append((self._run[0], self._run[1]))
        occupied = reestimate(episodes, self.rules)
        # forget what can no longer matter: episodes before both the reach behind the
        # new final point and the stay that may still reach it (a stay needs its start)
        reach = max(2 * self.rules.window, self.rules.resume_window)  # a stay's pull
        keep_from = until - self.rules.horizon - reach
        for a, b in occupied:
            if b + reach >= keep_from:
                keep_from = min(keep_from, a)
                break
        while self._episodes and self._episodes[0][1] < keep_from:
            self._episodes.popleft()
        live = list(self._live)
        corrections, self._state = reconcile(live, occupied, start, until, self._state)
        self._final_until = until
        while len(self._live) > 1 and self._live[1][1] < until:
            self._live.popleft()  # the latest one before ``until`` is kept
        # The hub moves a desk's live state to an event at least as new as its own, so a
        # correction at or after the newest live event would move the map: it is held
        # until a newer live event makes it history.
        out = []
        for state, at in corrections:
            correction = DeskEvent(self.desk, state, at)  # type: ignore[arg-type]
            if self._latest is not None and at < self._latest:
                out.append(correction)
            else:
                self._held.append(correction)
        return out
