"""The SQLite store's batch apply: the rules of :mod:`hub.db.apply`, with set-wise SQL.

Why: applying message by message costs some ten SQL statements per message and a
statement per row for every event; at fleet rates that is most of the hub's time. Here a
batch is read with a few bulk queries and written with one ``executemany`` per table,
while every rule stays exactly that of :func:`hub.db.apply.apply_batch`:

- Only the plain case runs set-wise: a ``desks`` message whose agent, site, desks and
  clock are all in order. Anything else (status, health, zones, check-ins, a message that
  will be rejected) first flushes the pending writes, then goes through
  :func:`hub.db.apply._apply_one` against the up-to-date tables, as before; the cached
  state of its agent is then read again.
- Dedup stays the ``messages`` primary key ``(agent, boot, seq)``: the batch looks up
  which keys exist (one query; inside the write transaction nobody else can add any),
  and the new ones are inserted with a plain ``INSERT``, which a duplicate would make
  fail rather than count twice. Gaps and late arrivals compare with the running highest
  seq per ``(agent, boot)``, exactly as the per-message ``MAX(seq)`` did.
- Transitions, live state and dirty marks are written with the very statements of
  hub.db.apply, in message order, so ids, the newest-event-wins rule and ``since`` come out
  the same. Dirty marks keep their minimum and agent touches their maximum boot and last
  seen, so one write per desk or agent gives the same row as one per message.

PostgreSQL has its own set-wise path, hub/db/postgres/apply_set.py: several workers write there
at once, so it dedups and locks rows in the database instead of reading ahead.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge.protocol import DesksMessage
from hub.db import apply as rules
from hub.db.apply import ApplyResult, ClockPolicy, Incoming, Rejected

# pending = 1: indexed by (desk, at) later, in bulk (hub/db/transition_index.py).
_TRANSITION_INSERT = (
    "INSERT INTO transitions (site, desk, state, at, agent, boot, seq, received, pending) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)"
)
_DESK_STATE_UPSERT = """
INSERT INTO desk_state (desk, state, since, updated, last_at, agent)
VALUES (?1, ?2, ?3, ?4, ?3, ?5)
ON CONFLICT (desk) DO UPDATE SET
    since = CASE WHEN excluded.state = desk_state.state THEN desk_state.since
                 ELSE excluded.since END,
    state = excluded.state,
    updated = excluded.updated,
    last_at = excluded.last_at,
    agent = excluded.agent
WHERE excluded.last_at >= desk_state.last_at
"""
_DIRTY_UPSERT = (
    "INSERT INTO dirty (desk, from_at) VALUES (?, ?) "
    "ON CONFLICT (desk) DO UPDATE SET from_at = MIN(dirty.from_at, excluded.from_at)"
)
_TOUCH_AGENT = (
    "INSERT INTO agents (id, site, online, boot, last_seen) VALUES (?, ?, 1, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET "
    "online = CASE WHEN excluded.boot < agents.boot THEN agents.online "
    "WHEN agents.will_boot IS NOT NULL AND agents.will_boot >= excluded.boot THEN 0 "
    "ELSE 1 END, "
    "boot = MAX(COALESCE(agents.boot, 0), excluded.boot), "
    "last_seen = MAX(COALESCE(agents.last_seen, 0), excluded.last_seen)"
)
_MESSAGE_INSERT = "INSERT INTO messages (agent, boot, seq, kind, received) VALUES (?, ?, ?, ?, ?)"


@dataclass
class _Agent:
    site: str | None  # None: no row yet
    clock_offset: float | None


class _Pending:
    """Writes of set-wise applied messages, in message order, not yet sent to SQLite."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.messages: list[tuple[str, int, int, str, float]] = []
        self.transitions: list[tuple[str, str, str, float, str, int, int, float]] = []
        self.states: list[tuple[str, str, float, float, str]] = []
        self.dirty: dict[str, float] = {}
        self.touches: dict[str, tuple[str, int, float]] = {}

    def touch(self, agent: str, site: str, boot: int, received: float) -> None:
        old = self.touches.get(agent)
        if old is not None:
            boot, received = max(boot, old[1]), max(received, old[2])
        self.touches[agent] = (site, boot, received)

    def flush(self, conn: sqlite3.Connection) -> None:
        if self.touches:
            conn.executemany(_TOUCH_AGENT, [(agent, site, boot, received) for agent, (
                site, boot, received) in self.touches.items()])
        if self.messages:
            conn.executemany(_MESSAGE_INSERT, self.messages)
        if self.transitions:
            conn.executemany(_TRANSITION_INSERT, self.transitions)
            conn.executemany(_DESK_STATE_UPSERT, self.states)
            conn.executemany(_DIRTY_UPSERT, self.dirty.items())
        self.clear()


