"""Applying decoded edge messages to the hub tables, inside the caller's transaction.

Rules (DESIGN.md, "Wire protocol v1"):
- ``(agent, boot, seq)`` identifies a message: a second copy is counted and changes nothing;
  a seq that jumps ahead of the highest seen for that boot counts a gap.
- A desks message naming a desk that does not exist, is in another site or is assigned to
  another agent is rejected whole, to ``dead_letters`` with a reason naming the desk.
- Live desk state only moves forward in event time: a late event is stored as a
  transition (the rollups use it) but never overwrites a newer live state.
- A last-will (or a missed heartbeat) makes the agent's desks ``unknown``, not vacant.
- Clock sanity (docs/protocol.md, "Clocks"): each ``health`` report (sent fresh, QoS 0, never
  queued in the outbox) gives the agent's clock offset ``received - sent``. While its size
  exceeds ``ClockPolicy.max_skew``, the agent's desk event times are corrected by it
  (``clock_corrected``) or the message is rejected (``clock_rejected``), per the policy.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from edge.protocol import (
    CheckinsMessage,
    DesksMessage,
    Health,
    Message,
    Status,
    Topic,
    ZonesMessage,
    is_id,
)

MAX_REASON = 500


@dataclass(frozen=True)
class Incoming:
    """One decoded message as it arrived; ``payload`` only feeds a dead letter's size/hash."""

    topic: Topic
    message: Message
    received: float
    payload: bytes | None = None


@dataclass(frozen=True)
class Rejected:
    topic: str
    reason: str
    received: float


@dataclass(frozen=True)
class ClockPolicy:
    """What to do with desk events of an agent whose clock is off by more than ``max_skew``."""

    max_skew: float = 120.0
    action: Literal["correct", "reject"] = "correct"


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    transitions: int = 0
    rejected: list[Rejected] = field(default_factory=list)


class _Reject(Exception):
    """Internal: this message goes to dead_letters with ``reason``."""


_DESK_STATE_UPSERT = """
INSERT INTO desk_state (desk, state, since, updated, last_at, agent)
VALUES (:desk, :state, :at, :received, :at, :agent)
ON CONFLICT (desk) DO UPDATE SET
    since = CASE WHEN excluded.state = desk_state.state THEN desk_state.since
                 ELSE excluded.since END,
    state = excluded.state,
    updated = excluded.updated,
    last_at = excluded.last_at,
    agent = excluded.agent
WHERE excluded.last_at >= desk_state.last_at
"""
_DIRTY_UPSERT = """
INSERT INTO dirty (desk, from_at) VALUES (:desk, :at)
ON CONFLICT (desk) DO UPDATE SET from_at = MIN(dirty.from_at, excluded.from_at)
"""
_TRANSITION_INSERT = """
INSERT INTO transitions (site, desk, state, at, agent, boot, seq, received)
VALUES (:site, :desk, :state, :at, :agent, :boot, :seq, :received)
"""
_TOUCH_AGENT = """
INSERT INTO agents (id, site, online, boot, last_seen) VALUES (:agent, :site, 1, :boot, :received)
ON CONFLICT (id) DO UPDATE SET
    online = CASE WHEN excluded.boot < agents.boot THEN agents.online
                  WHEN agents.will_boot IS NOT NULL AND agents.will_boot >= excluded.boot THEN 0
                  ELSE 1 END,
    boot = MAX(COALESCE(agents.boot, 0), excluded.boot),
    last_seen = MAX(COALESCE(agents.last_seen, 0), excluded.last_seen)
"""


def safe_topic(topic: str) -> str:
    """The topic with every segment that is not a plain id replaced by ``?`` (may be hostile)."""
    parts = topic.split("/")[:6]
    return "/".join(part if is_id(part) else "?" for part in parts)[:400]


def insert_dead_letter(
    conn: sqlite3.Connection, topic: str, reason: str, payload: bytes, received: float
) -> None:
    """Record a rejected message by size and SHA-256 only: the payload may hold a MAC."""
    conn.execute(
        "INSERT INTO dead_letters (received, topic, reason, size, sha256) VALUES (?, ?, ?, ?, ?)",
        (received, safe_topic(topic), reason[:MAX_REASON], len(payload),
         hashlib.sha256(payload).hexdigest()),
    )


