"""Plain ``desks`` messages applied set-wise on PostgreSQL, safe beside other workers.

Why: the per-message path (hub/db/apply.py) runs some ten statements per message and three
per event, each a round trip and an executor run; with it PostgreSQL spent ~70 % of the
CPU of one worker's ingest (docs/scale.md). Here a batch's plain messages take a fixed
handful of array statements (``unnest``) per flush, while every rule stays exactly that
of :func:`hub.db.apply.apply_batch`, as hub/db/sqlite/apply_set.py does on SQLite. What differs from
SQLite is that other workers write the same tables meanwhile:

- Only the plain case runs set-wise: a ``desks`` message whose agent, site and desks are
  in order and whose agent's clock is not refused (read in bulk at the start). Anything
  else first flushes the pending writes, then goes through :func:`hub.db.apply._apply_one`;
  the cached view of its agent is then read again.
- A flush first touches its agents in one upsert, sorted by agent. Like the per-message
  path's touch it locks their rows until commit, so a worker applying messages of the
  same agent waits there, and what this flush reads next is that agent's committed
  state. The upsert leaves a row of another site alone and returns the site-checked
  agents' clock offsets as of the lock; a message whose agent is not returned, or whose
  clock is now refused, goes through the per-message path after the flush (which rejects
  it), so a health report another worker stored just before is honoured.
- Dedup is the ``messages`` primary key: the highest seq per ``(agent, boot)`` is read,
  then ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` the keys; only returned keys (first
  copy in the batch) are new and get their events. Gaps and late arrivals compare with
  the running highest seq in message order, as the per-message ``MAX(seq)`` did.
- Transitions go in with one insert in message order. Live state: the desks'
  ``desk_state`` rows are locked (``FOR UPDATE``, desk order), the newest-event-wins and
  ``since`` rules are replayed on them in message order (the very comparisons of
  hub.db.apply's upsert), and changed rows written back in one ``UPDATE``. A desk without a
  row gets one ``INSERT ... ON CONFLICT DO NOTHING``; if another worker inserted it first,
  that desk's events go through hub.db.apply's upsert one by one. Dirty marks keep their
  minimum per desk, one upsert in desk order.

Locks are taken in the per-message path's table order (agents, messages, desk_state,
dirty), each table's rows in PostgreSQL's ``ORDER BY`` order (the order the rollups lock
dirty marks in), so set-wise workers cannot deadlock on one another or on the rollups.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from edge.protocol import DesksMessage
from hub.db import apply as rules
from hub.db.apply import ApplyResult, ClockPolicy, Incoming, Rejected

if TYPE_CHECKING:
    import sqlite3

    from hub.db.postgres.connection import PgDb

_TOUCH_AGENTS = """
INSERT INTO agents AS a (id, site, online, boot, last_seen)
SELECT id, site, 1, boot, seen
FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::float8[]) AS t(id, site, boot, seen)
ORDER BY id
ON CONFLICT (id) DO UPDATE SET
    online = CASE WHEN excluded.boot < a.boot THEN a.online
                  WHEN a.will_boot IS NOT NULL AND a.will_boot >= excluded.boot THEN 0
                  ELSE 1 END,
    boot = GREATEST(COALESCE(a.boot, 0), excluded.boot),
    last_seen = GREATEST(COALESCE(a.last_seen, 0), excluded.last_seen)
WHERE a.site = excluded.site
RETURNING id, clock_offset
"""
_TOP_SEQ = """
SELECT t.agent, t.boot,
       (SELECT MAX(m.seq) FROM messages m WHERE m.agent = t.agent AND m.boot = t.boot)
FROM unnest(%s::text[], %s::bigint[]) AS t(agent, boot)
"""
_INSERT_MESSAGES = """
INSERT INTO messages (agent, boot, seq, kind, received)
SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::float8[])
    AS u(agent, boot, seq, kind, received)
ORDER BY agent, boot, seq
ON CONFLICT DO NOTHING
RETURNING agent, boot, seq
"""
_INSERT_TRANSITIONS = """
INSERT INTO transitions (site, desk, state, at, agent, boot, seq, received)
SELECT site, desk, state, at, agent, boot, seq, received
FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::text[],
            %s::bigint[], %s::bigint[], %s::float8[])
    WITH ORDINALITY AS u(site, desk, state, at, agent, boot, seq, received, n)
ORDER BY n
"""
_LOCK_STATES = """
SELECT desk, state, since, updated, last_at, agent FROM desk_state
WHERE desk = ANY(%s) ORDER BY desk FOR UPDATE
"""
_UPDATE_STATES = """
UPDATE desk_state s SET state = u.state, since = u.since, updated = u.updated,
    last_at = u.last_at, agent = u.agent
FROM unnest(%s::text[], %s::text[], %s::float8[], %s::float8[], %s::float8[], %s::text[])
    AS u(desk, state, since, updated, last_at, agent)
WHERE s.desk = u.desk
"""
_INSERT_STATES = """
INSERT INTO desk_state (desk, state, since, updated, last_at, agent)
SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[], %s::float8[], %s::float8[],
                     %s::text[]) AS u(desk, state, since, updated, last_at, agent)
