"""Occupancy accuracy per sensor kind and behaviour profile, scored over core hours.

For each behaviour profile (``firmware_sim.profiles``: ground truth and PIR motion built
from behaviour, independently of the detectors) and each sensor kind, every desk-day runs
the real detector behind a ``DetectingSensor`` and the agent's ``DeskStateMachine``
(hold ``HOLD_SECONDS``), stepped every ``STEP_SECONDS[kind]`` from 06:00 to 21:00. Kinds:

- ``pir``: the agent's PIR detector (adaptive hold, ``edge.sensors.pir.ADAPTIVE_HOLD``);
- ``pir_fixed``: the PIR detector with its fixed defaults (the figures issue 25 started
  from), for comparison;
- ``contact`` (seat mat / switch) and ``thermopile`` (AMG8833), from the older simulated
  drivers of ``firmware_sim.sensor_models`` fed with the profile's ground truth.

Three estimators are scored on the minutes (mid-minute) of the site's core hours
(``hub.building.model`` default: 08:00-18:00, Monday-Friday):

- ``live``: what the map shows: each state from the moment the agent EMITTED it;
- ``stored``: the events at their ``at`` as the hub stores them (vacancies back-dated);
- ``history``: the stored events plus the PIR hindsight corrections of
  ``edge.hindsight.Hindsight`` (late events; a later one wins at the same ``at``, as in
  ``hub.metrics.kernel.intervals_from_transitions``). Seat and thermopile have no
  corrections: their history is ``stored``.

Per estimator: ``accuracy`` (an ``unknown`` minute is wrong), ``recall`` (occupied minutes
shown occupied), ``specificity`` (vacant minutes shown vacant), ``false_vacancies`` and
``false_occupancies`` per desk-day: maximal runs of minutes shown vacant while the desk
was occupied all along (resp. shown occupied while nobody was there). ``live_vs_history``
is history minus live, in accuracy points. Latencies come from emission times: arrival
from a true arrival to the first ``occupied`` emitted; departure from a true departure
(one followed by at least ``configured`` + 60 s of vacancy) to the first ``vacant``
emitted, where ``configured`` is the detector's longest delay + the state machine hold.

Run: ``.venv/bin/python -m bench.accuracy [--desks 40 --days 5]`` or, for
bench/results.json, ``.venv/bin/python -m bench.run --only sensor_accuracy``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.hindsight import Hindsight
from edge.protocol import DeskEvent
from edge.sensors.base import Sensor
from edge.sensors.contact import ContactDetector
from edge.sensors.pipeline import DetectingSensor
from edge.sensors.pir import ADAPTIVE_HOLD, PirDetector
from edge.sensors.thermopile import ThermopileDetector
from edge.state import DeskStateMachine
from firmware_sim.people import Interval
from firmware_sim.profiles import PROFILES, DeskDay, TracePirDriver, desk_day
from firmware_sim.sensor_models import SimContactDriver, SimThermopileDriver
from hub.building.model import check_core_hours, clock_seconds

KINDS = ("pir", "pir_fixed", "contact", "thermopile")
# issue 22's wireless kinds (bench/wireless.py runs them on 200 desks): firmware_sim.wireless
WIRELESS_KINDS = ("bthome_motion", "zigbee_presence", "radar")
HOLD_SECONDS = 600.0  # the agent's default hold_seconds
# Simulated seconds between reads (the agent polls every second; coarser steps keep the
# bench to minutes and make latencies up to one step worse than live).
STEP_SECONDS = {"pir": 5.0, "pir_fixed": 5.0, "contact": 10.0, "thermopile": 30.0,
                "bthome_motion": 5.0, "zigbee_presence": 10.0, "radar": 10.0}
SIM_HOURS = (6.0, 21.0)
FIRST_DAY = date(2026, 3, 2)  # a Monday; the bench site's time zone is UTC
ESTIMATORS = ("live", "stored", "history")
Event = tuple[str, float, float]  # (state, at, emitted at)
CODES = {"vacant": 0, "occupied": 1, "unknown": -1}


class _Recording:
    """A driver that remembers its last raw sample (None after a failed read), so the
    hindsight sees what the detector saw."""

    def __init__(self, driver: TracePirDriver) -> None:
        self.driver = driver
        self.last: object | None = None

    def sample(self, now: float) -> object:
        self.last = None
        self.last = self.driver.sample(now)
        return self.last


@dataclass
class DeskRun:
    """One desk-day's live events and hindsight corrections, in the order written."""

    events: list[Event] = field(default_factory=list)
    corrections: list[Event] = field(default_factory=list)
    configured: float = HOLD_SECONDS


