"""The ingest rules as pure functions: one copy, used by every apply path.

Three paths apply edge messages: the per-message one (hub/db/apply.py, both engines), the
SQLite store's set-wise batch (hub/db/sqlite/apply_set.py) and the PostgreSQL one
(hub/db/postgres/apply_set.py). They differ in how they read and write, never in what a
message means; what it means is decided here, without I/O, so a rule cannot drift
between them (issue 21, item 3; tests/hub/test_ingest_rules.py):

- the clock tolerance: an agent's events are left as sent while its clock offset is
  within ``ClockPolicy.max_skew``; beyond it they are corrected by the offset (never past
  the time the hub received them) or the message is refused, per the policy;
- a *plain* desks message (the set-wise paths may apply it): its agent is known, in the
  site it was provisioned for, its clock not refused, and every desk it names exists in
  that site, unassigned or assigned to that agent. Anything else takes the per-message
  path, which rejects it with a reason or applies it;
- the sequence: a seq more than one above the highest seen for ``(agent, boot)`` counts
  a gap, one below it a late arrival;
- live desk state moves forward in event time only (newest event wins; ``since`` keeps
  its time while the state is unchanged): :func:`advance_state` in Python, and
  :func:`desk_state_upsert` the same rule as the SQL both engines run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from edge.protocol import DeskEvent, Topic


@dataclass(frozen=True)
class ClockPolicy:
    """What to do with desk events of an agent whose clock is off by more than ``max_skew``."""

    max_skew: float = 120.0
    action: Literal["correct", "reject"] = "correct"


def clock_correction(clock_offset: float | None, clock: ClockPolicy) -> float | None:
    """The correction for an agent's event times: 0 within tolerance (or no health report
    yet), the offset beyond it, None if the policy refuses the agent's desk messages."""
    if clock_offset is None or abs(clock_offset) <= clock.max_skew:
        return 0.0
    return None if clock.action == "reject" else float(clock_offset)


def corrected_at(at: float, offset: float, received: float) -> float:
    """An event's time after the clock correction: never later than its arrival."""
    return min(at + offset, received) if offset else at


@dataclass
class AgentRow:
    """What the rules need of an agent's row; ``site`` None: no row yet."""

    site: str | None
    clock_offset: float | None


def plain_offset(
    topic: Topic,
    events: Iterable[DeskEvent],
    *,
    provisioned_site: str | None,
    agent: AgentRow | None,
    desks: Mapping[str, tuple[str, str | None] | None],
    clock: ClockPolicy,
) -> float | None:
    """The clock correction of a desks message the set-wise paths may apply, or None if it
    must take the per-message path (unknown agent, another site than its provisioning or
    its row says, a refused clock, a desk missing, in another site or another agent's).

    ``desks`` maps desk id -> ``(site, agent)`` (None or absent: no such desk)."""
    if agent is None or (provisioned_site is not None and provisioned_site != topic.site):
        return None
    if agent.site is not None and agent.site != topic.site:
        return None
    offset = clock_correction(agent.clock_offset, clock)
    if offset is None:
        return None
    for event in events:
        desk = desks.get(event.desk)
        if desk is None or desk[0] != topic.site or desk[1] not in (None, topic.agent):
            return None
    return offset


SeqNews = Literal["gap", "late", None]


def sequence_news(last: int | None, seq: int) -> SeqNews:
    """What a new (not duplicate) seq tells against the highest seen for its boot."""
    if last is not None and seq > last + 1:
        return "gap"
    if last is not None and seq < last:
        return "late"
    return None


# A desk's live state: (state, since, updated, last_at, agent)
DeskState = tuple[str, float, float, float, str | None]


def advance_state(
    old: DeskState | None, state: str, at: float, received: float, agent: str | None
) -> DeskState:
    """The live state after one event, as :func:`desk_state_upsert`'s SQL leaves it: an
    event older than the state's last one changes nothing (newest event wins)."""
    if old is None:
        return (state, at, received, at, agent)
    if at < old[3]:
        return old
    return (state, old[1] if state == old[0] else at, received, at, agent)


def desk_state_upsert(values: str) -> str:
    """The newest-event-wins upsert of ``desk_state`` (the rule of :func:`advance_state`),
    for a ``VALUES`` tuple in the caller's parameter style: (desk, state, since, updated,
    last_at, agent) with since = last_at = the event's time."""
    return f"""
INSERT INTO desk_state (desk, state, since, updated, last_at, agent)
VALUES {values}
ON CONFLICT (desk) DO UPDATE SET
    since = CASE WHEN excluded.state = desk_state.state THEN desk_state.since
                 ELSE excluded.since END,
    state = excluded.state,
    updated = excluded.updated,
    last_at = excluded.last_at,
    agent = excluded.agent
WHERE excluded.last_at >= desk_state.last_at
"""
