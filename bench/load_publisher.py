"""One publisher process of the load bench: a share of the simulated fleet on one client.

``python -m bench.load_publisher SPEC.json OUT.json``. The process speaks for the agents
``first .. first+count-1`` of the fleet, multiplexed over ONE paho client (a real agent
has its own connection; 1,000 Python clients would measure this machine's scheduler, not
the hub). Messages are real protocol v1 ``desks`` messages (edge.protocol.encode) on each
agent's own topic, QoS 1; ``sent`` is stamped at the moment of publishing, which is what
the bench's message-to-commit latency is measured from.

Traffic, in accelerated time: each agent ticks through a simulated working day that ends
now (event times must not lie in the hub's future); at every tick each of its desks
changes state with probability ``flip``, and the changes (at least one) form one message.
The process writes what it published: counts, an order-independent digest of the events
and the ``(agent, seq, sent)`` of every message.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge import protocol as p

_SENT = 1234567890.125  # a placeholder for ``sent``, replaced at publish time


def event_digest(agent: str, boot: int, seq: int, desk: str, state: str, at: float) -> int:
    """One event's share of the digest: the bench compares sums of these, mod 2**64."""
    key = f"{agent}|{boot}|{seq}|{desk}|{state}|{at!r}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def agent_name(k: int) -> str:
    return f"load-a{k:04d}"


def desk_name(k: int, d: int) -> str:
    return f"load-a{k:04d}-d{d:02d}"


def generate(spec: dict[str, Any]) -> tuple[list[tuple[str, bytes, bytes, int, int]], int, int]:
    """The messages as (topic, payload before sent, after sent, agent, seq); events, digest."""
    rng = random.Random(spec["seed"])
    first, count, per_agent = spec["first"], spec["count"], spec["messages_per_agent"]
    desks, flip, boot, site = spec["desks"], spec["flip"], spec["boot"], spec["site"]
    day_end = spec["now"] - 60.0
    tick = spec["sim_seconds"] / per_agent
    out = []
    events_total = digest = 0
    states = {k: [False] * desks for k in range(first, first + count)}
    for seq in range(1, per_agent + 1):
        at = day_end - (per_agent - seq) * tick
        for k in range(first, first + count):
            agent, state = agent_name(k), states[k]
            changed = [d for d in range(desks) if rng.random() < flip] or [rng.randrange(desks)]
            events = []
            for d in changed:
                state[d] = not state[d]
                events.append(p.DeskEvent(desk_name(k, d), "occupied" if state[d] else "vacant",
                                          round(at + d * 0.001, 3)))
                digest += event_digest(agent, boot, seq, events[-1].desk, events[-1].state,
                                       events[-1].at)
            message = p.DesksMessage(agent, boot, seq, _SENT, tuple(events))
            before, after = p.encode(message).split(repr(_SENT).encode())
            out.append((p.topic_for(site, agent, "desks"), before, after, k, seq))
            events_total += len(events)
    return out, events_total, digest % 2**64


def publish(spec: dict[str, Any], out_path: Path) -> None:
    messages, events, digest = generate(spec)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"load-pub-{spec['first']}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", spec["port"])
    client.loop_start()
    rate = spec["rate"]  # messages per second for this process; 0: as fast as it can
    began = time.time()
    sent_log = []
    last = None
    for n, (topic, before, after, k, seq) in enumerate(messages):
        if rate:
            due = began + n / rate
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
        sent = time.time()
        last = client.publish(topic, before + repr(sent).encode() + after, qos=1)
        sent_log.append((k, seq, sent))
    ended = time.time()
    if last is not None:
        last.wait_for_publish(300)
    client.loop_stop()
    client.disconnect()
    out_path.write_text(json.dumps({
        "messages": len(messages), "events": events, "digest": digest,
        "began": began, "ended": ended, "sent": sent_log,
    }))


if __name__ == "__main__":
    publish(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
