"""The occupied-seconds kernel on 20 M intervals against a pandas implementation.

Each side runs in its own subprocess so that its peak RSS is its own. "One core": numpy
does these element-wise operations and ``bincount`` on one thread; the figures are given
per wall second and per CPU second of that process (on a shared machine the wall clock
also counts time spent waiting for a core). The pandas side does the same work the
usual way: one row per (interval, bin) it touches, the overlap per row, ``groupby`` sum,
in chunks so that it fits in memory; its result is checked against the kernel's.

Two shapes of input, each measured against pandas in the same run:

- ``uniform`` (n = 20 M): starts uniform over 2,000 desks x 14 days, lengths exponential
  with a mean of one hour (a 2.7 M-cell table, 21 MB: it fits a 32 MB L3 cache).
- ``sessions`` (issue 23, n = 5 M), shaped like real desk sessions: 2,000 desks x 30 days
  of 15-min bins (a 5.8 M-cell table, 46 MB); each session starts on a random day
  uniformly between 07:00 and 19:00, lasts a log-normal time (median 45 min, sigma 0.9,
  clipped to 1 min .. 10 h; mean ~67 min), so it spans 5.5 bins on average and 96.5 %
  span more than one; the intervals are in random order (not sorted by desk or time).
- ``sessions_sorted`` (issue 23): the same sessions sorted by (desk, start), the order in
  which the hub's own callers hand intervals to the kernel (:func:`hub.metrics.kernel.
  intervals_from_transitions` sorts by desk and time, as the store reads transitions).
  The changes of one desk then land in one row of the table one after another instead of
  at random in 46 MB, which is most of the difference between the two shapes.

Run: ``.venv/bin/python -m bench.kernel [n]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np

BIN = 900
N_DESKS = 2000
DAYS = 14
SESSION_DAYS = 30
T0 = 1_800_000_000.0
PANDAS_CHUNK = 1_000_000


def make_intervals(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n occupied intervals over 2000 desks x 14 days, mean length one hour."""
    rng = np.random.default_rng(seed)
    desk = rng.integers(0, N_DESKS, n)
    start = T0 + rng.uniform(-3600, DAYS * 86_400, n)
    end = start + rng.exponential(3600, n)
    return desk, start, end


