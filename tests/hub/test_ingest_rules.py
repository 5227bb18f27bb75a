"""The ingest rules of hub/db/ingest_rules.py, and the SQL twin of the desk-state rule.

Why a property test: the PostgreSQL batch path replays the newest-event-wins upsert in
Python (:func:`advance_state`), the SQLite paths run it as SQL (:func:`desk_state_upsert`);
both must leave the same live state after any order of events.
"""

from __future__ import annotations

import functools
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from edge.protocol import DeskEvent, Topic
from hub.db.ingest_rules import (
    AgentRow,
    ClockPolicy,
    DeskState,
    advance_state,
    clock_correction,
    corrected_at,
    desk_state_upsert,
    plain_offset,
    sequence_news,
)
from hub.db.sqlite import migrations

TOPIC = Topic(site="hq", agent="pi-1", kind="desks")
EVENT = DeskEvent(desk="d1", state="occupied", at=1000.0)


def test_clock_within_tolerance_is_left_as_sent() -> None:
    policy = ClockPolicy(max_skew=120)
    assert clock_correction(None, policy) == 0.0
    assert clock_correction(-120.0, policy) == 0.0
    assert clock_correction(121.0, policy) == 121.0
    assert clock_correction(121.0, ClockPolicy(max_skew=120, action="reject")) is None
    assert corrected_at(1000.0, 0.0, 900.0) == 1000.0  # uncorrected: as sent, even if ahead
    assert corrected_at(1000.0, 300.0, 1200.0) == 1200.0  # never past its arrival
    assert corrected_at(1000.0, -300.0, 1200.0) == 700.0


def test_a_plain_message_needs_its_site_its_desks_and_an_accepted_clock() -> None:
    desks = {"d1": ("hq", None)}

    def plain(**changes: object) -> float | None:
        args: dict[str, object] = {"provisioned_site": "hq", "agent": AgentRow("hq", None),
                                   "desks": desks, "clock": ClockPolicy()}
        args.update(changes)
        return plain_offset(TOPIC, [EVENT], **args)  # type: ignore[arg-type]

    assert plain() == 0.0
    assert plain(provisioned_site=None, agent=AgentRow(None, None)) == 0.0  # a first message
    assert plain(agent=None) is None
    assert plain(provisioned_site="annex") is None
    assert plain(agent=AgentRow("annex", None)) is None
    assert plain(desks={}) is None
    assert plain(desks={"d1": ("annex", None)}) is None
    assert plain(desks={"d1": ("hq", "pi-2")}) is None
    assert plain(desks={"d1": ("hq", "pi-1")}) == 0.0
    assert plain(agent=AgentRow("hq", 500.0)) == 500.0
    assert plain(agent=AgentRow("hq", 500.0), clock=ClockPolicy(action="reject")) is None


def test_sequence_news() -> None:
    assert sequence_news(None, 7) is None
    assert sequence_news(6, 7) is None
    assert sequence_news(6, 9) == "gap"
    assert sequence_news(6, 3) == "late"


_EVENTS = st.lists(st.tuples(st.sampled_from(["occupied", "vacant", "unknown"]),
                             st.integers(0, 6).map(float), st.sampled_from(["pi-1", "pi-2"])),
                   min_size=1, max_size=8)


@functools.cache
def _schema() -> sqlite3.Connection:
    """The hub's real SQLite schema, in memory, migrated once for every example."""
    db = Database(memory=True)
    migrations.apply(db)
    return db.conn


@settings(max_examples=200, deadline=None)
@given(_EVENTS)
def test_the_sql_upsert_and_the_python_replay_agree(events: list[tuple[str, float, str]]) -> None:
    conn = _schema()
    conn.execute("DELETE FROM desk_state")
    sql = desk_state_upsert("(:desk, :state, :at, :received, :at, :agent)")
    replay: DeskState | None = None
    for received, (state, at, agent) in enumerate(events, start=100):
        conn.execute(sql, {"desk": "d1", "state": state, "at": at, "received": float(received),
                           "agent": agent})
        replay = advance_state(replay, state, at, float(received), agent)
    stored = conn.execute(
        "SELECT state, since, updated, last_at, agent FROM desk_state").fetchone()
    assert tuple(stored) == replay