# Per-agent gap counts ride in a batch's counts under this prefix (see count_gap).
_AGENT_GAPS = "gaps@"


def count_gap(counts: Counter[str], agent: str) -> None:
    """A seq jump within one boot of ``agent``: counted in all and for the agent, so that
    an operator sees which agent may have lost messages (``agents.gaps``, /metrics)."""
    counts["gaps"] += 1
    counts[_AGENT_GAPS + agent] += 1


def bump_counters(conn: sqlite3.Connection, counts: Counter[str]) -> None:
    """Add a batch's counts to the ``counters`` table, and its per-agent gaps to
    ``agents.gaps`` (the agents' rows exist: every message touched its agent first)."""
    totals = sorted((name, value) for name, value in counts.items()
                    if value and not name.startswith(_AGENT_GAPS))
    conn.executemany(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value",
        totals,
    )
    gaps = sorted((name[len(_AGENT_GAPS):], value) for name, value in counts.items()
                  if value and name.startswith(_AGENT_GAPS))
    if gaps:
        conn.executemany("UPDATE agents SET gaps = gaps + ? WHERE id = ?",
                         [(value, agent) for agent, value in gaps])


def apply_batch(
    conn: sqlite3.Connection, batch: Sequence[Incoming], clock: ClockPolicy | None = None
) -> ApplyResult:
    """Apply every message of ``batch``; the caller owns the transaction."""
    result = ApplyResult()
    counts: Counter[str] = Counter()
    policy = clock if clock is not None else ClockPolicy()
    for item in batch:
        try:
            if _apply_one(conn, item, counts, policy):
                result.applied += 1
        except _Reject as reject:
            reason = str(reject)
            payload = item.payload if item.payload is not None else _encoded(item.message)
            insert_dead_letter(conn, str(item.topic), reason, payload, item.received)
            counts["dead_letters"] += 1
            result.rejected.append(Rejected(str(item.topic), reason, item.received))
    bump_counters(conn, counts)
    result.duplicates = counts["duplicates"]
    result.gaps = counts["gaps"]
    result.transitions = counts["transitions"]
    return result


def _encoded(message: Message) -> bytes:
    from edge.protocol import encode

    try:
        return encode(message)
    except ValueError:
        return b""


def _apply_one(
    conn: sqlite3.Connection, item: Incoming, counts: Counter[str], clock: ClockPolicy
) -> bool:
    """Apply one message; False if it changed nothing (duplicate or stale)."""
    message, topic = item.message, item.topic
    if isinstance(message, Status):
        return _status(conn, topic, message, item.received)
    if not isinstance(message, DesksMessage | ZonesMessage | CheckinsMessage | Health):
        raise _Reject(f"the hub does not accept '{message.KIND}' messages")
    _check_agent_site(conn, topic)
    offset = _clock_offset(conn, topic.agent, clock) if isinstance(message, DesksMessage) else 0.0
    if offset and clock.action == "reject":
        counts["clock_rejected"] += 1
        raise _Reject(
            f"agent '{topic.agent}' clock is off by {offset:+.0f} s "
            f"(more than {clock.max_skew:.0f} s)"
        )
    # The agent's row is touched only for a message that is applied (or a duplicate of
    # one): an agent whose every message is refused leaves dead letters, not an agent.
    touch = {"agent": topic.agent, "site": topic.site, "boot": message.boot,
             "received": item.received}
    if isinstance(message, Health):
        conn.execute(_TOUCH_AGENT, touch)
        return _health(conn, topic, message, item.received)
    if not _register(conn, topic, message, item.received, counts):
        conn.execute(_TOUCH_AGENT, touch)
        return False
    if isinstance(message, DesksMessage):
        _check_desks(conn, topic, message)
        conn.execute(_TOUCH_AGENT, touch)
        _desks(conn, topic, message, item.received, counts, offset)
    elif isinstance(message, ZonesMessage):
        _check_zones(conn, topic, message)
        conn.execute(_TOUCH_AGENT, touch)
        _zones(conn, topic, message, item.received)
    else:
        conn.execute(_TOUCH_AGENT, touch)
    # CheckinsMessage: recorded as received (dedup) only; check-in itself comes later and
    # tokens are never stored here.
    return True