def make_sensor(kind: str, day: DeskDay, seed: int, step: float
                ) -> tuple[Sensor, _Recording | None, float]:
    """(sensor, the PIR recorder or None, the detector's longest delay) for one desk-day.

    ``missing_seconds`` is widened to three steps at the bench's coarse steps, so two
    failed reads in a row (routine at 1 Hz) are not a fault here either.
    """
    missing = max(60.0, 3 * step)
    if kind in ("pir", "pir_fixed"):
        recorder = _Recording(TracePirDriver(day.motion, seed=seed))
        low, high = ADAPTIVE_HOLD if kind == "pir" else (None, None)
        pir = PirDetector(missing_seconds=missing, min_hold_seconds=low, max_hold_seconds=high)
        return DetectingSensor(recorder, pir), recorder, pir.absent_after
    if kind == "contact":
        contact = SimContactDriver(day.intervals, seed=seed)
        return DetectingSensor(contact, ContactDetector(missing_seconds=missing)), None, 0.0
    if kind == "thermopile":
        thermo = SimThermopileDriver(day.intervals, seed=seed)
        return DetectingSensor(thermo, ThermopileDetector(missing_seconds=missing)), None, 0.0
    if kind in WIRELESS_KINDS:
        return _wireless_sensor(kind, day, seed, missing)
    raise ValueError(f"unknown sensor kind {kind!r}; expected one of "
                     f"{', '.join(KINDS + WIRELESS_KINDS)}")


def _wireless_sensor(kind: str, day: DeskDay, seed: int, missing: float
                     ) -> tuple[Sensor, _Recording | None, float]:
    """The agent's own detector for each wireless kind (edge.sensor_factory's choice)
    behind the simulated channel of firmware_sim.wireless."""
    from edge.config import SensorConfig
    from edge.sensor_factory import wireless_detector
    from firmware_sim.wireless import SimBthomeMotion, SimRadar, SimZigbeePresence

    if kind == "bthome_motion":
        # no hindsight: the agent keeps it for wired PIRs (see edge.agent.Agent)
        pir = wireless_detector(SensorConfig(type="bthome", ble_address="00:00:00:00:00:00",
                                             measure="motion"), missing_seconds=missing)
        assert isinstance(pir, PirDetector)
        driver = SimBthomeMotion(day.intervals, day.motion, seed=seed)
        return DetectingSensor(driver, pir), None, pir.absent_after
    if kind == "zigbee_presence":
        detector = wireless_detector(SensorConfig(type="zigbee", device="d",
                                                  payload_field="presence"),
                                     missing_seconds=missing)
        return DetectingSensor(SimZigbeePresence(day.intervals, seed=seed), detector), None, 0.0
    # the next desk's person keeps a similar day, an hour or two apart
    shift = 3600.0 * (1 + seed % 2)
    neighbour = [(s + shift, e + shift) for s, e in day.intervals]
    detector = wireless_detector(SensorConfig(type="radar", port="/dev/null", max_cm=120),
                                 missing_seconds=missing)
    return DetectingSensor(SimRadar(day.intervals, neighbour, seed=seed), detector), None, 0.0


