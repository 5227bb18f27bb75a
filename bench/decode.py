"""Decode cost per message: the schema walker and orjson fast path before msgspec, and the
msgspec decoder now (issue 23, item 3), timed in the same process one after the other.

Why here: the hub decodes every message it ingests, so µs per message is the protocol's
share of ingest CPU. "legacy_walker" is edge/protocol.py's old decode, "legacy_hub" what
the hub ran (the orjson path of the former hub/fast_decode.py, the walker when it declined), and
"msgspec" the one decoder used everywhere now. Figures on a loaded machine are noisy: the
best of several repeats is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bench.legacy import fast_decode as legacy_fast
from bench.legacy import protocol as legacy
from edge import protocol as p
from edge.errors import ProtocolError

SITE, AGENT = "bench", "agent-1"


def _payloads(now: float) -> dict[str, tuple[p.Topic, bytes]]:
    desks = p.Topic(SITE, AGENT, "desks")
    one = p.DesksMessage(AGENT, 1, 7, now, (p.DeskEvent("desk-1", "occupied", now - 3),))
    many = p.DesksMessage(AGENT, 1, 8, now, tuple(
        p.DeskEvent(f"desk-{i}", "vacant", now - i) for i in range(50)))
    health = p.Health(AGENT, 1, now, 3600.0, 0, 0, ("desk-9",),
                      (p.RadioHealth("desk-3", "good", 0, 80),))
    bad = p.encode(one).replace(b'"occupied"', b'"busy"')
    return {
        "desks_1_event": (desks, p.encode(one)),
        "desks_50_events": (desks, p.encode(many)),
        "health": (p.Topic(SITE, AGENT, "health"), p.encode(health)),
        "desks_rejected": (desks, bad),
    }


def _legacy_hub(topic: p.Topic, payload: bytes, now: float) -> object:
    old_topic = legacy.Topic(topic.site, topic.agent, topic.kind)
    return legacy_fast.decode_desks(old_topic, payload, now=now) or legacy.decode(
        old_topic, payload, now=now)


def _per_message_us(call: Callable[[], object], n: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            try:
                call()
            except ProtocolError:
                pass
        best = min(best, time.perf_counter() - start)
    return round(best / n * 1e6, 2)


def bench_decode(n: int = 20_000) -> dict[str, Any]:
    now = time.time()
    out: dict[str, Any] = {"unit": "µs per message, best of 5 repeats", "messages": n}
    for name, (topic, payload) in _payloads(now).items():
        old_topic = str(topic)
        decoders: dict[str, Callable[[], object]] = {
            "legacy_walker": partial(legacy.decode, old_topic, payload, now=now),
            "msgspec": partial(p.decode, topic, payload, now=now),
        }
        if topic.kind == "desks":
            decoders["legacy_hub"] = partial(_legacy_hub, topic, payload, now)
        count = n // 10 if "50" in name else n
        row = {key: _per_message_us(call, count) for key, call in decoders.items()}
        row["walker_to_msgspec"] = round(row["legacy_walker"] / row["msgspec"], 1)
        if "legacy_hub" in row:
            row["hub_before_to_after"] = round(row["legacy_hub"] / row["msgspec"], 1)
        out[name] = row
    return out
