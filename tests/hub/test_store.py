"""The Store on both engines (a SQLite file and a throw-away PostgreSQL): building import,
apply rules, frames, threads. The ``backend`` fixture (tests/hub/conftest.py) runs each twice."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.protocol import (
    CheckinsMessage,
    DeskEvent,
    DesksMessage,
    Health,
    Message,
    Scan,
    Status,
    ZoneCount,
    ZonesMessage,
    parse_topic,
    topic_for,
)
from hub.db.protocol import Store
from hub.db.sqlite.store import Incoming
from hub.errors import ConfigError, NotFound, StoreError
from hub.metrics.kernel import OCCUPIED, UNKNOWN, VACANT
from tests.hub.store_data import T0, building
from tests.support.stores import StoreFactory


@pytest.fixture
def store(open_test_store: StoreFactory) -> Iterator[Store]:
    s = open_test_store()
    s.import_building(building())
    yield s


def assert_not_stored(store: Store, needle: bytes) -> None:
    """``needle`` is nowhere in the database: the SQLite file's bytes, every PostgreSQL row."""
    if store.dialect == "sqlite":
        store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert needle not in Path(store.path).read_bytes()
        return
    tables = [row[0] for row in store.db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
    assert "dead_letters" in tables
    for table in tables:
        for (text,) in store.db.execute(f"SELECT t::text FROM {table} t"):  # noqa: S608
            assert needle.decode() not in text, table


def incoming(message: Message, *, site: str = "s1", agent: str = "a1",
             received: float = T0 + 1) -> Incoming:
    return Incoming(parse_topic(topic_for(site, agent, message.KIND)), message, received)


def desks_msg(seq: int, *events: tuple[str, str, float], agent: str = "a1",
              boot: int = 1) -> DesksMessage:
    return DesksMessage(
        agent=agent, boot=boot, seq=seq, sent=T0,
        events=tuple(DeskEvent(d, s, at) for d, s, at in events),  # type: ignore[arg-type]
    )


def state(store: Store, desk: str, site: str = "s1") -> tuple[str, float | None]:
    row = next(d for d in store.desks(site) if d["id"] == desk)
    return row["state"], row["since"]


# -- building ------------------------------------------------------------------------------

def test_import_lists_sites_floors_zones_and_desks(store: Store) -> None:
    assert [s["id"] for s in store.sites()] == ["s1", "s2"]
    s1 = store.site("s1")
    assert s1["core_hours"] == {"days": [0, 1, 2, 3, 4], "start": "07:00", "end": "19:00"}
    assert store.site("s2")["core_hours"] == {"days": [0, 1, 2, 3, 4], "start": "08:00",
                                              "end": "18:00"}
    assert store.floors("s1") == [{"id": "f1", "name": "Ground", "level": 0}]
    assert store.zones("s1") == [{"id": "z1", "floor": "f1", "name": "North"},
                                 {"id": "z2", "floor": "f1", "name": "South"}]
    desks = store.desks("s1")
    assert [d["id"] for d in desks] == ["d1", "d2", "d3", "d4"]
    assert desks[0] == {"id": "d1", "name": "Desk 1", "floor": "f1", "zone": "z1", "agent": "a1",
                        "x": 1.5, "y": 2.0, "assigned": 0, "state": "unknown", "since": None}
    assert desks[3]["agent"] is None and desks[3]["x"] is None
    assert store.desk_site("e1") == "s2" and store.desk_site("nope") is None
    assert {a["id"]: a["site"] for a in store.agents()} == {"a1": "s1", "a2": "s1", "b1": "s2"}
    with pytest.raises(NotFound, match="no site 'zz'"):
        store.site("zz")


def test_import_is_an_idempotent_upsert(store: Store) -> None:
    changed = building()
    changed["sites"][0]["floors"][0]["zones"][0]["desks"][0]["name"] = "Window desk"
    store.import_building(changed)
    store.import_building(changed)
    desks = store.desks("s1")
    assert len(desks) == 4 and desks[0]["name"] == "Window desk"
    assert len(store.zones("s1")) == 2 and len(store.sites()) == 2


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda b: b["sites"][0].update(timezone="Mars/Olympus"),
     "sites[0].timezone is not a known time zone: 'Mars/Olympus'"),
    (lambda b: b["sites"][0]["floors"][0]["zones"][1]["desks"][0].update(id="D 3"),
     "sites[0].floors[0].zones[1].desks[0].id must be an id matching [a-z0-9-]{1,64}"),
    (lambda b: b["sites"][1]["floors"][0]["zones"][0]["desks"][0].update(id="d1"),
     "sites[1].floors[0].zones[0].desks[0].id: desk 'd1' appears twice"),
    (lambda b: b["sites"][0].update(core_hours={"days": [0], "start": "18:00", "end": "08:00"}),
     "sites[0].core_hours.start must be before sites[0].core_hours.end"),
])
def test_import_rejects_a_bad_building_with_the_place(
    open_test_store: StoreFactory, mutate: Any, message: str
) -> None:
    s = open_test_store()
    data = building()
    mutate(data)
    with pytest.raises(ConfigError) as info:
        s.import_building(data)
    assert str(info.value) == message
    assert s.sites() == []  # nothing half-imported
    s.close()


