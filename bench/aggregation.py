"""Aggregation throughput: occupied intervals per second through the numpy kernel."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from hub.metrics.kernel import occupied_seconds

BIN = 900


def bench_aggregation(n_intervals: int, n_desks: int = 2000, days: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    t0 = 1_800_000_000.0
    n_bins = days * 86_400 // BIN
    desk = rng.integers(0, n_desks, n_intervals)
    start = t0 + rng.uniform(0, days * 86_400, n_intervals)
    end = start + rng.exponential(3600, n_intervals)
    occupied_seconds(desk[:1000], start[:1000], end[:1000], n_desks=n_desks, t0=t0,
                     bin_seconds=BIN, n_bins=n_bins)  # warm up
    runs = []
    for _ in range(3):
        began = time.perf_counter()
        occupied_seconds(desk, start, end, n_desks=n_desks, t0=t0, bin_seconds=BIN,
                         n_bins=n_bins)
        runs.append(time.perf_counter() - began)
    best = min(runs)
    return {
        "intervals": n_intervals, "desks": n_desks, "bins": n_bins,
        "best_seconds": round(best, 4),
        "intervals_per_second": round(n_intervals / best),
    }
