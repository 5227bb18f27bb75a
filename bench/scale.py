"""Scale: 1 and then 3 ingest workers (+ 1 aggregator) on PostgreSQL, one Mosquitto, one run.

Issue 11's scale test, as the ``scale`` section of ``make bench``. One throw-away
PostgreSQL cluster (tests/pg.py, but durable: fsync and synchronous commit on, and
``track_commit_timestamp`` to time commits) and one Mosquitto (tests/broker.py). For each
of two layouts, on a fresh database with the load bench's building (1,000 agents x 16
desks): the real ``deskpulse hub serve --role ingest --worker NAME`` processes in the
shared group ``deskpulse`` and one ``--role aggregate`` (tests/faults/workers.py), and the
load bench's fleet publishers (bench/load_publisher.py), with the same traffic:

0. **Warm-up**: one message per agent (first desk states, caches, pool connections). Its
   rate sizes the capacity block: about 30 s of work for the single worker; the three
   workers get the very same block.
1. **Capacity**: the fleet publishes that block as fast as it can while the workers
   listen. Stored messages/s over the middle 80 % of the commits (the steady part: no
   start-up, no tail), and what each part spent in CPU per 1,000 messages (bench/cpu.py;
   PostgreSQL's share is split by role through each role's ``PGAPPNAME``).
2. **Paced**: half the single worker's capacity, the same rate for both layouts;
   message-to-commit latency.
3. **Kill** (3 workers only): paced again; one worker is ``kill -9``ed once 30 % of the
   phase is stored and started again under its name 2 s later, as systemd's
   ``Restart=always`` with ``RestartSec=2`` would (deploy/systemd): its share waits in
   its broker session meanwhile.

Commit times come from PostgreSQL itself, ``pg_xact_commit_timestamp(xmin)`` of each
``messages`` row (written in the same transaction as its events), and ``sent`` is stamped
by the publisher when publishing, so latency needs no poller. At the end of each layout
every stored desk event is compared with what was published: messages none missing,
events same count, same content digest, none twice. A layout that is not exact fails
the section.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.cpu import machine_busy_seconds, process_seconds, tree_seconds
from bench.desk_traffic import desk_traffic
from bench.load import SIM_SECONDS, SITE, building
from bench.load_publisher import agent_name, event_digest
from tests.broker import Mosquitto
from tests.faults.harness import wait_until
from tests.faults.workers import RoleProcess, StoreBackend
from tests.pg import PostgresCluster

ROOT = Path(__file__).resolve().parent.parent
GROUP = "deskpulse"
RESTART_SECONDS = 2.0  # RestartSec= of deploy/systemd/deskpulse-hub-ingest@.service
# Durable, unlike the test fixture's cluster; a modest cache; commit times recorded.
PG_SETTINGS = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on",
               "shared_buffers": "128MB", "track_commit_timestamp": "on"}
BOOTS = {"warm_up": 1, "capacity": 2, "paced": 3, "kill": 4}
CPUS = len(os.sched_getaffinity(0))


class Layout:
    """N ingest workers and one aggregator on a fresh database of ``cluster``."""

    def __init__(self, cluster: PostgresCluster, broker: Mosquitto, workdir: Path,
                 workers: int) -> None:
        self.cluster, self.broker, self.workdir = cluster, broker, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.url = cluster.create_database()
        self.backend = StoreBackend(f"pg-{workers}", workdir / "hub", database_url=self.url)
        env = {"DESKPULSE_MQTT_SHARED_GROUP": GROUP, "DESKPULSE_ROLLUP_INTERVAL": "5"}
        # PGAPPNAME (read by libpq) names each role's connections in pg_stat_activity, so
        # the server's CPU can be split between ingest and rollups.
        self.workers = [RoleProcess(self.backend, broker.port, "ingest", f"n{workers}w{k}",
                                    {**env, "PGAPPNAME": "deskpulse-ingest"})
                        for k in range(1, workers + 1)]
        self.aggregator = RoleProcess(self.backend, broker.port, "aggregate",
                                      extra_env={**env, "PGAPPNAME": "deskpulse-aggregate"})
        self.reports: dict[int, list[dict[str, Any]]] = {}

    def start(self, agents: int, desks: int) -> None:
        self.backend.import_building(building(agents, desks))
        for process in [*self.workers, self.aggregator]:
            process.start()

    def stop(self) -> list[dict[str, int]]:
        stats = [worker.stop(60) for worker in self.workers]
        self.aggregator.stop(60)
        return stats

    def kill_all(self) -> None:
        for process in [*self.workers, self.aggregator]:
            process.kill()

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return list(conn.execute(sql, args).fetchall())

    def stored(self, boot: int) -> int:
        return int(self.query("SELECT COUNT(*) FROM messages WHERE boot = %s", boot)[0][0])

    def wait_stored(self, boot: int, n: int, timeout: float = 240.0) -> None:
        if not wait_until(lambda: self.stored(boot) >= n, timeout, 0.2):
            raise RuntimeError(f"{self.stored(boot)} of {n} messages stored in {timeout} s")

    def commit_times(self, boot: int) -> dict[tuple[str, int], float]:
        rows = self.query("SELECT agent, seq, EXTRACT(EPOCH FROM pg_xact_commit_timestamp(xmin))"
                          " FROM messages WHERE boot = %s", boot)
        return {(str(agent), int(seq)): float(at) for agent, seq, at in rows}

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each part, the publishers (reaped children) and the machine."""
        backends = {"deskpulse-ingest": 0.0, "deskpulse-aggregate": 0.0}
        for pid, name in self.query("SELECT pid, application_name FROM pg_stat_activity "
                                    "WHERE datname = current_database()"):
            if name in backends:
                backends[name] += process_seconds(int(pid))
        return {
            "pg_backends_of_ingest": backends["deskpulse-ingest"],
            "pg_backends_of_aggregator": backends["deskpulse-aggregate"],
            "ingest_workers": sum(process_seconds(w.proc.pid) for w in self.workers if w.proc),
            "aggregator": process_seconds(self.aggregator.proc.pid) if self.aggregator.proc else 0,
            "postgresql": tree_seconds(self.cluster.proc.pid) if self.cluster.proc else 0.0,
            "mosquitto": process_seconds(self.broker.proc.pid) if self.broker.proc else 0.0,
            "publishers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
            + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime,
            "machine": machine_busy_seconds(),
            "wall": time.monotonic(),
        }

    def publish(self, boot: int, *, agents: int, desks: int, per_agent: int, rate: float,
                processes: int, flip: float) -> list[subprocess.Popen[bytes]]:
        """Start the fleet's publisher processes for one phase (bench/load_publisher.py)."""
        procs, share = [], agents // processes
        for n in range(processes):
            spec = {"port": self.broker.port, "site": SITE, "first": n * share, "count": share,
                    "desks": desks, "messages_per_agent": per_agent, "flip": flip,
                    "boot": boot, "seed": boot * 1000 + n, "now": time.time(),
                    "sim_seconds": SIM_SECONDS, "rate": rate / processes}
            spec_path = self.workdir / f"pub{boot}-{n}.json"
            spec_path.write_text(json.dumps(spec))
            procs.append(subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", "bench.load_publisher", str(spec_path),
                 str(self.workdir / f"out{boot}-{n}.json")], cwd=ROOT))
        return procs

    def published(self, boot: int, procs: list[subprocess.Popen[bytes]]) -> list[dict[str, Any]]:
        for proc in procs:
            if proc.wait(600) != 0:
                raise RuntimeError("a publisher process failed")
        reports = [json.loads((self.workdir / f"out{boot}-{n}.json").read_text())
                   for n in range(len(procs))]
        self.reports[boot] = reports
        return reports

    def check(self) -> dict[str, Any]:
        """Everything stored vs everything published in this layout: exact or not."""
        published = {(agent_name(k), boot, seq) for boot, reports in self.reports.items()
                     for r in reports for k, seq, _ in r["sent"]}
        stored = {(str(a), int(b), int(s)) for a, b, s in self.query(
            "SELECT agent, boot, seq FROM messages WHERE kind = 'desks'")}
        rows = self.backend.events()
        events = sum(r["events"] for reports in self.reports.values() for r in reports)
        digest = sum(r["digest"] for reports in self.reports.values() for r in reports) % 2**64
        distinct = len({row[:4] for row in rows})
        content = sum(event_digest(*row) for row in rows) % 2**64 == digest
        result = {
            "messages_published": len(published), "messages_missing": len(published - stored),
            "events_published": events, "events_stored": len(rows),
            "events_lost": max(0, events - distinct), "events_duplicated": len(rows) - distinct,
            "content_matches": content,
        }
        result["exact"] = (content and len(rows) == events == distinct
                           and not result["messages_missing"])
        return result

    def sizes(self, messages: int, events: int) -> dict[str, float]:
        (transitions, message_rows, rollups, bins, database), = self.query(
            "SELECT pg_total_relation_size('transitions'), pg_total_relation_size('messages'),"
            " pg_total_relation_size('rollups'), (SELECT COUNT(*) FROM rollups),"
            " pg_database_size(current_database())")
        return {"bytes_per_event_transitions": round(transitions / events),
                "bytes_per_message_messages": round(message_rows / messages),
                "bytes_per_rollup_row": round(rollups / max(bins, 1)), "rollup_rows": bins,
                "database_mb": round(database / 2**20, 1)}