def _check_agent_site(conn: sqlite3.Connection, topic: Topic) -> tuple[int, int | None] | None:
    """Reject an agent speaking for a site other than its provisioned or first-seen one.

    ``provisioned_agents`` (hub/admin/provision.py) is checked first: the broker ACL already pins
    an agent to its site, this is the second line should the ACL be edited by hand.
    """
    provisioned = conn.execute(
        "SELECT site FROM provisioned_agents WHERE name = ?", (topic.agent,)
    ).fetchone()
    if provisioned is not None and provisioned[0] != topic.site:
        raise _Reject(
            f"agent '{topic.agent}' is provisioned for site '{provisioned[0]}', "
            f"not '{topic.site}'"
        )
    row = conn.execute(
        "SELECT site, online, boot FROM agents WHERE id = ?", (topic.agent,)
    ).fetchone()
    if row is None:
        return None
    if row[0] != topic.site:
        raise _Reject(f"agent '{topic.agent}' is registered to site '{row[0]}', not '{topic.site}'")
    return row[1], row[2]


def _register(
    conn: sqlite3.Connection,
    topic: Topic,
    message: DesksMessage | ZonesMessage | CheckinsMessage,
    received: float,
    counts: Counter[str],
) -> bool:
    """Record ``(agent, boot, seq)``; False for a duplicate. Counts gaps and late arrivals."""
    (last,) = conn.execute(
        "SELECT MAX(seq) FROM messages WHERE agent = ? AND boot = ?", (topic.agent, message.boot)
    ).fetchone()
    cursor = conn.execute(
        "INSERT OR IGNORE INTO messages (agent, boot, seq, kind, received) VALUES (?, ?, ?, ?, ?)",
        (topic.agent, message.boot, message.seq, message.KIND, received),
    )
    if cursor.rowcount == 0:
        counts["duplicates"] += 1
        return False
    counts["messages"] += 1
    if last is not None and message.seq > last + 1:
        count_gap(counts, topic.agent)
    elif last is not None and message.seq < last:
        counts["late"] += 1
    return True


def _check_desks(conn: sqlite3.Connection, topic: Topic, message: DesksMessage) -> None:
    """Refuse a desks message naming a desk unknown, of another site or another agent."""
    names = list(dict.fromkeys(event.desk for event in message.events))
    known = {
        row[0]: (row[1], row[2])
        for row in conn.execute(
            "SELECT id, site, agent FROM desks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(names),),
        )
    }
    for desk in names:
        if desk not in known:
            raise _Reject(f"unknown desk '{desk}'")
        site, agent = known[desk]
        if site != topic.site:
            raise _Reject(f"desk '{desk}' is in site '{site}', not '{topic.site}'")
        if agent is not None and agent != topic.agent:
            raise _Reject(f"desk '{desk}' is assigned to agent '{agent}', not '{topic.agent}'")


def _desks(
    conn: sqlite3.Connection,
    topic: Topic,
    message: DesksMessage,
    received: float,
    counts: Counter[str],
    offset: float = 0.0,
) -> None:
    rows = [
        {"site": topic.site, "desk": e.desk, "state": e.state,
         "at": min(e.at + offset, received) if offset else e.at, "agent": topic.agent,
         "boot": message.boot, "seq": message.seq, "received": received}
        for e in message.events
    ]
    _write_transitions(conn, rows)
    counts["transitions"] += len(rows)
    if offset:
        counts["clock_corrected"] += len(rows)


def _clock_offset(conn: sqlite3.Connection, agent: str, clock: ClockPolicy) -> float:
    """The agent's clock offset if it exceeds the tolerance, else 0 (events left as sent)."""
    row = conn.execute("SELECT clock_offset FROM agents WHERE id = ?", (agent,)).fetchone()
    if row is None or row[0] is None or abs(row[0]) <= clock.max_skew:
        return 0.0
    return float(row[0])


def _write_transitions(conn: sqlite3.Connection, rows: Iterable[dict[str, object]]) -> None:
    """Insert transitions, move live state forward, and mark the desks' rollups dirty."""
    for row in rows:
        conn.execute(_TRANSITION_INSERT, row)
        conn.execute(_DESK_STATE_UPSERT, row)
        conn.execute(_DIRTY_UPSERT, row)


