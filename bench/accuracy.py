"""Occupancy accuracy per sensor type: simulated drivers -> real detectors -> desk state.

For each sensor type every desk gets a simulated driver (``firmware_sim.sensor_models``)
fed from the people model's ground truth, the real detector behind a
``DetectingSensor``, and the agent's ``DeskStateMachine``; all are stepped every
``step_seconds`` of simulated time (default per kind: ``STEP_SECONDS``). Figures per type:

- ``minute_accuracy``: share of minutes (sampled mid-minute, nights and weekends included)
  where the reported history (events at their ``at``, as the hub stores them) equals
  the ground truth; an ``unknown`` minute counts as wrong (``unknown_share`` says how many);
  ``occupied_recall`` / ``vacant_specificity`` split it by the true state;
- ``false_flips_per_desk_day``: occupied/vacant changes into a state that contradicts the
  ground truth at the moment the change is reported (someone seated when the desk turns
  vacant, nobody there when it turns occupied), and the change that undoes such a false one;
  recoveries from ``unknown`` to the state before it are not changes;
  ``unknown_episodes_per_desk_day`` counts entries into unknown;
- arrival / departure latency p50/p95 in seconds: from the true transition to the step at
  which the state machine emitted it. True transitions are the ground truth with vacant
  gaps shorter than the *effective hold* merged (the hold is there to hide them), where
  effective hold = state-machine hold + the detector's own delay (PIR: 420 s by default).
  Departure target: p95 <= effective hold + 60 s.

Run: ``.venv/bin/python -m bench.accuracy [--desks 200 --days 7]``
"""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np

from edge.sensors.base import Sensor
from edge.sensors.contact import ContactDetector
from edge.sensors.pipeline import DetectingSensor
from edge.sensors.pir import PirDetector
from edge.sensors.thermopile import ThermopileDetector
from edge.state import DeskStateMachine
from firmware_sim.building import generate_building
from firmware_sim.fleet import expected_occupancy
from firmware_sim.people import Interval, PeopleModel
from firmware_sim.sensor_models import SimContactDriver, SimPirDriver, SimThermopileDriver

KINDS = ("pir", "contact", "thermopile")
HOLD_SECONDS = {"pir": 600.0, "contact": 600.0, "thermopile": 600.0}
# Simulated seconds between reads. The agent polls every second; these coarser steps keep
# a 200-desk week under two minutes, and make latencies up to one step worse than live.
STEP_SECONDS = {"pir": 20.0, "contact": 20.0, "thermopile": 30.0}
FIRST_DAY = date(2026, 3, 2)  # a Monday
Event = tuple[str, float, float]  # (state, at, emitted at)


def make_sensor(
    kind: str, intervals: Sequence[Interval], seed: int, tz_offset: float, step: float
) -> tuple[Sensor, float]:
    """(sensor, the detector's own delay in seconds) for one simulated desk.

    A detector tolerates ``missing_seconds`` without a sample; at the bench's coarse steps
    that is widened to three steps so that two failed reads in a row (routine at 1 Hz)
    are not a fault here either.
    """
    missing = max(60.0, 3 * step)
    if kind == "pir":
        pir = PirDetector(missing_seconds=missing)
        return (DetectingSensor(SimPirDriver(intervals, seed=seed, tz_offset_seconds=tz_offset),
                                pir), pir.absent_after)
    if kind == "contact":
        driver = SimContactDriver(intervals, seed=seed, tz_offset_seconds=tz_offset)
        return DetectingSensor(driver, ContactDetector(missing_seconds=missing)), 0.0
    if kind == "thermopile":
        thermo = SimThermopileDriver(intervals, seed=seed, tz_offset_seconds=tz_offset)
        return DetectingSensor(thermo, ThermopileDetector(missing_seconds=missing)), 0.0
    raise ValueError(f"unknown sensor kind {kind!r}; expected one of {', '.join(KINDS)}")


def run_desk(sensor: Sensor, hold: float, times: Sequence[float]) -> list[Event]:
    """Step one desk; every state change as (state, at, emitted at)."""
    machine = DeskStateMachine(hold)
    events: list[Event] = []
    for t in times:
        event = machine.update(sensor.read(t))
        if event is not None:
            events.append((event.state, event.at, t))
    return events


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "count": 0}
    arr = np.asarray(values)
    return {"p50": round(float(np.percentile(arr, 50)), 1),
            "p95": round(float(np.percentile(arr, 95)), 1), "count": len(values)}


def _occupied(truth: Sequence[Interval], t: float) -> bool:
    i = bisect.bisect_right(truth, (t, float("inf"))) - 1
    return i >= 0 and t < truth[i][1]