def run_desk_day(kind: str, day: DeskDay, day_start: float, seed: int, step: float) -> DeskRun:
    """Step one desk-day through detector, state machine and (PIR) hindsight."""
    sensor, recorder, delay = make_sensor(kind, day, seed, step)
    machine = DeskStateMachine(HOLD_SECONDS)
    hindsight = Hindsight() if recorder is not None else None
    run = DeskRun(configured=HOLD_SECONDS + delay)
    begin, end = day_start + SIM_HOURS[0] * 3600.0, day_start + SIM_HOURS[1] * 3600.0
    for t in begin + step * np.arange(int((end - begin) // step) + 1):
        now = float(t)
        reading = sensor.read(now)
        corrections: list[DeskEvent] = []
        if hindsight is not None and recorder is not None:
            corrections += hindsight.sample(now, recorder.last)
        event = machine.update(reading)
        if event is not None:
            run.events.append((event.state, event.at, now))
            if hindsight is not None:
                corrections += hindsight.event(event)
        run.corrections += [(c.state, c.at, now) for c in corrections]
    return run


def shown(transitions: Sequence[tuple[str, float]], minutes: npt.NDArray[np.float64]
          ) -> npt.NDArray[np.int64]:
    """The state code at each minute from transitions (state, from) in the order written:
    stable-sorted by time, the last written wins at the same time (as the hub does)."""
    if not transitions:
        return np.full(len(minutes), -1, dtype=np.int64)
    at = np.array([a for _, a in transitions])
    code = np.array([CODES[s] for s, _ in transitions], dtype=np.int64)
    order = np.argsort(at, kind="stable")
    at, code = at[order], code[order]
    j = np.searchsorted(at, minutes, side="right") - 1
    return np.where(j >= 0, code[np.maximum(j, 0)], -1)


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) index runs where ``mask`` is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))


def score_minutes(codes: npt.NDArray[np.int64], actual: npt.NDArray[np.bool_]) -> dict[str, int]:
    """Minute counts and false episodes of one estimator on one desk-day."""
    false_vacancies = sum(1 for a, b in _runs(codes == 0) if actual[a:b].all())
    false_occupancies = sum(1 for a, b in _runs(codes == 1) if not actual[a:b].any())
    return {
        "minutes": len(codes), "correct": int(np.sum(codes == actual.astype(np.int64))),
        "unknown": int(np.sum(codes == -1)), "occupied": int(actual.sum()),
        "occupied_hit": int(np.sum(actual & (codes == 1))),
        "vacant_hit": int(np.sum(~actual & (codes == 0))),
        "false_vacancies": false_vacancies, "false_occupancies": false_occupancies,
    }


def latencies(truth: Sequence[Interval], events: Sequence[Event], configured: float,
              end: float) -> tuple[list[float], list[float], int]:
    """(arrival latencies, departure latencies, missed) from emission times."""
    merged: list[list[float]] = []
    for s, e in truth:
        if merged and s - merged[-1][1] < configured + 60.0:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    arrivals: list[float] = []
    departures: list[float] = []
    missed = 0
    for n, (s, e) in enumerate(merged):
        after = merged[n + 1][0] if n + 1 < len(merged) else end
        for state, edge, until, out in (("occupied", s, e, arrivals),
                                        ("vacant", e, after, departures)):
            if state == "vacant" and until - edge < configured + 60.0:
                continue  # the day ends too soon after it to see the departure
            before = [st for st, _, emitted in events if emitted <= edge]
            if before and before[-1] == state:
                hit: float | None = 0.0  # already shown so (a false state ahead of it)
            else:
                hit = next((emitted - edge for st, _, emitted in events
                            if st == state and edge <= emitted < until), None)
            if hit is None:
                missed += 1
            else:
                out.append(hit)
    return arrivals, departures, missed


def _percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "count": 0}
    arr = np.asarray(values)
    return {"p50": round(float(np.percentile(arr, 50)), 1),
            "p95": round(float(np.percentile(arr, 95)), 1),
            "max": round(float(arr.max()), 1), "count": len(values)}