def _percentile(values: list[float], q: float) -> float:
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


def _latency(layout: Layout, boot: int, reports: list[dict[str, Any]]) -> dict[str, float]:
    committed = layout.commit_times(boot)
    delays = sorted(committed[(agent_name(k), seq)] - sent
                    for r in reports for k, seq, sent in r["sent"])
    return {"latency_p50_s": _percentile(delays, 0.5), "latency_p99_s": _percentile(delays, 0.99),
            "latency_max_s": round(delays[-1], 3)}


def _capacity(layout: Layout, fleet: dict[str, Any], per_agent: int,
              boot: int = BOOTS["capacity"]) -> dict[str, Any]:
    """One block published as fast as the fleet can; stored messages/s and CPU spent."""
    start = time.perf_counter()
    before = layout.cpu()
    procs = layout.publish(boot, per_agent=per_agent, rate=0, **fleet)
    reports = layout.published(boot, procs)
    n, events = sum(r["messages"] for r in reports), sum(r["events"] for r in reports)
    layout.wait_stored(boot, n)
    after = layout.cpu()
    times = sorted(layout.commit_times(boot).values())
    # Messages committed after the batch holding the 10th percentile, up to the one holding
    # the 90th: batches commit hundreds of messages at one instant.
    low, high = times[int(0.1 * n)], times[int(0.9 * n) - 1]
    counted = sum(1 for t in times if low < t <= high)
    rate = counted / (high - low) if high > low else n / max(times[-1] - times[0], 1e-9)
    began, ended = min(r["began"] for r in reports), max(r["ended"] for r in reports)
    spent = {part: after[part] - before[part] for part in after}
    parts = [part for part in spent if part not in ("machine", "wall")]
    ours = sum(spent[part] for part in parts if not part.startswith("pg_backends"))
    return {
        "messages": n, "events": events, "events_per_message": round(events / n, 2),
        "messages_per_second": round(rate), "events_per_second": round(rate * events / n),
        "publishing_seconds": round(ended - began, 1),
        "first_to_last_commit_seconds": round(times[-1] - times[0], 1),
        "publish_to_last_commit_seconds": round(times[-1] - began, 1),
        "cpu_seconds_per_1000_messages": {part: round(spent[part] / n * 1000, 3)
                                          for part in parts},
        # Over the whole phase: what the cores could give, what all of ours took, and
        # what the machine's other jobs took meanwhile (it is shared).
        "cpu_seconds": {"available": round(spent["wall"] * CPUS, 1), "ours": round(ours, 1),
                        "others": round(max(0.0, spent["machine"] - ours), 1)},
        "phase_seconds": round(time.perf_counter() - start, 1),
    }