# -- apply: dedup, gaps, dead letters ------------------------------------------------------

def test_same_message_twice_is_one_transition_and_one_duplicate(store: Store) -> None:
    msg = desks_msg(1, ("d1", "occupied", T0))
    first = store.apply([incoming(msg), incoming(msg)])
    second = store.apply([incoming(msg, received=T0 + 5)])
    assert (first.applied, first.duplicates, second.applied, second.duplicates) == (1, 1, 0, 1)
    frame = store.transitions(["d1"], 0, T0 + 10)
    assert len(frame) == 1
    assert store.counters()["duplicates"] == 2
    assert store.counters()["messages"] == 1
    assert state(store, "d1") == ("occupied", T0)


def test_a_seq_jump_counts_a_gap_and_a_late_arrival(store: Store) -> None:
    result = store.apply([
        incoming(desks_msg(1, ("d1", "occupied", T0))),
        incoming(desks_msg(2, ("d1", "vacant", T0 + 10))),
        incoming(desks_msg(5, ("d1", "occupied", T0 + 20))),
    ])
    assert result.gaps == 1
    store.apply([incoming(desks_msg(3, ("d2", "occupied", T0 + 15)))])
    # A new boot starts its own sequence: no gap for its first message.
    store.apply([incoming(desks_msg(7, ("d2", "vacant", T0 + 30), boot=2))])
    counters = store.counters()
    assert (counters["gaps"], counters["late"], counters["messages"]) == (1, 1, 5)


def test_foreign_desks_go_to_dead_letters_and_the_rest_of_the_batch_is_kept(
    store: Store,
) -> None:
    mac = "aa:bb:cc:dd:ee:ff"
    bad_site = incoming(desks_msg(2, ("d1", "occupied", T0), ("e1", "occupied", T0)))
    bad_agent = incoming(desks_msg(3, ("d3", "occupied", T0)))
    unknown = Incoming(
        bad_site.topic, desks_msg(4, ("d9", "occupied", T0)), T0 + 2,
        payload=f'{{"note": "{mac}"}}'.encode(),
    )
    good = incoming(desks_msg(1, ("d2", "occupied", T0)))
    any_agent = incoming(desks_msg(5, ("d4", "vacant", T0)))
    result = store.apply([bad_site, good, bad_agent, unknown, any_agent])
    assert [r.reason for r in result.rejected] == [
        "desk 'e1' is in site 's2', not 's1'",
        "desk 'd3' is assigned to agent 'a2', not 'a1'",
        "unknown desk 'd9'",
    ]
    assert result.applied == 2
    assert state(store, "d2") == ("occupied", T0)
    assert state(store, "d4") == ("vacant", T0)
    assert state(store, "d1") == ("unknown", None)  # the rejected message changed nothing
    letters = store.dead_letters()
    assert [d["reason"] for d in letters][0] == "unknown desk 'd9'"
    assert letters[0]["topic"] == "deskpulse/v1/s1/a1/desks"
    assert letters[0]["size"] == len(unknown.payload or b"")
    assert letters[0]["sha256"] == hashlib.sha256(unknown.payload or b"").hexdigest()
    assert store.counters()["dead_letters"] == 3
    assert_not_stored(store, mac.encode())


