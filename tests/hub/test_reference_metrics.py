"""The vectorised report (day summaries -> groups) against the plain-Python reference.

Random buildings and event streams: several time zones around their DST changes, bins of
15/30/60 minutes, random core hours and closed dates, events in any arrival order (late
and out-of-order ones included), a "now" inside the last day, every grouping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.metrics.days import Thresholds
from hub.metrics.report import Grouping, report
from tests.hub import reference_metrics as ref
from tests.hub.kernel_days import approx, fast_days

ANCHORS = [  # (time zone, a local date just before or on a DST change, or a plain week)
    ("Europe/Berlin", "2024-03-30"), ("Europe/Berlin", "2024-10-26"),
    ("America/New_York", "2024-03-09"), ("America/New_York", "2024-11-02"),
    ("Asia/Kolkata", "2024-01-08"), ("UTC", "2024-01-08"),
]


@st.composite
def cases(draw: st.DrawFn) -> tuple[ref.Case, list[int], list[int]]:
    timezone, anchor = draw(st.sampled_from(ANCHORS))
    bs = draw(st.sampled_from([900, 1800, 3600]))
    n_days = draw(st.sampled_from([1, 1, 2, 3]))
    local = datetime.fromisoformat(anchor).replace(tzinfo=ZoneInfo(timezone))
    t0 = int(local.timestamp()) // bs * bs
    n_bins = n_days * 86_400 // bs
    until = t0 + draw(st.sampled_from([n_bins * bs, n_bins * bs - bs // 3])
                      | st.integers(bs, n_bins * bs))
    start = draw(st.sampled_from(["00:00", "06:30", "08:00", "09:15"]))
    end = draw(st.sampled_from(["12:00", "17:45", "18:00", "24:00"]))
    days = draw(st.sampled_from([[0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4]])
                | st.sets(st.integers(0, 6), min_size=1).map(sorted))
    core: dict[str, Any] = {"days": days, "start": start, "end": end}
    if draw(st.booleans()):
        core["closed"] = [anchor]
    n_desks = draw(st.integers(1, 5))
    zone = [draw(st.integers(0, 2)) for _ in range(n_desks)]
    floor_of_zone = [draw(st.integers(0, 1)) for _ in range(3)]
    # Whole minutes make ties and gaps of exactly the hold time likely; floats the rest.
    offsets = (st.integers(-bs // 60, n_bins * bs // 60).map(lambda m: 60.0 * m)
               | st.floats(-bs, n_bins * bs))
    states = st.sampled_from(["occupied", "occupied", "vacant", "unknown"])
    transitions = draw(st.lists(
        st.tuples(st.integers(0, n_desks - 1), offsets.map(lambda x: t0 + x), states),
        min_size=2, max_size=40))
    case = ref.Case(
        desks=[f"d{i}" for i in range(n_desks)], transitions=transitions, timezone=timezone,
        core=core, bin_seconds=bs, t0=t0, n_bins=n_bins, until=float(until),
        used_hour=draw(st.sampled_from([60.0, 300.0, 600.0])),
        used_day=draw(st.sampled_from([600.0, 1800.0])),
        hold=draw(st.sampled_from([0.0, 300.0, 600.0])),
    )
    return case, zone, floor_of_zone




def groupings(n_desks: int, zone: list[int], floor_of_zone: list[int]) -> dict[str, Any]:
    return {
        "site": (Grouping(["s"], np.zeros(n_desks, dtype=np.int64), np.zeros(3, dtype=np.int64)),
                 [list(range(n_desks))]),
        "floor": (Grouping(["f0", "f1"], np.array([floor_of_zone[z] for z in zone]),
                           np.array(floor_of_zone)),
                  [[d for d in range(n_desks) if floor_of_zone[zone[d]] == f] for f in (0, 1)]),
        "zone": (Grouping(["z0", "z1", "z2"], np.array(zone), np.arange(3)),
                 [[d for d in range(n_desks) if zone[d] == z] for z in range(3)]),
        "desk": (Grouping([f"d{i}" for i in range(n_desks)], np.arange(n_desks), None),
                 [[d] for d in range(n_desks)]),
    }




@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.booleans())
def test_the_report_matches_the_reference(
    drawn: tuple[ref.Case, list[int], list[int]], roundtrip: bool
) -> None:
    case, zone, floor_of_zone = drawn
    days = fast_days(case, zone, roundtrip=roundtrip)
    thresholds = Thresholds(case.used_hour, case.used_day, case.hold)
    for name, (grouping, members) in groupings(len(case.desks), zone, floor_of_zone).items():
        got = report(days, grouping, n_desks=len(case.desks), thresholds=thresholds)
        for row, group in zip(got, members, strict=True):
            expected = ref.report(case, group)
            assert row["desks"] == expected["desks"]
            for key in ("occupied_seconds", "valid_seconds", "window_seconds",
                        "time_utilisation", "coverage", "surplus", "bands", "never_used"):
                assert row[key] == approx(expected[key]), (name, key)
            assert {k: row["used"][k] for k in expected["used"]} == expected["used"], name
            assert row["concurrent"] == approx(expected["concurrent"]), name
            dwell = {k: v for k, v in row["dwell"].items() if k != "hold_seconds"}
            assert dwell == approx(expected["dwell"]), name
            assert row["sharing"]["peak_demand"] == expected["peak_demand"], name
