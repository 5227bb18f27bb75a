"""Scenario 5: a flood of malformed messages mixed with good ones."""

from __future__ import annotations

import json
import random
import sqlite3

import pytest

from edge.protocol import DeskEvent, DesksMessage, encode, topic_for
from firmware_sim.building import Building
from tests.faults.harness import (
    FULL,
    HubProcess,
    Plain,
    compare,
    counters,
    desk_events,
    stored_events,
    wait_until,
)

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("faults")]

GOOD, BAD = (1000, 5000) if FULL else (100, 400)


def good_messages(site: str, agent: str, desks: list[str], start: float,
                  rng: random.Random) -> list[tuple[str, bytes]]:
    out = []
    at = start
    for seq in range(1, GOOD + 1):
        events = []
        for desk in rng.sample(desks, rng.randint(1, min(3, len(desks)))):
            at += rng.uniform(1, 60)
            events.append(DeskEvent(desk, rng.choice(("occupied", "vacant")), at))
        message = DesksMessage(agent=agent, boot=1, seq=seq, sent=at, events=tuple(events))
        out.append((topic_for(site, agent, "desks"), encode(message)))
    return out


def bad_messages(site: str, agent: str, desk: str, start: float,
                 rng: random.Random) -> list[tuple[str, bytes]]:
    """BAD messages the hub must refuse, of every kind of wrongness it knows of."""
    topic = topic_for(site, agent, "desks")

    def desks(**fields: object) -> bytes:
        body: dict[str, object] = {
            "v": 1, "agent": agent, "boot": 77, "seq": rng.randint(1, 10**9),
            "sent": start, "events": [{"desk": desk, "state": "occupied", "at": start}]}
        body.update(fields)
        return json.dumps(body).encode()

    makers = [
        lambda: (topic, b""),
        lambda: (topic, rng.randbytes(rng.randint(1, 300))),
        lambda: (topic, b'{"v":1,"agent":'),
        lambda: (topic, b'{"v":2}'),
        lambda: (topic, b"[1, 2, 3]"),
        lambda: (topic, b"NaN"),
        lambda: (topic, b"[" * 20_000 + b"]" * 20_000),
        lambda: (topic, desks(events=[])),
        lambda: (topic, desks(seq="seven")),
        lambda: (topic, desks(agent="someone-else")),
        lambda: (topic, desks(sent=start + 10**7)),  # far in the future of the hub's clock
        lambda: (topic, desks(events=[{"desk": desk, "state": "sleeping", "at": start}])),
        lambda: (topic, desks(events=[{"desk": "no-such-desk", "state": "vacant",
                                        "at": start}])),
        lambda: (topic, desks(padding="x" * 70_000)),
        lambda: (f"deskpulse/v1/{site}/Bad_Agent/desks", desks()),
        lambda: (topic_for(site, agent, "status"), b'{"v":1,"online":"yes","boot":1}'),
        lambda: (topic_for(site, agent, "health"), b'{"v":1,"agent":"%s"}' % agent.encode()),
        lambda: (topic_for(site, agent, "zones"), desks()),
    ]
    return [rng.choice(makers)() for _ in range(BAD)]


def hub_dead_letters(hub: HubProcess) -> int:
    db = sqlite3.connect(f"file:{hub.database}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])
    finally:
        db.close()


def test_a_flood_of_malformed_messages_is_dead_lettered_and_the_good_ones_stored(
    hub: HubProcess, building: Building, plain: Plain, sim_start: float, rng: random.Random
) -> None:
    agent, desks = next(iter(building.agents().items()))
    ids = [d.id for d in desks]
    good = good_messages(building.site.id, agent, ids, sim_start, rng)
    bad = bad_messages(building.site.id, agent, ids[0], sim_start, rng)
    flood = good + bad
    rng.shuffle(flood)
    for topic, payload in flood:
        plain.send(topic, payload)
    plain.flush(60)

    def settled() -> bool:
        return counters(hub.database).get("dead_letters", 0) >= BAD and \
            len(stored_events(hub.database)) >= len(desk_events(good))

    assert wait_until(settled, 60), counters(hub.database)
    assert hub.alive() and hub.ready()
    result = compare(desk_events(good), stored_events(hub.database))
    assert result.exact, str(result)
    stored = counters(hub.database)
    assert stored["dead_letters"] == BAD
    assert hub_dead_letters(hub) == BAD
    print(f"flood of {BAD} malformed and {GOOD} good messages: {result.expected} good events "
          f"stored exactly, {stored['dead_letters']} dead letters, hub alive")