def _paced(layout: Layout, fleet: dict[str, Any], rate: float, seconds: float,
           victim: RoleProcess | None = None) -> dict[str, Any]:
    boot = BOOTS["kill" if victim else "paced"]
    start = time.perf_counter()
    per_agent = max(1, round(rate * seconds / fleet["agents"]))
    procs = layout.publish(boot, per_agent=per_agent, rate=rate, **fleet)
    out: dict[str, Any] = {"messages_per_second_offered": round(rate)}
    if victim is not None:
        n = per_agent * fleet["agents"]
        if not wait_until(lambda: layout.stored(boot) >= 0.3 * n, 120, 0.1):
            raise RuntimeError("the kill phase's load did not reach the store")
        victim.kill()
        at_kill = layout.stored(boot)
        time.sleep(RESTART_SECONDS)
        during = layout.stored(boot) - at_kill
        victim.start()
        out["kill"] = {"worker": victim.worker, "signal": "SIGKILL",
                       "stored_before_kill": at_kill, "stored_while_down": during,
                       "restarted_after_s": RESTART_SECONDS}
    reports = layout.published(boot, procs)
    n, events = sum(r["messages"] for r in reports), sum(r["events"] for r in reports)
    layout.wait_stored(boot, n)
    began, ended = min(r["began"] for r in reports), max(r["ended"] for r in reports)
    out.update({"messages": n, "events": events,
                "events_per_second_published": round(events / max(ended - began, 1e-9)),
                **_latency(layout, boot, reports),
                "phase_seconds": round(time.perf_counter() - start, 1)})
    return out