def core_minutes(day_start: float, core: dict[str, Any]) -> npt.NDArray[np.float64]:
    """Mid-minute times of the core hours of the (weekday) day starting ``day_start``."""
    a, b = clock_seconds(core["start"]), clock_seconds(core["end"])
    return day_start + a + 30.0 + 60.0 * np.arange((b - a) // 60)


def weekdays(days: int) -> list[date]:
    """The first ``days`` weekdays from FIRST_DAY."""
    return [FIRST_DAY + timedelta(days=7 * (n // 5) + n % 5) for n in range(days)]


def bench_profile_kind(profile: str, kind: str, desks: int, days: int, seed: int,
                       core: dict[str, Any]) -> dict[str, Any]:
    step = STEP_SECONDS[kind]
    began = time.perf_counter()
    totals = {e: dict.fromkeys(("minutes", "correct", "unknown", "occupied", "occupied_hit",
                                "vacant_hit", "false_vacancies", "false_occupancies"), 0)
              for e in ESTIMATORS}
    arrivals: list[float] = []
    departures: list[float] = []
    missed = 0
    configured = HOLD_SECONDS
    for n, the_day in enumerate(weekdays(days)):
        if the_day.weekday() not in core["days"]:
            continue
        day_start = datetime(the_day.year, the_day.month, the_day.day, tzinfo=UTC).timestamp()
        for desk in range(desks):
            day = desk_day(PROFILES[profile], seed, desk, n, day_start)
            run = run_desk_day(kind, day, day_start, seed * 100_003 + desk * 101 + n, step)
            configured = run.configured
            minutes = core_minutes(day_start, core)
            starts = np.array([s for s, _ in day.intervals] or [np.inf])
            ends = np.array([e for _, e in day.intervals] or [np.inf])
            i = np.searchsorted(starts, minutes, side="right") - 1
            actual = (i >= 0) & (minutes < ends[np.maximum(i, 0)])
            live = shown([(s, e) for s, _, e in run.events], minutes)
            stored = shown([(s, a) for s, a, _ in run.events], minutes)
            written = sorted([*run.events, *run.corrections], key=lambda ev: ev[2])
            history = shown([(s, a) for s, a, _ in written], minutes)
            for name, codes in (("live", live), ("stored", stored), ("history", history)):
                for key, value in score_minutes(codes, actual).items():
                    totals[name][key] += value
            a, d, m = latencies(day.intervals, run.events, run.configured,
                                day_start + SIM_HOURS[1] * 3600.0)
            arrivals += a
            departures += d
            missed += m
    desk_days = desks * days
    out: dict[str, Any] = {"step_seconds": step, "hold_seconds": HOLD_SECONDS,
                           "configured_departure_seconds": configured}
    for name, t in totals.items():
        vacant = t["minutes"] - t["occupied"]
        out[name] = {
            "accuracy": round(t["correct"] / max(1, t["minutes"]), 4),
            "recall": round(t["occupied_hit"] / max(1, t["occupied"]), 4),
            "specificity": round(t["vacant_hit"] / max(1, vacant), 4),
            "unknown_share": round(t["unknown"] / max(1, t["minutes"]), 5),
            "false_vacancies_per_desk_day": round(t["false_vacancies"] / desk_days, 3),
            "false_occupancies_per_desk_day": round(t["false_occupancies"] / desk_days, 3),
        }
    out["live_vs_history_points"] = round(
        100 * (out["history"]["accuracy"] - out["live"]["accuracy"]), 2)
    out["arrival_latency_s"] = _percentiles(arrivals)
    out["departure_latency_s"] = _percentiles(departures)
    out["departures_within_configured"] = round(
        sum(1 for d in departures if d <= configured) / max(1, len(departures)), 4)
    out["missed_transitions"] = missed
    out["seconds"] = round(time.perf_counter() - began, 1)
    return out


def bench_accuracy(
    desks: int = 40,
    days: int = 5,
    seed: int = 11,
    kinds: Sequence[str] = KINDS,
    profiles: Sequence[str] = tuple(PROFILES),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Figures per profile and sensor kind over ``days`` weekdays on ``desks`` desks."""
    core = check_core_hours(None)
    out: dict[str, Any] = {
        "desks": desks, "days": days, "seed": seed,
        "core_hours": {"days": core["days"], "start": core["start"], "end": core["end"],
                       "time_zone": "UTC"},
        "profiles": {name: PROFILES[name].summary for name in profiles},
    }
    pipeline_log = logging.getLogger("edge.sensors.pipeline")
    level = pipeline_log.level
    pipeline_log.setLevel(logging.ERROR)  # simulated failed reads are expected, not news
    try:
        for profile in profiles:
            for kind in kinds:
                result = bench_profile_kind(profile, kind, desks, days, seed, core)
                out.setdefault(kind, {})[profile] = result
                if progress is not None:
                    progress(f"{profile} {kind}: {json.dumps(result)}")
    finally:
        pipeline_log.setLevel(level)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--desks", type=int, default=40)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--profiles", default=",".join(PROFILES))
    args = parser.parse_args(argv)
    result = bench_accuracy(args.desks, args.days, args.seed, args.kinds.split(","),
                            args.profiles.split(","), progress=print)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