def test_dead_letter_keeps_size_and_hash_but_never_the_payload(store: Store) -> None:
    payload = b'{"v":1,"mac":"01:23:45:67:89:ab"}'
    store.dead_letter("deskpulse/v1/s1/a1/desks", "unknown field 'mac' in message", payload, T0)
    store.dead_letter("deskpulse/v1/S 1/../desks", "site in topic is not a valid id", b"x", T0)
    newest, older = store.dead_letters()
    assert newest["topic"] == "deskpulse/v1/?/?/desks"
    assert older == {"id": older["id"], "received": T0, "topic": "deskpulse/v1/s1/a1/desks",
                     "reason": "unknown field 'mac' in message", "size": len(payload),
                     "sha256": hashlib.sha256(payload).hexdigest()}
    cursor = store.db.execute("SELECT * FROM dead_letters LIMIT 0")
    columns = {c[0] for c in cursor.description}
    assert columns == {"id", "received", "topic", "reason", "size", "sha256"}
    assert_not_stored(store, b"01:23:45:67:89:ab")


# -- live state ----------------------------------------------------------------------------

def test_late_event_does_not_overwrite_newer_live_state(store: Store) -> None:
    store.apply([incoming(desks_msg(1, ("d1", "occupied", T0 + 100)))])
    store.apply([incoming(desks_msg(2, ("d1", "vacant", T0 + 50)))])  # older: late
    assert state(store, "d1") == ("occupied", T0 + 100)
    # ...but it is a transition the rollups use.
    frame = store.transitions(["d1"], 0, T0 + 200)
    assert frame.at.tolist() == [T0 + 50, T0 + 100]
    assert frame.state.tolist() == [VACANT, OCCUPIED]
    # A newer confirmation of the same state keeps when it began.
    store.apply([incoming(desks_msg(3, ("d1", "occupied", T0 + 150)))])
    assert state(store, "d1") == ("occupied", T0 + 100)
    store.apply([incoming(desks_msg(4, ("d1", "vacant", T0 + 160)))])
    assert state(store, "d1") == ("vacant", T0 + 160)


def test_last_will_makes_the_agents_desks_unknown_not_vacant(store: Store) -> None:
    store.apply([
        incoming(Status(online=True, boot=3, version="1.2.0"), received=T0),
        incoming(desks_msg(1, ("d1", "occupied", T0 + 1), ("d2", "vacant", T0 + 1), boot=3)),
        incoming(desks_msg(1, ("d3", "occupied", T0 + 1), agent="a2", boot=1), agent="a2"),
    ])
    assert store.agents("s1")[0]["online"] is True
    assert store.agents("s1")[0]["version"] == "1.2.0"
    store.apply([incoming(Status(online=False, boot=3), received=T0 + 60)])
    assert state(store, "d1") == ("unknown", T0 + 60)
    assert state(store, "d2") == ("unknown", T0 + 60)
    assert state(store, "d3") == ("occupied", T0 + 1)  # another agent's desk
    frame = store.transitions(["d1", "d2"], 0, T0 + 100)
    assert frame.state.tolist() == [OCCUPIED, UNKNOWN, VACANT, UNKNOWN]
    assert store.agents("s1")[0]["online"] is False
    # The retained will, delivered again on a hub reconnect, adds nothing.
    store.apply([incoming(Status(online=False, boot=3), received=T0 + 900)])
    assert len(store.transitions(["d1", "d2"], 0, T0 + 1000)) == 4
    # A stale birth of an older boot does not bring the agent back.
    store.apply([incoming(Status(online=True, boot=2), received=T0 + 901)])
    assert store.agents("s1")[0]["online"] is False


def test_silent_agent_expires_to_offline_with_unknown_desks(store: Store) -> None:
    store.apply([
        incoming(Status(online=True, boot=1), received=T0),
        incoming(desks_msg(1, ("d1", "occupied", T0)), received=T0),
        incoming(Health(agent="a2", boot=1, sent=T0, uptime=5.0, outbox_depth=0, dropped=0),
                 agent="a2", received=T0 + 170),
    ])
    assert store.expire_agents(T0 + 100, T0 + 180) == ["a1"]
    assert state(store, "d1") == ("unknown", T0 + 180)
    assert {a["id"]: a["online"] for a in store.agents("s1")} == {"a1": False, "a2": True}
    assert store.expire_agents(T0 + 100, T0 + 190) == []
    # It speaks again (same boot, no last-will): online again.
    store.apply([incoming(desks_msg(2, ("d1", "vacant", T0 + 200)), received=T0 + 200)])
    assert store.agents("s1")[0]["online"] is True


