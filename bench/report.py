"""A full utilisation report for 10,000 desks x 90 days, through the HTTP API.

Seeding: a real hub database (SQLite file, real migrations, the building imported through
``import_building``), then 90 local days of synthetic occupancy (1-3 spells on ~65 % of
desk-days inside office hours, 1 % of desk-days partly unknown). Each day goes through the
same code the Rollupper uses: the numpy kernel gives the desks' seconds per bin, and
:func:`hub.metrics.days.summarise` reduces the day to its stored summary (written with
``report_rollup.save``). The per-desk, per-bin rollup rows are not written: a report never
reads them for whole past days.

Measured: ``GET /api/v1/utilisation`` (all metrics) over the 90 days through FastAPI's
TestClient (the full ASGI stack, auth included), per grouping (site, floor, zone), p50/p95
of repeated requests. The hub's in-process cache of unpacked day summaries is emptied
before each grouping, so ``first_ms`` (left out of p50/p95) is a cold request that reads
them from SQLite; later requests find them cached. ``cpu_p95_ms`` is process CPU time per
request (client and server threads), a figure that does not depend on other load on the
machine. Plus the heatmap, and a **live day**: the range's last weekday is written as bin
rollups and transitions and its stored summary is dropped. ``live_day.recomputed`` is its
report without a live summary (summarised from 10,000 desks x 96 bins and the day's
transitions on every request, as a report including today did before issue 23);
``live_day.rollupper`` times the Rollupper keeping the live summary (hub/reports/live_day.py:
building its state once, one tick); ``live_day.report_*`` is the report reading it, as the
default "today" report does at the end of a working day.
Run: ``.venv/bin/python -m bench.report``.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

BIN = 900
TZ = "Europe/Berlin"
SITE = "bench"
FLOORS, ZONES_PER_FLOOR = 10, 20


def building(desks: int) -> dict[str, Any]:
    per_zone = -(-desks // (FLOORS * ZONES_PER_FLOOR))
    floors, n = [], 0
    for f in range(FLOORS):
        zones = []
        for z in range(ZONES_PER_FLOOR):
            ids = [f"b-d{i:05d}" for i in range(n, min(desks, n + per_zone))]
            n += len(ids)
            zones.append({"id": f"b-f{f}-z{z}", "name": f"Zone {f}.{z}",
                          "desks": [{"id": i, "name": i} for i in ids]})
        floors.append({"id": f"b-f{f}", "name": f"Floor {f}", "level": f, "zones": zones})
    return {"sites": [{"id": SITE, "name": "Bench", "timezone": TZ, "headcount": desks * 6 // 5,
                       "floors": floors}]}


def day_intervals(
    rng: np.random.Generator, n_desks: int, midnight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupied intervals of one day: 1-3 spells on ~65 % of desks, 08:00-18:00 mostly."""
    used = np.flatnonzero(rng.random(n_desks) < 0.65)
    spells = rng.integers(1, 4, len(used))
    desk = np.repeat(used, spells)
    start = midnight + rng.uniform(7.5 * 3600, 17 * 3600, len(desk))
    end = start + rng.gamma(2.0, 45 * 60, len(desk))
    return desk, start, end