class _Known:
    """What the batch needs from the tables, read in bulk and kept current as it applies."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.agents: dict[str, _Agent] = {}
        self.provisioned: dict[str, str | None] = {}
        self.desks: dict[str, tuple[str, str | None] | None] = {}
        self.top: dict[tuple[str, int], int | None] = {}  # highest seq per (agent, boot)
        self.seen: set[tuple[str, int, int]] = set()  # keys stored, before or in this batch
        self.last: tuple[str, int, int] | None = None  # the last key this batch stored

    def load(self, items: Iterable[Incoming]) -> None:
        messages = [item.message for item in items if isinstance(item.message, DesksMessage)]
        # (Never ``set - dict.keys()``: that walks the whole dict, every agent or desk.)
        agents = sorted({m.agent for m in messages if m.agent not in self.agents})
        if agents:
            names = json.dumps(agents)
            self.provisioned.update(dict.fromkeys(agents))
            self.provisioned.update(self.conn.execute(
                "SELECT name, site FROM provisioned_agents "
                "WHERE name IN (SELECT value FROM json_each(?))", (names,)))
            self.agents.update({agent: _Agent(None, None) for agent in agents})
            for agent, site, offset in self.conn.execute(
                "SELECT id, site, clock_offset FROM agents "
                "WHERE id IN (SELECT value FROM json_each(?))", (names,)):
                self.agents[agent] = _Agent(site, offset)
        desks = sorted({e.desk for m in messages for e in m.events if e.desk not in self.desks})
        if desks:
            self.desks.update(dict.fromkeys(desks))
            self.desks.update({desk: (site, agent) for desk, site, agent in self.conn.execute(
                "SELECT id, site, agent FROM desks WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(desks),))})
        pairs = sorted({(m.agent, m.boot) for m in messages if (m.agent, m.boot) not in self.top})
        if pairs:
            self.top.update(dict.fromkeys(pairs))
            self.top.update({(agent, boot): top for agent, boot, top in self.conn.execute(
                "SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), "
                "(SELECT MAX(seq) FROM messages WHERE agent = json_extract(j.value, '$[0]') "
                "AND boot = json_extract(j.value, '$[1]')) FROM json_each(?) j",
                (json.dumps(pairs),))})
        # Only a seq at or below the stored maximum can be stored already.
        keys = [(m.agent, m.boot, m.seq) for m in messages
                if (top := self.top.get((m.agent, m.boot))) is not None and m.seq <= top]
        if keys:
            self.seen.update(
                (agent, boot, seq) for agent, boot, seq in self.conn.execute(
                    "SELECT m.agent, m.boot, m.seq FROM json_each(?) j JOIN messages m "
                    "ON m.agent = json_extract(j.value, '$[0]') "
                    "AND m.boot = json_extract(j.value, '$[1]') "
                    "AND m.seq = json_extract(j.value, '$[2]')", (json.dumps(keys),))
            )

    def refresh(self, item: Incoming) -> None:
        """Read again what the per-message path may have changed for ``item``'s agent."""
        agent = item.topic.agent
        row = self.conn.execute(
            "SELECT site, clock_offset FROM agents WHERE id = ?", (agent,)).fetchone()
        if agent in self.agents:
            self.agents[agent] = _Agent(None, None) if row is None else _Agent(*row)
        boot, seq = getattr(item.message, "boot", None), getattr(item.message, "seq", None)
        if boot is None or seq is None:
            return
        (top,) = self.conn.execute(
            "SELECT MAX(seq) FROM messages WHERE agent = ? AND boot = ?", (agent, boot)
        ).fetchone()
        self.top[(agent, boot)] = top
        if self.conn.execute("SELECT 1 FROM messages WHERE agent = ? AND boot = ? AND seq = ?",
                             (agent, boot, seq)).fetchone() is not None:
            self.seen.add((agent, boot, seq))


# SQLite's page cache for the connection applying batches (default 2 MiB): the indexes
# of transitions, desk_state and messages for a fleet of 16,000 desks do not fit in that,
# and every batch read their pages back from the file (load bench: ~10 % of the time).
CACHE_KIB = 65_536