ORDER BY desk
ON CONFLICT (desk) DO NOTHING
RETURNING desk
"""
_MARK_DIRTY = """
INSERT INTO dirty (desk, from_at)
SELECT * FROM unnest(%s::text[], %s::float8[]) AS u(desk, from_at) ORDER BY desk
ON CONFLICT (desk) DO UPDATE SET from_at = LEAST(dirty.from_at, excluded.from_at)
"""

# desk_state's columns after the desk: state, since, updated, last_at, agent
_State = tuple[str, float, float, float, str | None]
# one event for desk_state, in message order: desk, state, at, received, agent
_Event = tuple[str, str, float, float, str]


@dataclass
class _Agent:
    site: str | None  # None: no row yet
    clock_offset: float | None


@dataclass
class _Known:
    """Provisioned sites, agents and desks the batch names, read in bulk (no locks)."""

    provisioned: dict[str, str] = field(default_factory=dict)
    agents: dict[str, _Agent] = field(default_factory=dict)
    desks: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def load(self, conn: PgDb, batch: Sequence[Incoming]) -> None:
        plain = [item for item in batch if isinstance(item.message, DesksMessage)]
        agents = sorted({item.topic.agent for item in plain})
        desks = sorted({e.desk for item in plain for e in cast(DesksMessage, item.message).events})
        if not agents:
            return
        raw = conn.raw
        self.provisioned = dict(raw.execute(
            "SELECT name, site FROM provisioned_agents WHERE name = ANY(%s)", (agents,)))
        self.agents = {agent: _Agent(None, None) for agent in agents}
        for agent, site, offset in raw.execute(
                "SELECT id, site, clock_offset FROM agents WHERE id = ANY(%s)", (agents,)):
            self.agents[agent] = _Agent(site, offset)
        self.desks = {desk: (site, agent) for desk, site, agent in raw.execute(
            "SELECT id, site, agent FROM desks WHERE id = ANY(%s)", (desks,))}

    def refresh(self, conn: PgDb, agent: str) -> None:
        """Read ``agent`` again after the per-message path may have changed its row."""
        if agent in self.agents:
            row = conn.raw.execute(
                "SELECT site, clock_offset FROM agents WHERE id = %s", (agent,)).fetchone()
            self.agents[agent] = _Agent(None, None) if row is None else _Agent(*row)

    def plain(self, item: Incoming, message: DesksMessage, clock: ClockPolicy) -> bool:
        """Whether the set-wise path may apply ``item`` (else hub.db.apply decides)."""
        topic = item.topic
        provisioned = self.provisioned.get(topic.agent)
        agent = self.agents.get(topic.agent)
        if agent is None or (provisioned is not None and provisioned != topic.site):
            return False
        if agent.site is not None and agent.site != topic.site:
            return False
        if _offset(agent.clock_offset, clock) is None:
            return False
        for event in message.events:
            desk = self.desks.get(event.desk)
            if desk is None or desk[0] != topic.site or desk[1] not in (None, topic.agent):
                return False
        if agent.site is None:
            agent.site = topic.site  # its touch creates the row: later messages see that site
        return True


def _offset(clock_offset: float | None, clock: ClockPolicy) -> float | None:
    """The correction for an agent's events: 0 within tolerance, None if refused."""
    if clock_offset is None or abs(clock_offset) <= clock.max_skew:
        return 0.0
    return None if clock.action == "reject" else float(clock_offset)


def apply_batch(
    conn: PgDb, batch: Sequence[Incoming], clock: ClockPolicy | None = None
) -> ApplyResult:
    """Apply ``batch`` (sorted by agent, see PostgresStore.apply) as
    :func:`hub.db.apply.apply_batch` would; the caller owns the transaction."""
    result = ApplyResult()
    counts: Counter[str] = Counter()
    policy = clock if clock is not None else ClockPolicy()
    known = _Known()
    known.load(conn, batch)
    pending: list[tuple[Incoming, DesksMessage]] = []
    for item in batch:
        message = item.message
        if isinstance(message, DesksMessage) and known.plain(item, message, policy):
            pending.append((item, message))
            continue
        for late in _flush(conn, pending, policy, counts, result):
            _one(conn, late, policy, counts, result)
        pending = []
        _one(conn, item, policy, counts, result)
        known.refresh(conn, item.topic.agent)
    for late in _flush(conn, pending, policy, counts, result):
        _one(conn, late, policy, counts, result)
    rules.bump_counters(cast("sqlite3.Connection", conn), counts)
    result.duplicates = counts["duplicates"]
    result.gaps = counts["gaps"]
    result.transitions = counts["transitions"]
    return result