def make_sessions(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n desk sessions over 2000 desks x 30 working days, in random order (see above)."""
    rng = np.random.default_rng(seed)
    desk = rng.integers(0, N_DESKS, n)
    day = rng.integers(0, SESSION_DAYS, n)
    start = T0 + day * 86_400.0 + rng.uniform(7 * 3600, 19 * 3600, n)
    length = np.clip(rng.lognormal(np.log(45 * 60), 0.9, n), 60, 10 * 3600)
    return desk, start, start + length


def make_sorted_sessions(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sessions of :func:`make_sessions`, sorted by (desk, start)."""
    desk, start, end = make_sessions(n, seed)
    order = np.lexsort((start, desk))
    return desk[order], start[order], end[order]


SHAPES = {"uniform": (make_intervals, DAYS), "sessions": (make_sessions, SESSION_DAYS),
          "sessions_sorted": (make_sorted_sessions, SESSION_DAYS)}


def pandas_occupied_seconds(
    desk: np.ndarray, start: np.ndarray, end: np.ndarray, *, n_desks: int, t0: float,
    bin_seconds: int, n_bins: int,
) -> np.ndarray:
    """The same (n_desks, n_bins) overlap table, the way one would write it in pandas."""
    import pandas as pd

    top = t0 + n_bins * bin_seconds
    parts = []
    for lo in range(0, len(desk), PANDAS_CHUNK):
        df = pd.DataFrame({"desk": desk[lo:lo + PANDAS_CHUNK],
                           "start": start[lo:lo + PANDAS_CHUNK].clip(t0, top),
                           "end": end[lo:lo + PANDAS_CHUNK].clip(t0, top)})
        df = df[df["end"] > df["start"]]
        df["first"] = ((df["start"] - t0) // bin_seconds).astype("int64")
        df["last"] = ((df["end"] - t0) // bin_seconds).astype("int64").clip(upper=n_bins - 1)
        rows = df.loc[df.index.repeat(df["last"] - df["first"] + 1)].copy()
        rows["bin"] = rows["first"] + rows.groupby(level=0).cumcount()
        lo_edge = t0 + rows["bin"] * bin_seconds
        overlap = (np.minimum(rows["end"], lo_edge + bin_seconds)
                   - np.maximum(rows["start"], lo_edge)).clip(lower=0)
        parts.append(overlap.groupby([rows["desk"], rows["bin"]]).sum())
    out = np.zeros((n_desks, n_bins))
    if parts:
        total = pd.concat(parts).groupby(level=[0, 1]).sum()
        index = total.index.to_frame().to_numpy()
        out[index[:, 0], index[:, 1]] = total.to_numpy()
    return out


def _measure(which: str, n: int, shape: str = "uniform") -> dict[str, Any]:
    """Run inside the child: time one implementation on n intervals, report RSS."""
    import resource
    import time

    from hub.metrics.kernel import occupied_seconds

    make, days = SHAPES[shape]
    desk, start, end = make(n)
    n_bins = days * 86_400 // BIN
    kwargs: dict[str, Any] = {"n_desks": N_DESKS, "t0": T0, "bin_seconds": BIN, "n_bins": n_bins}
    fn = occupied_seconds if which == "numpy" else pandas_occupied_seconds
    fn(desk[:1000], start[:1000], end[:1000], **kwargs)  # warm up (imports, first calls)
    runs = 3 if which == "numpy" else 1
    wall, cpu, result = [], [], np.zeros(0)
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        result = fn(desk, start, end, **kwargs)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return {
        "intervals": n, "wall_seconds": round(min(wall), 4), "cpu_seconds": round(min(cpu), 4),
        "intervals_per_second": round(n / min(wall)),
        "intervals_per_cpu_second": round(n / min(cpu)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "checksum": float(result.sum()), "checksum_row0": float(result[0].sum()),
    }


def _child(which: str, n: int, shape: str = "uniform") -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.kernel", "--child", which, str(n), shape],
        check=True, capture_output=True, text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_kernel(
    n: int = 20_000_000, *, pandas_n: int | None = None, sessions_n: int = 5_000_000,
) -> dict[str, Any]:
    """Both shapes (module docstring); the ``uniform`` figures stay at the top level."""
    result = bench_shape("uniform", n, pandas_n=pandas_n)
    for shape in ("sessions", "sessions_sorted") if sessions_n else ():
        result[shape] = bench_shape(shape, sessions_n)
        result[shape]["targets"] = {"intervals_per_second": 30_000_000, "ratio": 20}
    return result


def bench_shape(shape: str, n: int, *, pandas_n: int | None = None) -> dict[str, Any]:
    """Kernel and pandas on the same intervals, each in a subprocess; the speed ratio.

    ``pandas_n`` (default: ``n``) lets a quick run give pandas fewer intervals; the ratio
    is then of rates (intervals per second), and the checksum is compared only when equal.
    """
    pandas_n = n if pandas_n is None else pandas_n
    fast = _child("numpy", n, shape)
    slow = _child("pandas", pandas_n, shape)
    same = pandas_n == n
    if same and not np.isclose(fast["checksum"], slow["checksum"], rtol=1e-9):
        raise AssertionError(f"pandas and numpy disagree: {slow['checksum']} != {fast['checksum']}")
    return {
        "shape": shape, "intervals": n, "desks": N_DESKS,
        "bins": SHAPES[shape][1] * 86_400 // BIN, "bin_seconds": BIN,
        "numpy": fast, "pandas": slow, "results_equal": same,
        "ratio_wall": round(fast["intervals_per_second"] / slow["intervals_per_second"], 1),
        "ratio_cpu": round(fast["intervals_per_cpu_second"]
                           / slow["intervals_per_cpu_second"], 1),
        "targets": {"intervals_per_second": 20_000_000, "ratio": 20, "peak_rss_mb": 2048},
    }


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(_measure(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
    else:
        size = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000_000
        print(json.dumps(bench_kernel(size), indent=2))