class Cache:
    """What one connection's last batch knew (agents, desks, highest seqs), for the next.

    Why: reading them again costs a few bulk queries per batch, a fifth of the batch's
    time. The knowledge is reused only while it is exact: no row it was read from has
    changed since (the ``_ingest_epoch`` generation, which triggers on desks, agents,
    provisioned agents and messages advance, is unchanged: a building edit, a provisioning,
    a new agent), and the last batch committed (its last stored message key is there; a
    rolled-back batch would leave its own writes in the cache). Anything else starts
    afresh. Commits that touch none of those rows (the rollups, agent expiry) keep it.
    """

    def __init__(self) -> None:
        self.known: _Known | None = None
        self.version: int | None = None
        self.sentinel: tuple[str, int, int] | None = None

    def take(self, conn: sqlite3.Connection) -> _Known:
        if self.version is None:  # this connection writes batches: keep its pages cached
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        (version,) = conn.execute("SELECT generation FROM _ingest_epoch").fetchone()
        known, sentinel, self.known, self.sentinel = self.known, self.sentinel, None, None
        reuse = (
            known is not None and sentinel is not None and version == self.version
            and conn.execute("SELECT 1 FROM messages WHERE agent = ? AND boot = ? AND seq = ?",
                             sentinel).fetchone() is not None
        )
        self.version = version
        if known is None or not reuse:
            return _Known(conn)
        known.seen.clear()
        known.last = None
        return known

    def keep(self, known: _Known) -> None:
        """After the batch: keep ``known`` if the batch stored a message (its proof)."""
        if known.last is not None:
            self.known, self.sentinel = known, known.last


def apply_batch(
    conn: sqlite3.Connection,
    batch: Sequence[Incoming],
    clock: ClockPolicy | None = None,
    cache: Cache | None = None,
) -> ApplyResult:
    """Apply every message of ``batch`` as :func:`hub.db.apply.apply_batch` would; with a
    ``cache`` (one per connection), what the last batch read is reused while valid."""
    result = ApplyResult()
    counts: Counter[str] = Counter()
    policy = clock if clock is not None else ClockPolicy()
    known = cache.take(conn) if cache is not None else _Known(conn)
    known.load(batch)
    pending = _Pending()
    for item in batch:
        message = item.message
        if isinstance(message, DesksMessage):
            offset = _plain_offset(known, item, message, policy)
            if offset is not None:
                if _apply_desks(known, pending, item, message, offset, counts):
                    result.applied += 1
                continue
        pending.flush(conn)
        try:
            if rules._apply_one(conn, item, counts, policy):
                result.applied += 1
        except rules._Reject as reject:
            reason = str(reject)
            payload = item.payload if item.payload is not None else rules._encoded(message)
            rules.insert_dead_letter(conn, str(item.topic), reason, payload, item.received)
            counts["dead_letters"] += 1
            result.rejected.append(Rejected(str(item.topic), reason, item.received))
        known.refresh(item)
    pending.flush(conn)
    rules.bump_counters(conn, counts)
    if cache is not None:
        cache.keep(known)
    result.duplicates = counts["duplicates"]
    result.gaps = counts["gaps"]
    result.transitions = counts["transitions"]
    return result


def _plain_offset(
    known: _Known, item: Incoming, message: DesksMessage, clock: ClockPolicy
) -> float | None:
    """The clock correction for a message the set-wise path may apply; None if it may not
    (it is for another site, names a desk it may not, or its agent's clock is refused)."""
    topic = item.topic
    provisioned = known.provisioned.get(topic.agent)
    agent = known.agents.get(topic.agent)
    if agent is None or (provisioned is not None and provisioned != topic.site):
        return None
    if agent.site is not None and agent.site != topic.site:
        return None
    offset = agent.clock_offset
    if offset is None or abs(offset) <= clock.max_skew:
        offset = 0.0
    elif clock.action == "reject":
        return None
    for event in message.events:
        desk = known.desks.get(event.desk)
        if desk is None or desk[0] != topic.site or desk[1] not in (None, topic.agent):
            return None
    return float(offset)


def _apply_desks(
    known: _Known,
    pending: _Pending,
    item: Incoming,
    message: DesksMessage,
    offset: float,
    counts: Counter[str],
) -> bool:
    """Apply one plain desks message to ``pending``; False for a duplicate."""
    topic, received = item.topic, item.received
    agent, boot, seq = topic.agent, message.boot, message.seq
    pending.touch(agent, topic.site, boot, received)
    state = known.agents[agent]
    if state.site is None:
        state.site = topic.site  # the touch creates its row: later messages see that site
    key = (agent, boot, seq)
    if key in known.seen:
        counts["duplicates"] += 1
        return False
    known.seen.add(key)
    counts["messages"] += 1
    last = known.top.get((agent, boot))
    if last is not None and seq > last + 1:
        rules.count_gap(counts, agent)
    elif last is not None and seq < last:
        counts["late"] += 1
    if last is None or seq > last:
        known.top[(agent, boot)] = seq
    pending.messages.append((agent, boot, seq, message.KIND, received))
    known.last = key
    site, dirty = topic.site, pending.dirty
    for event in message.events:
        at = min(event.at + offset, received) if offset else event.at
        desk = event.desk
        pending.transitions.append((site, desk, event.state, at, agent, boot, seq, received))
        pending.states.append((desk, event.state, at, received, agent))
        if desk not in dirty or at < dirty[desk]:
            dirty[desk] = at
    counts["transitions"] += len(message.events)
    if offset:
        counts["clock_corrected"] += len(message.events)
    return True