def _layout(cluster: PostgresCluster, broker: Mosquitto, workdir: Path, workers: int,
            fleet: dict[str, Any], per_agent: int | None, paced_rate: float | None,
            capacity_seconds: float, paced_seconds: float,
            kill_seconds: float) -> dict[str, Any]:
    layout = Layout(cluster, broker, workdir, workers)
    try:
        layout.start(fleet["agents"], fleet["desks"])
        out: dict[str, Any] = {"ingest_workers": workers, "aggregators": 1}
        # Warm-up: one message per agent (desk states, caches, pool connections); its
        # rate sizes the capacity block for about ``capacity_seconds`` of draining.
        warm = _capacity(layout, fleet, 1, BOOTS["warm_up"])
        out["warm_up_messages_per_second"] = round(
            warm["messages"] / max(warm["publish_to_last_commit_seconds"], 1e-9))
        if per_agent is None:
            per_agent = max(2, min(40, round(capacity_seconds * out[
                "warm_up_messages_per_second"] / fleet["agents"])))
        out["capacity"] = _capacity(layout, fleet, per_agent)
        out["capacity"]["messages_per_agent"] = per_agent
        rate = paced_rate or out["capacity"]["messages_per_second"] / 2
        out["paced"] = _paced(layout, fleet, rate, paced_seconds)
        if workers > 1:
            out["kill"] = _paced(layout, fleet, rate, kill_seconds, victim=layout.workers[1])
        stats = layout.stop()
        out["applied_per_worker"] = [s.get("applied", 0) for s in stats]
        out["duplicates_counted_per_worker"] = [s.get("duplicates", 0) for s in stats]
        out["check"] = layout.check()
        messages = sum(r["messages"] for reports in layout.reports.values() for r in reports)
        out["storage"] = layout.sizes(messages, out["check"]["events_stored"])
    finally:
        layout.kill_all()
    if not out["check"]["exact"]:
        raise RuntimeError(f"{workers} worker(s): stored != published: {out['check']}")
    return out


def bench_scale(*, agents: int = 1000, desks: int = 16, publishers: int = 2,
                flip: float = 0.25, capacity_seconds: float = 30.0,
                paced_seconds: float = 15.0, kill_seconds: float = 15.0) -> dict[str, Any]:
    """Both layouts with the same fleet: the capacity block is sized by the single worker's
    warm-up (about ``capacity_seconds`` of work for it) and used as is for three."""
    fleet = {"agents": agents, "desks": desks, "processes": publishers, "flip": flip}
    out: dict[str, Any] = {
        "cpus": CPUS, "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "fleet": {"agents": agents, "desks_per_agent": desks,
                  "publisher_processes": publishers},
        "postgresql_settings": PG_SETTINGS,
    }
    with tempfile.TemporaryDirectory(prefix="deskpulse-scale-") as tmp:
        cluster = PostgresCluster(PG_SETTINGS).start()
        broker = Mosquitto(Path(tmp)).start()
        try:
            with psycopg.connect(cluster.admin_url()) as conn:
                version = conn.execute("SHOW server_version").fetchone()
            out["postgresql"] = str(version[0]) if version else "?"
            one = _layout(cluster, broker, Path(tmp) / "one", 1, fleet, None, None,
                          capacity_seconds, paced_seconds, kill_seconds)
            out["one_worker"] = one
            out["three_workers"] = _layout(
                cluster, broker, Path(tmp) / "three", 3, fleet,
                one["capacity"]["messages_per_agent"],
                one["paced"]["messages_per_second_offered"], capacity_seconds, paced_seconds,
                kill_seconds)
        finally:
            broker.stop()
            cluster.stop()
    three = out["three_workers"]["capacity"]["events_per_second"]
    out["three_to_one_capacity"] = round(three / one["capacity"]["events_per_second"], 2)
    out["desk_traffic"] = desk_traffic()
    return out


if __name__ == "__main__":
    print(json.dumps(bench_scale(), indent=2))
