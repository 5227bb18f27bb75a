"""The hand-computed cases of tests/data/metrics/*.json: each file explains its answer.

Every case runs through the fast path (kernel -> day summaries -> report) and through the
plain-Python reference; both must give the hand-computed figures.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hub.metrics.days import Thresholds
from hub.metrics.report import Grouping, heatmap, report
from tests.hub import reference_metrics as ref
from tests.hub.kernel_days import approx, fast_days

CASES = sorted((Path(__file__).parents[1] / "data" / "metrics").glob("*.json"))
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def load(path: Path) -> tuple[dict[str, Any], ref.Case, list[int]]:
    data = json.loads(path.read_text())
    ids = [d["id"] for d in data["desks"]]
    lo, hi = (int(datetime.fromisoformat(t).timestamp()) for t in data["grid"])
    bs = data["bin_seconds"]
    thresholds = {"used_hour": 300.0, "used_day": 1800.0, "hold": 600.0,
                  **data.get("thresholds", {})}
    case = ref.Case(
        desks=ids,
        transitions=[(ids.index(d), datetime.fromisoformat(at).timestamp(), state)
                     for d, at, state in data["events"]],
        timezone=data["timezone"], core=data["core"], bin_seconds=bs, t0=lo,
        n_bins=(hi - lo) // bs, until=float(hi), **thresholds,
    )
    return data, case, [d["zone"] for d in data["desks"]]


def subset(got: Any, expected: Any) -> Any:
    """``got`` cut down to the keys ``expected`` names (recursively)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return {k: subset(got.get(k), v) for k, v in expected.items()}
    return got


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_hand_computed_case(path: Path) -> None:
    data, case, zones = load(path)
    n = len(case.desks)
    days = fast_days(case, zones, roundtrip=True)
    thresholds = Thresholds(case.used_hour, case.used_day, case.hold)
    headcount = data.get("headcount")
    n_zones = 3
    site = Grouping(["site"], np.zeros(n, dtype=np.int64), np.zeros(n_zones, dtype=np.int64))
    (fast_site,) = report(days, site, n_desks=n, thresholds=thresholds, headcount=headcount,
                          group_is_site=True)
    ref_site = ref.report(case, list(range(n)))
    expected = data["expected"]["site"]
    assert subset(fast_site, expected) == approx(expected)
    reference_keys = {k: v for k, v in expected.items() if k in ref_site and k != "used"}
    assert subset(ref_site, reference_keys) == approx(reference_keys)
    per_desk = report(days, Grouping(case.desks, np.arange(n), None), n_desks=n,
                      thresholds=thresholds)
    for desk, figures in data["expected"].get("desk", {}).items():
        row = per_desk[case.desks.index(desk)]
        assert subset(row, figures) == approx(figures), desk


def test_every_metric_has_a_hand_computed_case() -> None:
    covered = " ".join(json.loads(p.read_text())["title"] for p in CASES)
    for metric in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "12", "13"):
        assert f" {metric}," in covered or f" {metric}:" in covered or f" {metric} " in covered, (
            metric)


def test_heatmap_on_the_dst_day() -> None:
    data, case, zones = load(next(p for p in CASES if "dst" in p.stem))
    days = fast_days(case, zones, roundtrip=False)
    (row,) = heatmap(days, Grouping(["site"], np.zeros(1, dtype=np.int64),
                                    np.zeros(3, dtype=np.int64)), timezone=case.timezone)
    for weekday, hours in data["heatmap"].items():
        w = WEEKDAYS.index(weekday)
        for hour, (mean, count) in hours.items():
            assert row["mean_u"][w][int(hour)] == mean
            assert row["bins"][w][int(hour)] == count
    assert sum(map(sum, row["bins"])) == 5
