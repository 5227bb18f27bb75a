"""The hub's own checks behind the broker ACL (PRIVACY.md 14; docs/security.md threat 2):
an agent speaks only for its provisioned site, for its own desks, and for zones of its site."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.errors import ProtocolError
from edge.protocol import (
    CheckinsMessage,
    Config,
    DeskEvent,
    DesksMessage,
    Health,
    Message,
    Scan,
    Status,
    ZoneCount,
    ZonesMessage,
    decode,
    encode,
    parse_topic,
    topic_for,
)
from hub.admin import provision
from hub.checkin.service import handle_scans
from hub.config import HubSettings
from hub.db.sqlite.store import Incoming, SqliteStore

T0 = 1_700_000_100.0
BIN = 1_699_999_200

BUILDING: dict[str, Any] = {"sites": [
    {"id": "s1", "name": "One", "timezone": "UTC", "floors": [
        {"id": "f1", "name": "Ground", "level": 0, "zones": [
            {"id": "z1", "name": "North", "desks": [
                {"id": "d1", "name": "Desk 1", "agent": "a1"},
                {"id": "d2", "name": "Desk 2", "agent": "a2"},
            ]},
        ]},
    ]},
    {"id": "s2", "name": "Two", "timezone": "UTC", "floors": [
        {"id": "f1", "name": "Ground", "level": 0, "zones": [
            # e1 is assigned to no agent: only the site check can keep a1 away from it.
            {"id": "y1", "name": "South", "desks": [{"id": "e1", "name": "E1"}]},
        ]},
    ]},
]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "hub.db")
    store.import_building(BUILDING)
    with store.transaction() as db:
        provision.record_added(db, "p1", "s1", now=T0)  # no desk in the building yet
    yield store
    store.close()


def incoming(message: Message, site: str, agent: str = "a1") -> Incoming:
    return Incoming(parse_topic(topic_for(site, agent, message.KIND)), message, T0 + 1,
                    encode(message))


def desks(seq: int, desk: str, agent: str = "a1") -> DesksMessage:
    return DesksMessage(agent=agent, boot=1, seq=seq, sent=T0,
                        events=(DeskEvent(desk, "occupied", T0),))


def dead_letters(store: SqliteStore) -> list[tuple[str, str]]:
    return [(str(t), str(r)) for t, r in
            store.db.execute("SELECT topic, reason FROM dead_letters ORDER BY id").fetchall()]


WRONG_SITE = "agent 'p1' is provisioned for site 's1', not 's2'"


@pytest.mark.parametrize("message", [
    Status(online=True, boot=1),
    desks(1, "e1", agent="p1"),
    ZonesMessage(agent="p1", boot=1, seq=2, sent=T0, counts=(ZoneCount("y1", BIN, 7),)),
    Health(agent="p1", boot=1, sent=T0, uptime=5.0, outbox_depth=0, dropped=0),
    CheckinsMessage(agent="p1", boot=1, seq=3, sent=T0, scans=()),
], ids=lambda m: m.KIND)
def test_a_provisioned_agent_publishing_under_another_site_is_dead_lettered(
    store: SqliteStore, message: Message
) -> None:
    """Even on the agent's very first message, before the hub has seen it anywhere."""
    result = store.apply([incoming(message, "s2", agent="p1")])
    assert [r.reason for r in result.rejected] == [WRONG_SITE]
    assert dead_letters(store) == [(topic_for("s2", "p1", message.KIND), WRONG_SITE)]
    assert store.db.execute("SELECT COUNT(*) FROM agents WHERE id = 'p1'").fetchone()[0] == 0
    assert store.db.execute("SELECT COUNT(*) FROM transitions").fetchone()[0] == 0
    assert store.db.execute("SELECT COUNT(*) FROM zone_counts").fetchone()[0] == 0


def test_the_same_agent_under_its_own_site_is_applied(store: SqliteStore) -> None:
    result = store.apply([incoming(Status(online=True, boot=1), "s1", agent="p1"),
                          incoming(ZonesMessage(agent="p1", boot=1, seq=1, sent=T0,
                                                counts=(ZoneCount("z1", BIN, 7),)), "s1", "p1")])
    assert result.rejected == [] and result.applied == 2
    assert store.db.execute("SELECT site FROM agents WHERE id = 'p1'").fetchone() == ("s1",)


def test_an_agent_that_was_never_provisioned_is_held_to_its_first_site(
    store: SqliteStore,
) -> None:
    """Hubs without provisioning (the demo, anonymous test brokers) keep the older rule."""
    store.apply([incoming(Status(online=True, boot=1), "s1", agent="q1")])
    result = store.apply([incoming(desks(2, "e1", agent="q1"), "s2", agent="q1")])
    assert [r.reason for r in result.rejected] == [
        "agent 'q1' is registered to site 's1', not 's2'"]


def test_desks_must_be_the_agents_own_and_zones_in_its_site(store: SqliteStore) -> None:
    result = store.apply([
        incoming(desks(1, "d2"), "s1"),  # d2 belongs to a2
        incoming(desks(2, "nope"), "s1"),
        incoming(ZonesMessage(agent="a1", boot=1, seq=3, sent=T0,
                              counts=(ZoneCount("y1", BIN, 7),)), "s1"),  # y1 is in s2
        incoming(desks(4, "d1"), "s1"),
    ])
    assert [r.reason for r in result.rejected] == [
        "desk 'd2' is assigned to agent 'a2', not 'a1'",
        "unknown desk 'nope'",
        "unknown zone 'y1' in site 's1'",
    ]
    assert result.applied == 1
    assert store.db.execute("SELECT desk FROM transitions").fetchall() == [("d1",)]


@pytest.mark.parametrize("message", [
    Health(agent="a2", boot=1, sent=T0, uptime=5.0, outbox_depth=0, dropped=0),
    Config(agent="a2", issued=T0, key_epoch=1),
    desks(1, "d1", agent="a2"),
], ids=lambda m: m.KIND)
def test_the_agent_in_the_payload_must_match_the_topic(message: Message) -> None:
    with pytest.raises(ProtocolError, match="agent in payload does not match"):
        decode(topic_for("s1", "a1", message.KIND), encode(message), now=T0)


def test_scans_from_an_agent_speaking_for_another_site_are_refused(
    store: SqliteStore, tmp_path: Path
) -> None:
    """Even if the hub once saw the agent there (e.g. before it was provisioned for s1)."""
    with store.transaction() as db:
        db.execute("INSERT INTO agents (id, site, online, boot) VALUES ('p1', 's2', 1, 1)")
    settings = HubSettings(data_dir=tmp_path / "hub", secret_key="hub-checks-secret-0123456789")
    message = CheckinsMessage(agent="p1", boot=1, seq=1, sent=T0,
                              scans=(Scan("e1", "x" * 40, "qr", T0),))
    sent: list[tuple[str, bytes, int]] = []
    answers = handle_scans(store, settings, parse_topic(topic_for("s2", "p1", "checkins")),
                           message, lambda t, p, q: sent.append((t, p, q)), now=T0)
    assert [(a.result, a.reason) for a in answers] == [("rejected", "unknown desk")]
    assert json.loads(sent[0][1])["reason"] == "unknown desk"