def score_desk(
    truth: Sequence[Interval], events: Sequence[Event], start: float, end: float,
    effective_hold: float,
) -> dict[str, Any]:
    """Minute agreement counts, matched latencies and false flips for one desk."""
    minutes = start + 30.0 + 60.0 * np.arange(int((end - start) // 60))
    starts = np.array([s for s, _ in truth] or [np.inf])
    ends = np.array([e for _, e in truth] or [np.inf])
    i = np.searchsorted(starts, minutes, side="right") - 1
    actual = (i >= 0) & (minutes < ends[np.maximum(i, 0)])
    ats = np.array([at for _, at, _ in events])
    codes = np.array([{"occupied": 1, "vacant": 0}.get(state, -1) for state, _, _ in events])
    j = np.searchsorted(ats, minutes, side="right") - 1
    shown = np.where(j >= 0, codes[np.maximum(j, 0)], -1)
    emitted = [e for _, _, e in events]
    arrivals: list[float] = []
    departures: list[float] = []
    missed = 0
    merged = expected_occupancy(truth, effective_hold)
    bounds = [s for s, _ in merged] + [end]
    for n, (s, e) in enumerate(merged):
        for state, edge, until, out in (("occupied", s, e, arrivals),
                                        ("vacant", e, bounds[n + 1], departures)):
            if edge <= start or edge >= end - effective_hold - 120.0:
                continue
            k = bisect.bisect_left(emitted, edge)
            while k < len(events) and emitted[k] < until and events[k][0] != state:
                k += 1
            if k < len(events) and emitted[k] < until:
                out.append(emitted[k] - edge)
            else:
                missed += 1
    flips = unknowns = 0
    known = events[0][0] if events else "vacant"
    wrong = False  # the last change was a false one: the change undoing it counts too
    for state, _, at in events[1:]:
        if state == "unknown":
            unknowns += 1
            continue
        if state != known:
            if wrong or (state == "occupied") != _occupied(truth, at):
                flips += 1
                wrong = not wrong
        known = state
    return {
        "minutes": len(minutes), "correct": int(np.sum(shown == actual.astype(int))),
        "unknown": int(np.sum(shown == -1)), "occupied": int(actual.sum()),
        "occupied_hit": int(np.sum(actual & (shown == 1))),
        "vacant_hit": int(np.sum(~actual & (shown == 0))),
        "arrivals": arrivals, "departures": departures, "missed": missed,
        "flips": flips, "unknowns": unknowns,
    }


def bench_kind(
    kind: str, truth: dict[str, list[Interval]], start: float, end: float,
    step_seconds: float, seed: int, tz_offset: float,
) -> dict[str, Any]:
    hold = HOLD_SECONDS[kind]
    times = list(start + step_seconds * np.arange(int((end - start) // step_seconds) + 1))
    began = time.perf_counter()
    total: dict[str, Any] = {"arrivals": [], "departures": []}
    effective = hold
    for n, (_desk, intervals) in enumerate(sorted(truth.items())):
        sensor, delay = make_sensor(kind, intervals, seed * 10_007 + n, tz_offset, step_seconds)
        effective = hold + delay
        score = score_desk(intervals, run_desk(sensor, hold, times), start, end, effective)
        for key, value in score.items():
            if isinstance(value, list):
                total[key].extend(value)
            else:
                total[key] = total.get(key, 0) + value
    desk_days = len(truth) * (end - start) / 86400.0
    vacant = total["minutes"] - total["occupied"]
    return {
        "hold_seconds": hold,
        "effective_hold_seconds": effective,
        "minute_accuracy": round(total["correct"] / total["minutes"], 4),
        "occupied_recall": round(total["occupied_hit"] / max(1, total["occupied"]), 4),
        "vacant_specificity": round(total["vacant_hit"] / max(1, vacant), 4),
        "unknown_share": round(total["unknown"] / total["minutes"], 5),
        "false_flips_per_desk_day": round(total["flips"] / desk_days, 3),
        "unknown_episodes_per_desk_day": round(total["unknowns"] / desk_days, 3),
        "missed_transitions": total["missed"],
        "arrival_latency_s": _percentiles(total["arrivals"]),
        "departure_latency_s": _percentiles(total["departures"]),
        "seconds": round(time.perf_counter() - began, 1),
    }


def bench_accuracy(
    desks: int = 200,
    days: int = 7,
    seed: int = 11,
    step_seconds: float | None = None,
    kinds: Sequence[str] = KINDS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Accuracy figures per sensor kind over ``days`` from a Monday on ``desks`` desks."""
    building = generate_building(seed=seed, desks=desks)
    people = PeopleModel(building, seed=seed)
    start = people.local(FIRST_DAY, 0.0)
    end = start + days * 86400.0
    offset = datetime.fromtimestamp(start, people.tz).utcoffset()
    tz_offset = offset.total_seconds() if offset is not None else 0.0
    truth = people.occupancy(start, end)
    out: dict[str, Any] = {"desks": desks, "days": days, "seed": seed}
    pipeline_log = logging.getLogger("edge.sensors.pipeline")
    level = pipeline_log.level
    pipeline_log.setLevel(logging.ERROR)  # simulated dropouts are expected, not news
    try:
        for kind in kinds:
            step = step_seconds if step_seconds is not None else STEP_SECONDS[kind]
            out[kind] = {"step_seconds": step,
                         **bench_kind(kind, truth, start, end, step, seed, tz_offset)}
            if progress is not None:
                progress(f"{kind}: {json.dumps(out[kind])}")
    finally:
        pipeline_log.setLevel(level)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--desks", type=int, default=200)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--step", type=float, default=None,
                        help="seconds between reads (default: per sensor kind)")
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args(argv)
    result = bench_accuracy(args.desks, args.days, args.seed, args.step,
                            args.kinds.split(","), progress=print)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
