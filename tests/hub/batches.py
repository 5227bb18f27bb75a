"""Random batches of desk messages over a small building, for the tests that compare the
fast apply paths with the one-message path."""

from __future__ import annotations

import random

from edge import protocol as p
from hub.db.apply import Incoming

OWNERS = {"s1": ["a1", "a1", "a2", None, "a3"], "s2": ["a4", "a4", None, None, "a4"]}
NOW = 1_700_000_000.0


BUILDING = {"sites": [
    {"id": site, "name": site, "timezone": "UTC", "floors": [
        {"id": "f1", "name": "F1", "level": 1, "zones": [
            {"id": f"{site}-z", "name": "Z", "desks": [
                {"id": f"{site}-d{i}", "name": "d", "agent": agent}
                for i, agent in enumerate(OWNERS[site])
            ]},
        ]},
    ]}
    for site in ("s1", "s2")
]}


TABLES = {
    "messages": "agent, boot, seq, kind, received",
    "transitions": "id, site, desk, state, at, agent, boot, seq, received",
    "desk_state": "desk, state, since, updated, last_at, agent",
    "agents": "id, site, online, boot, version, last_seen, will_boot, outbox_depth, dropped, "
              "faults, uptime, clock_offset, gaps",
    "dirty": "desk, from_at",
    "counters": "name, value",
    "dead_letters": "id, received, topic, reason, size, sha256",
}


def _random_batch(rng: random.Random, sent: list[Incoming]) -> list[Incoming]:
    batch: list[Incoming] = []
    for _ in range(rng.randint(1, 40)):
        roll = rng.random()
        if sent and roll < 0.12:  # a redelivered copy
            batch.append(rng.choice(sent))
            continue
        agent = rng.choice(["a1", "a2", "a3", "a4", "a5"])  # a5: not in the building
        home = "s2" if agent == "a4" else "s1"
        site = home if rng.random() < 0.97 else "s2" if home == "s1" else "s1"
        if agent == "a5":  # its first message decides its site; others are refused
            site = rng.choice(["s1", "s2"])
        boot = rng.choice([1, 1, 1, 2])
        received = NOW + len(sent) + rng.random()
        message: p.Message
        if roll < 0.17:
            message = p.Status(online=rng.random() < 0.5, boot=boot, version="1")
        elif roll < 0.25:
            message = p.Health(agent, boot, received - rng.choice([0.0, 500.0, -400.0]),
                               10.0, 0, 0)
        else:
            own = [i for i, who in enumerate(OWNERS[site]) if who in (agent, None)] or [0]
            desks = [f"{site}-d{rng.choice(own) if rng.random() < 0.95 else rng.randrange(5)}"
                     for _ in range(rng.randint(1, 4))]
            if rng.random() < 0.03:
                desks.append("nowhere")
            events = tuple(p.DeskEvent(d, rng.choice(["occupied", "vacant"]),
                                       received - rng.uniform(0, 50)) for d in desks)
            seq = rng.randint(1, 30) if rng.random() < 0.3 else len(sent) // 2 + rng.randint(0, 3)
            message = p.DesksMessage(agent, boot, seq, received, events)
        item = Incoming(p.Topic(site, agent, message.KIND), message, received)
        sent.append(item)
        batch.append(item)
    return batch