def _check_zones(conn: sqlite3.Connection, topic: Topic, message: ZonesMessage) -> None:
    """Refuse a zones message naming a zone that is not in the agent's site."""
    names = list(dict.fromkeys(count.zone for count in message.counts))
    known = {
        row[0]
        for row in conn.execute(
            "SELECT id FROM zones WHERE site = ? AND id IN (SELECT value FROM json_each(?))",
            (topic.site, json.dumps(names)),
        )
    }
    for zone in names:
        if zone not in known:
            raise _Reject(f"unknown zone '{zone}' in site '{topic.site}'")


def _zones(conn: sqlite3.Connection, topic: Topic, message: ZonesMessage, received: float) -> None:
    conn.executemany(
        "INSERT INTO zone_counts (site, zone, bin, agent, devices, received) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (site, zone, bin, agent) DO UPDATE SET "
        "devices = excluded.devices, received = excluded.received",
        [(topic.site, c.zone, c.bin, topic.agent, c.devices, received) for c in message.counts],
    )


def _health(conn: sqlite3.Connection, topic: Topic, message: Health, received: float) -> bool:
    """Store the report and the clock offset it shows: health is sent fresh, never queued."""
    cursor = conn.execute(
        "UPDATE agents SET outbox_depth = ?, dropped = ?, faults = ?, uptime = ?, "
        "clock_offset = ? WHERE id = ? AND boot <= ?",
        (message.outbox_depth, message.dropped, json.dumps(list(message.sensor_faults)),
         message.uptime, round(received - message.sent, 3), topic.agent, message.boot),
    )
    return cursor.rowcount > 0


def _status(conn: sqlite3.Connection, topic: Topic, message: Status, received: float) -> bool:
    current = _check_agent_site(conn, topic)
    if current is not None and current[1] is not None and message.boot < current[1]:
        return False  # an older boot's birth or will, e.g. replayed: that boot is over
    if message.online:
        conn.execute(
            "INSERT INTO agents (id, site, online, boot, version, last_seen) "
            "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET online = 1, "
            "boot = excluded.boot, version = excluded.version, last_seen = excluded.last_seen",
            (topic.agent, topic.site, message.boot, message.version, received),
        )
        return True
    conn.execute(
        "INSERT INTO agents (id, site, online, boot, will_boot) VALUES (?, ?, 0, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET online = 0, boot = excluded.boot, "
        "will_boot = excluded.will_boot",
        (topic.agent, topic.site, message.boot, message.boot),
    )
    desks_unknown(conn, topic.agent, received, boot=message.boot)
    return True


def desks_unknown(
    conn: sqlite3.Connection, agent: str, at: float, *, boot: int | None
) -> int:
    """Make every desk this agent reports ``unknown`` from ``at`` (or its newest event).

    Desks already unknown are left alone, so a retained last-will delivered again on
    every hub reconnect adds nothing. Returns the number of desks changed.
    """
    rows = conn.execute(
        "SELECT d.id, d.site, MAX(s.last_at, ?) FROM desks d JOIN desk_state s ON s.desk = d.id "
        "WHERE (d.agent = ? OR (d.agent IS NULL AND s.agent = ?)) AND s.state != 'unknown' "
        "ORDER BY d.id",  # desk order, not the rows' storage order: ids the same on replay
        (at, agent, agent),
    ).fetchall()
    _write_transitions(conn, (
        {"site": site, "desk": desk, "state": "unknown", "at": when, "agent": agent,
         "boot": boot, "seq": None, "received": at}
        for desk, site, when in rows
    ))
    return len(rows)


def expire_agents(conn: sqlite3.Connection, cutoff: float, now: float) -> list[str]:
    """Agents online but silent since before ``cutoff``: offline, their desks unknown."""
    rows = conn.execute(
        "SELECT id, boot FROM agents WHERE online = 1 AND last_seen < ?", (cutoff,)
    ).fetchall()
    for agent, boot in rows:
        conn.execute("UPDATE agents SET online = 0 WHERE id = ?", (agent,))
        desks_unknown(conn, agent, now, boot=boot)
    return [agent for agent, _ in rows]