def seed(store: Any, desks: int, days: int, first: date) -> float:
    """Write ``days`` day summaries for every desk; returns the seconds it took."""
    from hub.metrics.days import Thresholds, summarise
    from hub.metrics.kernel import RollupFrame, occupied_seconds
    from hub.reports.day_store import empty_summary, save, site_layout

    began = time.perf_counter()
    store.import_building(building(desks))
    site = store.site(SITE)
    layout = site_layout(store, site, BIN, Thresholds())
    rng = np.random.default_rng(6)
    tz = ZoneInfo(TZ)
    batch = []
    for k in range(days):
        day = first + timedelta(days=k)
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
        following = day + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=tz).timestamp()
        t0 = float(midnight // BIN * BIN)
        n_bins = int(-(-(end - t0) // BIN))
        intervals = day_intervals(rng, desks, midnight)
        occupied = occupied_seconds(*intervals, n_desks=desks, t0=t0, bin_seconds=BIN,
                                    n_bins=n_bins)
        unknown = np.zeros_like(occupied)
        faulty = np.flatnonzero(rng.random(desks) < 0.01)
        unknown[faulty, : n_bins // 3] = BIN
        occupied[faulty, : n_bins // 3] = 0.0
        span = np.full_like(occupied, float(BIN))
        bins = (t0 + BIN * np.arange(n_bins)).astype(np.int64)
        frame = RollupFrame([d["id"] for d in layout.desks], bins, occupied, unknown, span,
                            BIN, t0, t0 + n_bins * BIN)
        summaries = [s for s in summarise(
            frame, desk_zone=layout.desk_zone, n_zones=len(layout.zones), timezone=TZ,
            core_hours=site["core_hours"], thresholds=Thresholds(), occupied=intervals,
        ) if s.day == (day - date(1970, 1, 1)).days]
        batch += summaries or [empty_summary(day, desks, len(layout.zones))]
        if len(batch) >= 10:
            save(store, layout, batch)
            batch = []
    save(store, layout, batch)
    return time.perf_counter() - began


def seed_live_day(store: Any, desks: int, day: date) -> int:
    """Bin rollups and transitions of one day, no day summary; returns transitions."""
    from hub.metrics.kernel import occupied_seconds

    tz = ZoneInfo(TZ)
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz).timestamp()
    rng = np.random.default_rng(7)
    desk, start, stop = day_intervals(rng, desks, midnight)
    # Spells of one desk may overlap: keep each desk's spells that start after the last end.
    order = np.lexsort((start, desk))
    desk, start, stop = desk[order], start[order], np.minimum(stop[order], end - 1)
    keep = np.r_[True, (desk[1:] != desk[:-1]) | (start[1:] > stop[:-1])]
    desk, start, stop = desk[keep], start[keep], stop[keep]
    t0 = float(midnight // BIN * BIN)
    n_bins = int(-(-(end - t0) // BIN))
    occupied = occupied_seconds(desk, start, stop, n_desks=desks, t0=t0, bin_seconds=BIN,
                                n_bins=n_bins)
    ids = [f"b-d{i:05d}" for i in range(desks)]
    bins = (t0 + BIN * np.arange(n_bins)).astype(np.int64).tolist()
    store.write_rollups((ids[d], bins[b], float(occupied[d, b]), 0.0, float(BIN))
                        for d in range(desks) for b in range(n_bins))
    rows = [(SITE, ids[d], "vacant", midnight, "bench", None, None, midnight)
            for d in range(desks)]
    rows += [(SITE, ids[d], state, t, "bench", None, None, t)
             for d, s, e in zip(desk.tolist(), start.tolist(), stop.tolist(), strict=True)
             for state, t in (("occupied", s), ("vacant", e))]
    with store.transaction() as db:
        db.conn.executemany(
            "INSERT INTO transitions (site, desk, state, at, agent, boot, seq, received) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def _timed(client: Any, path: str, params: dict[str, str], headers: dict[str, str],
           repeats: int) -> tuple[dict[str, Any], Any]:
    """First (cold) request apart, then p50/p95 wall and p95 CPU of the repeats."""
    from hub.reports import day_store as report_rollup

    report_rollup._CACHE.clear()
    times, cpu, first_ms = [], [], 0.0
    response = None
    for i in range(repeats + 1):
        began, began_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, params=params, headers=headers)
        elapsed, used = time.perf_counter() - began, time.process_time() - began_cpu
        response.raise_for_status()
        if i:
            times.append(elapsed)
            cpu.append(used)
        else:
            first_ms = elapsed * 1000
    assert response is not None
    return {"first_ms": round(first_ms, 1),
            "p50_ms": round(_percentile(times, 50) * 1000, 1),
            "p95_ms": round(_percentile(times, 95) * 1000, 1),
            "cpu_p95_ms": round(_percentile(cpu, 95) * 1000, 1),
            "bytes": len(response.content)}, response


def keep_live_summary(store: Any, desks: int, day: date) -> dict[str, Any]:
    """What the Rollupper does for the live day: build its state once (a restart), then one
    tick at the day's end (17:50 -> midnight) after a refresh that recomputed 1 % of the
    desks from their transitions; the summary it stores is what the reports then read."""
    from hub.metrics.days import Thresholds
    from hub.reports.day_store import site_layout
    from hub.reports.live_day import LiveDay, save_live

    tz = ZoneInfo(TZ)
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz).timestamp()
    layout = site_layout(store, store.site(SITE), BIN, Thresholds())
    began = time.perf_counter()
    state = LiveDay.build(store, layout, day, midnight, end, midnight + 17 * 3600 + 3000)
    built = time.perf_counter() - began
    changed = {d["id"] for d in layout.desks[::100]}
    began = time.perf_counter()
    state.advance(store, end, changed)
    advanced = time.perf_counter() - began
    save_live(store, state)
    ticked = time.perf_counter() - began
    return {"build_ms": round(built * 1000, 1), "advance_ms": round(advanced * 1000, 1),
            "tick_ms": round(ticked * 1000, 1), "recomputed_desks": len(changed)}


def _live_reports(client: Any, headers: dict[str, str], day: date, groups: tuple[str, ...],
                  repeats: int) -> dict[str, Any]:
    out = {}
    for group in groups:
        params = {"site": SITE, "group": group, "from": day.isoformat(),
                  "to": day.isoformat()}
        result, response = _timed(client, "/api/v1/utilisation", params, headers, repeats)
        out[f"report_{group}"] = {**result, "source": response.json()["source"]}
    return out


def bench_report(desks: int = 10_000, days: int = 90, repeats: int = 20) -> dict[str, Any]:
    """Seed, then time the report per grouping (and the heatmap) through the API."""
    from fastapi.testclient import TestClient

    from hub.api.app import create_app
    from hub.auth import accounts
    from hub.config import HubSettings
    from hub.db.sqlite.store import SqliteStore

    first = date.today() - timedelta(days=days + 1)
    last = first + timedelta(days=days - 1)
    out: dict[str, Any] = {"desks": desks, "days": days, "bin_seconds": BIN,
                           "from": first.isoformat(), "to": last.isoformat()}
    with tempfile.TemporaryDirectory() as tmp:
        settings = HubSettings(data_dir=Path(tmp), bin_seconds=BIN)
        store = SqliteStore(settings.database_path)
        out["seed_seconds"] = round(seed(store, desks, days, first), 2)
        out["database_mb"] = round(settings.database_path.stat().st_size / 1e6, 1)
        token = accounts.create_api_token(store.db, "bench", role="manager")
        app = create_app(settings, store)
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:
            for name, path, group in (
                ("report_site", "/api/v1/utilisation", "site"),
                ("report_floor", "/api/v1/utilisation", "floor"),
                ("report_zone", "/api/v1/utilisation", "zone"),
                ("heatmap_floor", "/api/v1/utilisation/heatmap", "floor"),
            ):
                params = {"site": SITE, "group": group, "from": first.isoformat(),
                          "to": last.isoformat()}
                out[name], response = _timed(client, path, params, headers, repeats)
                body = response.json()
                if name == "report_site":
                    out[name]["source"] = body["source"]
                    out[name]["dwell_spells"] = body["results"][0]["dwell"]["count"]
            # The live day: the last weekday of the range, its stored summary dropped.
            live = last - timedelta(days=max(last.weekday() - 4, 0))
            out["live_day"] = {"date": live.isoformat(),
                               "transitions": seed_live_day(store, desks, live)}
            with store.transaction() as db:
                db.conn.execute("DELETE FROM day_summaries WHERE day = ?", [live.isoformat()])
            groups = ("site", "floor", "zone")
            # Before: no live summary, so the report summarises the day from rollups and
            # transitions on every request.
            out["live_day"]["recomputed"] = _live_reports(client, headers, live, groups,
                                                          max(repeats // 4, 3))
            # After: the Rollupper's live summary (hub/reports/live_day.py), as its last tick of
            # the day left it; the tick itself is timed apart.
            out["live_day"]["rollupper"] = keep_live_summary(store, desks, live)
            out["live_day"].update(_live_reports(client, headers, live, groups, repeats))
            today, _ = _timed(client, "/api/v1/utilisation", {"site": SITE, "group": "zone"},
                              headers, 3)
            out["today_zone_now"] = today  # depends on the hour: little data before 08:00
        store.close()
    out["target_p95_ms"] = 300
    out["live_day"]["target_p95_ms"] = 150
    return out


if __name__ == "__main__":
    print(json.dumps(bench_report(), indent=2))