def test_health_zone_counts_and_checkins(store: Store) -> None:
    token = "tok.abcdefghijklmnop-secret-token"
    store.apply([
        incoming(Status(online=True, boot=1), received=T0),
        incoming(Health(agent="a1", boot=1, sent=T0, uptime=12.5, outbox_depth=4, dropped=1,
                        sensor_faults=("d2",))),
        incoming(ZonesMessage(agent="a1", boot=1, seq=1, sent=T0,
                              counts=(ZoneCount("z1", 1_699_999_200, 7),))),
        incoming(ZonesMessage(agent="a1", boot=1, seq=2, sent=T0,
                              counts=(ZoneCount("z9", 1_699_999_200, 7),))),
        incoming(CheckinsMessage(agent="a1", boot=1, seq=3, sent=T0,
                                 scans=(Scan("d1", token, "qr", T0),))),
        incoming(CheckinsMessage(agent="a1", boot=1, seq=3, sent=T0,
                                 scans=(Scan("d1", token, "qr", T0),))),
    ])
    agent = store.agents("s1")[0]
    assert (agent["outbox_depth"], agent["dropped"], agent["faults"], agent["uptime"]) == (
        4, 1, ["d2"], 12.5)
    rows = list(store.db.query("SELECT site, zone, bin, agent, devices FROM zone_counts"))
    assert rows == [{"site": "s1", "zone": "z1", "bin": 1_699_999_200, "agent": "a1",
                     "devices": 7}]
    assert store.dead_letters()[0]["reason"] == "unknown zone 'z9' in site 's1'"
    counters = store.counters()
    assert (counters["messages"], counters["duplicates"]) == (3, 1)
    assert_not_stored(store, token.encode())


def test_an_agent_cannot_speak_for_another_site(store: Store) -> None:
    result = store.apply([incoming(Status(online=True, boot=1), site="s2")])
    assert result.rejected[0].reason == "agent 'a1' is registered to site 's1', not 's2'"


# -- frames --------------------------------------------------------------------------------

def test_transitions_include_the_last_one_before_the_window(store: Store) -> None:
    store.apply([
        incoming(desks_msg(1, ("d1", "occupied", T0), ("d1", "vacant", T0 + 10),
                           ("d2", "occupied", T0 + 5))),
        incoming(desks_msg(2, ("d1", "occupied", T0 + 30), ("d1", "vacant", T0 + 99),
                           ("d2", "vacant", T0 + 40))),
    ])
    frame = store.transitions(["d2", "d1", "d4"], T0 + 20, T0 + 99)
    assert frame.desks == ["d2", "d1", "d4"]
    assert frame.desk_index.tolist() == [0, 0, 1, 1]
    assert frame.at.tolist() == [T0 + 5, T0 + 40, T0 + 10, T0 + 30]
    assert frame.state.tolist() == [OCCUPIED, VACANT, VACANT, OCCUPIED]
    empty = store.transitions(["d3"], 0, T0)
    assert len(empty) == 0 and empty.desk_index.dtype == np.int64


def test_rollups_frame_is_a_complete_grid(store: Store) -> None:
    store.write_rollups([("d1", 900_000, 300.0, 0.0, 900.0), ("d3", 901_800, 0.0, 900.0, 900.0),
                         ("e1", 900_000, 900.0, 0.0, 900.0)])
    assert not store.db.conn.in_transaction  # committed: no write lock left behind
    frame = store.rollups("s1", 899_100, 902_000, bin_seconds=900)
    assert frame.desks == ["d1", "d2", "d3", "d4"]
    assert frame.bin_starts.tolist() == [899_100, 900_000, 900_900, 901_800]
    assert frame.occupied[0].tolist() == [0, 300, 0, 0]
    assert frame.unknown[2].tolist() == [0, 0, 0, 900]
    assert frame.span.sum() == 1800
    assert frame.valid[0].tolist() == [0, 900, 0, 0]
    assert frame.end == 902_000
    assert store.rollups("s1", 899_100, 902_000, now=901_000).end == 901_000


def test_the_store_is_safe_to_use_from_several_threads(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(agent: str, desk: str) -> None:
        try:
            for seq in range(1, 41):
                msg = desks_msg(seq, (desk, "occupied" if seq % 2 else "vacant", T0 + seq),
                                agent=agent)
                store.apply([incoming(msg, agent=agent)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(40):
                store.desks("s1")
                store.counters()
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=("a1", "d1")),
               threading.Thread(target=writer, args=("a2", "d3")),
               threading.Thread(target=reader), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.counters()["messages"] == 80
    assert len(store.transitions(["d1", "d3"], 0, T0 + 100)) == 80
    assert json.loads(json.dumps(store.agents()))  # plain JSON-able values


def test_closed_store_refuses_use(open_test_store: StoreFactory) -> None:
    s = open_test_store()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.desks("s1")