def _one(
    conn: PgDb, item: Incoming, clock: ClockPolicy, counts: Counter[str], result: ApplyResult
) -> None:
    """One message through hub.db.apply's per-message path (a rejection to dead letters)."""
    sqlite_like = cast("sqlite3.Connection", conn)
    try:
        if rules._apply_one(sqlite_like, item, counts, clock):
            result.applied += 1
    except rules._Reject as reject:
        reason = str(reject)
        payload = item.payload if item.payload is not None else rules._encoded(item.message)
        rules.insert_dead_letter(sqlite_like, str(item.topic), reason, payload, item.received)
        counts["dead_letters"] += 1
        result.rejected.append(Rejected(str(item.topic), reason, item.received))


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as ``width`` column lists, the parameters of an ``unnest`` statement."""
    return [[row[k] for row in rows] for k in range(width)] if rows else [[]] * width


def _flush(
    conn: PgDb,
    pending: list[tuple[Incoming, DesksMessage]],
    clock: ClockPolicy,
    counts: Counter[str],
    result: ApplyResult,
) -> list[Incoming]:
    """Write ``pending``; returns the messages that must take the per-message path."""
    if not pending:
        return []
    raw = conn.raw
    touches: dict[str, tuple[str, int, float]] = {}
    for item, message in pending:
        old = touches.get(item.topic.agent)
        boot, received = message.boot, item.received
        if old is not None:
            boot, received = max(boot, old[1]), max(received, old[2])
        touches[item.topic.agent] = (item.topic.site, boot, received)
    rows = [(agent, *touches[agent]) for agent in sorted(touches)]
    offsets = {agent: _offset(offset, clock)
               for agent, offset in raw.execute(_TOUCH_AGENTS, _columns(rows, 4))}
    late = [item for item, _ in pending if offsets.get(item.topic.agent) is None]
    go = [(item, message) for item, message in pending
          if offsets.get(item.topic.agent) is not None]
    if not go:
        return late
    pairs = sorted({(item.topic.agent, message.boot) for item, message in go})
    top: dict[tuple[str, int], int | None] = {
        (agent, boot): seq for agent, boot, seq in raw.execute(_TOP_SEQ, _columns(pairs, 2))}
    first: dict[tuple[str, int, int], float] = {}
    for item, message in go:
        first.setdefault((item.topic.agent, message.boot, message.seq), item.received)
    keys = sorted(first)
    new = {(agent, boot, seq) for agent, boot, seq in raw.execute(_INSERT_MESSAGES, [
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
        ["desks"] * len(keys), [first[k] for k in keys]])}
    transitions: list[tuple[str, str, str, float, str, int, int, float]] = []
    events: list[_Event] = []
    dirty: dict[str, float] = {}
    for item, message in go:
        agent, boot, seq, received = item.topic.agent, message.boot, message.seq, item.received
        key = (agent, boot, seq)
        if key not in new:
            counts["duplicates"] += 1
            continue
        new.discard(key)  # a second copy in this batch is a duplicate
        counts["messages"] += 1
        result.applied += 1
        last = top.get((agent, boot))
        if last is not None and seq > last + 1:
            rules.count_gap(counts, agent)
        elif last is not None and seq < last:
            counts["late"] += 1
        if last is None or seq > last:
            top[(agent, boot)] = seq
        offset = offsets[agent] or 0.0
        for event in message.events:
            at = min(event.at + offset, received) if offset else event.at
            transitions.append((item.topic.site, event.desk, event.state, at, agent, boot, seq,
                                received))
            events.append((event.desk, event.state, at, received, agent))
            if event.desk not in dirty or at < dirty[event.desk]:
                dirty[event.desk] = at
        counts["transitions"] += len(message.events)
        if offset:
            counts["clock_corrected"] += len(message.events)
    if transitions:
        raw.execute(_INSERT_TRANSITIONS, _columns(transitions, 8))
        _write_states(conn, events)
        marks = sorted(dirty.items())
        raw.execute(_MARK_DIRTY, _columns(marks, 2))
    return late


def _write_states(conn: PgDb, events: list[_Event]) -> None:
    """Move live state forward as hub.db.apply's upsert, event by event, would."""
    raw = conn.raw
    desks = sorted({event[0] for event in events})
    stored: dict[str, _State] = {
        desk: (state, since, updated, last_at, agent)
        for desk, state, since, updated, last_at, agent in raw.execute(_LOCK_STATES, (desks,))}
    states: dict[str, _State] = dict(stored)
    for desk, state, at, received, agent in events:
        old = states.get(desk)
        if old is None:
            states[desk] = (state, at, received, at, agent)
        elif at >= old[3]:  # WHERE excluded.last_at >= desk_state.last_at
            states[desk] = (state, old[1] if state == old[0] else at, received, at, agent)
    changed = [(desk, *states[desk]) for desk in desks
               if desk in stored and states[desk] != stored[desk]]
    if changed:
        raw.execute(_UPDATE_STATES, _columns(changed, 6))
    fresh = [(desk, *states[desk]) for desk in desks if desk not in stored]
    if not fresh:
        return
    inserted = {desk for (desk,) in raw.execute(_INSERT_STATES, _columns(fresh, 6))}
    raced = {desk for desk, *_ in fresh} - inserted  # another worker inserted it first
    if raced:
        conn.executemany(rules._DESK_STATE_UPSERT, [
            {"desk": desk, "state": state, "at": at, "received": received, "agent": agent}
            for desk, state, at, received, agent in events if desk in raced])
