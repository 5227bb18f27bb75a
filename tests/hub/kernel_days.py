"""The fast path's day summaries of a reference case, and a tolerant comparison, for the
reference-metrics tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hub.metrics.days import Thresholds, pack, summarise, unpack
from hub.metrics.kernel import (
    OCCUPIED,
    STATE_CODES,
    RollupFrame,
    TransitionFrame,
    bin_state_seconds,
    intervals_from_transitions,
)
from tests.hub import reference_metrics as ref


def fast_days(case: ref.Case, zone: list[int], *, roundtrip: bool) -> list[Any]:
    d = np.array([t[0] for t in case.transitions], dtype=np.int64)
    at = np.array([t[1] for t in case.transitions], dtype=np.float64)
    code = np.array([STATE_CODES[t[2]] for t in case.transitions], dtype=np.int8)
    tf = TransitionFrame(case.desks, d, at, code)  # arrival order: the kernel sorts
    occ, unk, span = bin_state_seconds(tf, t0=case.t0, bin_seconds=case.bin_seconds,
                                       n_bins=case.n_bins, until=case.until)
    bins = case.t0 + case.bin_seconds * np.arange(case.n_bins, dtype=np.int64)
    frame = RollupFrame(case.desks, bins, occ, unk, span, case.bin_seconds, float(case.t0),
                        case.until)
    occupied = intervals_from_transitions(d, at, code, n_desks=len(case.desks),
                                          until=case.until)[OCCUPIED]
    days = summarise(frame, desk_zone=np.array(zone), n_zones=3, timezone=case.timezone,
                     core_hours=case.core,
                     thresholds=Thresholds(case.used_hour, case.used_day, case.hold),
                     occupied=occupied)
    return [unpack(pack(s)) for s in days] if roundtrip else days


def approx(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: approx(v) for k, v in value.items()}
    if isinstance(value, list):
        return [approx(v) for v in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-9, abs=1e-6)
    return value
