"""Load: a fleet of 1,000 agents x 16 desks into one Mosquitto and one hub process.

The hub is the real ``deskpulse hub serve`` in its own process (ingest, rollups, API);
the fleet is a few publisher processes (bench/load_publisher.py), each speaking for a
share of the agents over one MQTT client. Five phases on the same broker, one run:

1. **Capacity and ratio.** The hub's persistent session and a bare paho subscriber's both
   exist, both are away, and the fleet publishes one block of traffic; the broker queues
   it for each. The bare subscriber drains it (it only counts), then the hub does (decode,
   validate, dedup, transitions, commit, then ack). Rates are first to last message, so
   process start-up is not counted. Same traffic, same broker: the ratio of their
   messages/s is the hub's overhead; the hub's events/s is its sustained capacity.
2. **Full rate, live.** The fleet publishes as fast as it can while the hub listens;
   events/s committed, and message-to-commit latency.
3. **10 % of the target rate, live** (5,000 events/s, paced): latency.
4. **Capacity by events per message.** Phase 1 again, three times, with about 1, 4 and all
   16 desks of an agent changing per message, on the same database: a message has a cost
   of its own (receiving, decoding, dedup, the commit) and each event one more (its rows,
   its share of the rollups), so messages/s and events/s move in opposite directions.
5. **Capacity with history.** A hub that has run for a while holds weeks of transitions,
   and the cost of indexing each new one grows with them. With the hub away, 1.5 million
   older transitions (30 days of a 1,000-desk office at 50 changes per desk and day) are
   written into its database, then phase 1 is repeated: a queued block, drained.

Latency is measured without touching the protocol or the store: each message's ``sent``
is stamped when published, and a poller reads the hub's newest transition id every
10 ms, so a message's commit time is the first poll that sees its first transition
(figures are up to one poll late). Finally the stored transitions are checked against
what was published: same count, same digest (content), no duplicates.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from bisect import bisect_left
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.load_publisher import agent_name, desk_name, event_digest
from edge import protocol as p
from hub.db.sqlite.store import SqliteStore
from tests.broker import free_port

ROOT = Path(__file__).resolve().parent.parent
SITE = "load"
TARGET_EVENTS_PER_SECOND = 50_000
POLL_SECONDS = 0.01
# Each phase replays the last half hour before now: accelerated (some 100x), and rollups
# recompute about the bins a live hub would, not a whole day per tick.
SIM_SECONDS = 1800.0
HISTORY_ROWS = 1_500_000
# Phase 4: desks changing per agent tick with these probabilities: about 1, 4 (as phase 1)
# and all 16 events per message, drained one after the other on the same database.
SWEEP_FLIPS = (0.02, 0.25, 1.0)


def building(agents: int, desks: int) -> dict[str, Any]:
    return {"sites": [{"id": SITE, "name": "Load", "timezone": "UTC", "floors": [
        {"id": "load-f1", "name": "F1", "level": 1, "zones": [
            {"id": "load-z1", "name": "Z1", "desks": [
                {"id": desk_name(k, d), "name": desk_name(k, d), "agent": agent_name(k)}
                for k in range(agents) for d in range(desks)
            ]},
        ]},
    ]}]}


class Hub:
    """``deskpulse hub serve`` in a process of its own, on a fresh data directory."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.data_dir = workdir / "hub"
        self.database = self.data_dir / "deskpulse.db"
        self.env = {**os.environ, "DESKPULSE_DATA_DIR": str(self.data_dir),
                    "DESKPULSE_MQTT_PORT": str(port), "DESKPULSE_HTTP_PORT": str(free_port())}
        self.log = workdir / "hub.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        mark = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own entry point
                [sys.executable, "-m", "hub.cli", "hub", "serve"], cwd=ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited; see {self.log}")
            if b"Ingest subscribed" in self.log.read_bytes()[mark:]:
                return
            time.sleep(0.05)
        raise RuntimeError(f"the hub did not subscribe within {timeout} s; see {self.log}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the hub process has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.proc = None


class Poller:
    """Reads the hub's message counter and newest transition id every 10 ms."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.samples: list[tuple[float, int, int]] = []  # (time, messages, max id)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
        try:
            while not self._stop.wait(POLL_SECONDS):
                row = conn.execute(
                    "SELECT (SELECT value FROM counters WHERE name = 'messages'), "
                    "(SELECT MAX(id) FROM transitions)").fetchone()
                self.samples.append((time.time(), int(row[0] or 0), int(row[1] or 0)))
        finally:
            conn.close()

    def wait_for(self, messages: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.samples and self.samples[-1][1] >= messages:
                return
            time.sleep(0.05)
        got = self.samples[-1][1] if self.samples else 0
        raise RuntimeError(f"the hub stored {got} of {messages} messages in {timeout} s")

    def commit_time(self, transition_id: int) -> float:
        ids = [sample[2] for sample in self.samples]
        return self.samples[bisect_left(ids, transition_id)][0]

    def rate(self, start: int, end: int) -> tuple[float, float, float]:
        """Messages/s from the first sample above ``start`` to the first reaching ``end``."""
        first = next(s for s in self.samples if s[1] > start)
        last = next(s for s in self.samples if s[1] >= end)
        before = self.samples[self.samples.index(first) - 1]
        return (end - before[1]) / max(last[0] - before[0], 1e-9), before[0], last[0]


def _publish(port: int, workdir: Path, *, phase: int, agents: int, desks: int,
             per_agent: int, flip: float, rate: float, processes: int) -> list[dict[str, Any]]:
    """Run the publisher processes for one phase; their reports."""
    procs, outs = [], []
    share = agents // processes
    for n in range(processes):
        spec = {"port": port, "site": SITE, "first": n * share, "count": share,
                "desks": desks, "messages_per_agent": per_agent, "flip": flip,
                "boot": phase, "seed": phase * 1000 + n, "now": time.time(),
                "sim_seconds": SIM_SECONDS, "rate": rate / processes}
        spec_path, out = workdir / f"pub{phase}-{n}.json", workdir / f"out{phase}-{n}.json"
        spec_path.write_text(json.dumps(spec))
        procs.append(subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "bench.load_publisher", str(spec_path), str(out)], cwd=ROOT))
        outs.append(out)
    for proc in procs:
        if proc.wait(600) != 0:
            raise RuntimeError("a publisher process failed")
    return [json.loads(out.read_text()) for out in outs]


def _drain(hub: Hub, poller: Poller, port: int, workdir: Path, *, phase: int, done: int,
           flip: float, per_agent: int, agents: int, desks: int,
           processes: int) -> dict[str, Any]:
    """With the hub stopped: publish a block, start the hub, measure its drain (as phase 1).

    ``done`` is how many messages the hub had stored before; the result's ``reports`` are
    the publishers' (for the final check)."""
    hub.stop()
    reports = _publish(port, workdir, phase=phase, agents=agents, desks=desks,
                       per_agent=per_agent, flip=flip, rate=0, processes=processes)
    n = sum(r["messages"] for r in reports)
    events = sum(r["events"] for r in reports)
    hub.start()
    cpu = hub.cpu_seconds()
    poller.wait_for(done + n, 300)
    cpu = hub.cpu_seconds() - cpu
    rate, _, _ = poller.rate(done, done + n)
    return {"messages": n, "events": events, "events_per_message": round(events / n, 2),
            "hub_messages_per_second": round(rate),
            "hub_events_per_second": round(rate * events / n),
            "hub_cpu_us_per_message": round(cpu / n * 1e6), "reports": reports}


def _wait_idle(database: Path, timeout: float = 120.0) -> None:
    """Until the running hub has caught up with the last phase (no desk waiting for its
    rollups, no transition waiting to be indexed), so that a drain measures that alone."""
    deadline = time.monotonic() + timeout
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        while time.monotonic() < deadline:
            (busy,) = conn.execute(
                "SELECT (SELECT COUNT(*) FROM dirty) + "
                "(SELECT COUNT(*) FROM transitions WHERE pending IS NOT NULL)").fetchone()
            if busy == 0:
                return
            time.sleep(0.5)
    finally:
        conn.close()
    raise RuntimeError(f"the hub did not catch up within {timeout} s")


def _bare_session(port: int, *, clean: bool = False) -> None:
    """Create (or with ``clean``, remove) the bare subscriber's persistent session."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="load-bare", clean_session=clean)
    client.connect("127.0.0.1", port)
    if not clean:
        client.subscribe([(topic, 1) for topic in p.subscription_for_hub()])
    client.loop(1.0)
    client.disconnect()


def _bare_drain(port: int, n: int) -> float:
    """Messages/s of a bare paho subscriber draining its queued backlog (it only counts)."""
    got, first, last = 0, 0.0, 0.0
    done = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        nonlocal got, first, last
        last = time.perf_counter()
        if got == 0:
            first = last
        got += 1
        if got >= n:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="load-bare", clean_session=False)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    done.wait(300)
    client.loop_stop()
    client.disconnect()
    if got < n:
        raise RuntimeError(f"the bare subscriber received {got} of {n}")
    return (n - 1) / max(last - first, 1e-9)


def _latencies(database: Path, poller: Poller, reports: list[dict[str, Any]],
               phase: int) -> dict[str, float]:
    sent = {(agent_name(k), seq): at for report in reports for k, seq, at in report["sent"]}
    conn = sqlite3.connect(database)
    rows = conn.execute("SELECT agent, seq, MIN(id) FROM transitions WHERE boot = ? "
                        "GROUP BY agent, seq", (phase,)).fetchall()
    conn.close()
    delays = sorted(poller.commit_time(first) - sent[(agent, seq)] for agent, seq, first in rows)
    if not delays:
        return {}

    def pct(q: float) -> float:
        return round(delays[min(len(delays) - 1, int(q * len(delays)))], 3)

    return {"latency_p50_s": pct(0.50), "latency_p99_s": pct(0.99), "latency_max_s": delays[-1]}


def _add_history(database: Path, agents: int, desks: int, rows: int) -> None:
    """``rows`` transitions from the last 29 days, as ingest would have left them indexed
    (no seq: the stored-vs-published check leaves them out). Written in (desk, time)
    order, so writing them is quick."""
    names = [desk_name(k, d) for k in range(agents) for d in range(desks)]
    per_desk = rows // len(names)
    start = time.time() - 29 * 86400.0
    step = 28 * 86400.0 / per_desk
    conn = sqlite3.connect(database)
    with conn:
        conn.executemany(
            "INSERT INTO transitions (site, desk, state, at, agent, received) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ((SITE, desk, "occupied" if i % 2 == 0 else "vacant", start + i * step,
              agent_name(n // desks), start + i * step)
             for n, desk in enumerate(names) for i in range(per_desk)))
    conn.close()


def _check_stored(database: Path, reports: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Stored desk events vs published: count, digest of the content, duplicates."""
    conn = sqlite3.connect(database)
    rows = conn.execute("SELECT agent, boot, seq, desk, state, at FROM transitions "
                        "WHERE seq IS NOT NULL").fetchall()
    duplicates = conn.execute("SELECT COUNT(*) - COUNT(DISTINCT agent || ' ' || boot || ' ' || "
                              "seq || ' ' || desk) FROM transitions WHERE seq IS NOT NULL"
                              ).fetchone()[0]
    conn.close()
    published = sum(r["events"] for phase in reports for r in phase)
    digest = sum(r["digest"] for phase in reports for r in phase) % 2**64
    stored_digest = sum(event_digest(*row) for row in rows) % 2**64
    return {"events_published": published, "events_stored": len(rows),
            "duplicates_stored": duplicates, "content_matches": stored_digest == digest,
            "exact": len(rows) == published and stored_digest == digest and duplicates == 0}


def bench_load(port: int, workdir: Path, *, agents: int = 1000, desks: int = 16,
               processes: int = 2, flip: float = 0.25) -> dict[str, Any]:
    hub = Hub(workdir, port)
    store = SqliteStore(hub.database)
    store.import_building(building(agents, desks))
    store.close()
    reports: list[list[dict[str, Any]]] = []
    out: dict[str, Any] = {"agents": agents, "desks_per_agent": desks,
                           "publisher_processes": processes}
    _bare_session(port)
    hub.start()  # creates the hub's persistent session ...
    hub.stop()  # ... which queues phase 1 while the hub is away
    with Poller(hub.database) as poller:
        # 1. capacity and ratio: the same queued block for each
        reports.append(_publish(port, workdir, phase=1, agents=agents, desks=desks,
                                per_agent=40, flip=flip, rate=0, processes=processes))
        n1 = sum(r["messages"] for r in reports[0])
        e1 = sum(r["events"] for r in reports[0])
        bare = _bare_drain(port, n1)
        _bare_session(port, clean=True)
        hub.start()
        cpu = hub.cpu_seconds()
        poller.wait_for(n1, 300)
        cpu = hub.cpu_seconds() - cpu
        hub_rate, _, _ = poller.rate(0, n1)
        out["capacity"] = {
            "messages": n1, "events": e1, "events_per_message": round(e1 / n1, 2),
            "bare_paho_messages_per_second": round(bare),
            "hub_messages_per_second": round(hub_rate),
            "hub_events_per_second": round(hub_rate * e1 / n1),
            "hub_to_bare_ratio": round(hub_rate / bare, 3),
            # CPU the hub spent per message while draining (all its threads): with one
            # interpreter lock, 1 / this is about its ceiling on a free core.
            "hub_cpu_us_per_message": round(cpu / n1 * 1e6),
        }
        # 2. full rate, live
        reports.append(_publish(port, workdir, phase=2, agents=agents, desks=desks,
                                per_agent=30, flip=flip, rate=0, processes=processes))
        n2 = sum(r["messages"] for r in reports[1])
        e2 = sum(r["events"] for r in reports[1])
        poller.wait_for(n1 + n2, 300)
        rate2, _, _ = poller.rate(n1, n1 + n2)
        began = min(r["began"] for r in reports[1])
        ended = max(r["ended"] for r in reports[1])
        out["full_rate"] = {
            "messages": n2, "events": e2,
            "published_events_per_second": round(e2 / (ended - began)),
            "hub_events_per_second": round(rate2 * e2 / n2),
            **_latencies(hub.database, poller, reports[1], 2),
        }
        # 3. 10 % of the target, paced
        tenth = TARGET_EVENTS_PER_SECOND / 10
        per_message = e1 / n1
        per_agent = 20
        reports.append(_publish(port, workdir, phase=3, agents=agents, desks=desks,
                                per_agent=per_agent, flip=flip, rate=tenth / per_message,
                                processes=processes))
        n3 = sum(r["messages"] for r in reports[2])
        e3 = sum(r["events"] for r in reports[2])
        poller.wait_for(n1 + n2 + n3, 120)
        began = min(r["began"] for r in reports[2])
        ended = max(r["ended"] for r in reports[2])
        out["tenth_rate"] = {
            "messages": n3, "events": e3,
            "published_events_per_second": round(e3 / (ended - began)),
            **_latencies(hub.database, poller, reports[2], 3),
        }
        # 4. capacity by events per message: what a message costs, and what an event does
        done = n1 + n2 + n3
        out["capacity_by_events_per_message"] = []
        for phase, sweep_flip in enumerate(SWEEP_FLIPS, start=4):
            _wait_idle(hub.database)
            drained = _drain(hub, poller, port, workdir, phase=phase, done=done, flip=sweep_flip,
                             per_agent=20, agents=agents, desks=desks, processes=processes)
            reports.append(drained.pop("reports"))
            done += drained["messages"]
            drained["hub_to_bare_ratio"] = round(drained["hub_messages_per_second"] / bare, 3)
            out["capacity_by_events_per_message"].append(drained)
        # 5. capacity again, on a database with a month of history
        _wait_idle(hub.database)
        hub.stop()
        _add_history(hub.database, agents, desks, HISTORY_ROWS)
        drained = _drain(hub, poller, port, workdir, phase=4 + len(SWEEP_FLIPS), done=done,
                         flip=flip, per_agent=40, agents=agents, desks=desks, processes=processes)
        reports.append(drained.pop("reports"))
        out["capacity_with_history"] = {
            "history_transitions": HISTORY_ROWS, **drained,
            # against phase 1's bare subscriber: same traffic, same broker, same run
            "hub_to_bare_ratio": round(drained["hub_messages_per_second"] / bare, 3),
        }
    hub.stop()
    out["check"] = _check_stored(hub.database, reports)
    out["targets"] = {
        "events_per_second_50000": out["capacity"]["hub_events_per_second"] >= 50_000,
        "p99_under_1s_at_tenth": out["tenth_rate"].get("latency_p99_s", 99) < 1.0,
        "ratio_0_8": out["capacity"]["hub_to_bare_ratio"] >= 0.8,
    }
    return out
