"""The occupied-seconds kernel on 20 M intervals against a pandas implementation.

Each side runs in its own subprocess so that its peak RSS is its own. "One core": numpy
does these element-wise operations and ``bincount`` on one thread; the figures are given
per wall second and per CPU second of that process (on a shared machine the wall clock
also counts time spent waiting for a core). The pandas side does the same work the
usual way: one row per (interval, bin) it touches, the overlap per row, ``groupby`` sum,
in chunks so that it fits in memory; its result is checked against the kernel's.

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
T0 = 1_800_000_000.0
PANDAS_CHUNK = 1_000_000


def make_intervals(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n occupied intervals over 2000 desks x 14 days, mean length one hour."""
    rng = np.random.default_rng(seed)
    desk = rng.integers(0, N_DESKS, n)
    start = T0 + rng.uniform(-3600, DAYS * 86_400, n)
    end = start + rng.exponential(3600, n)
    return desk, start, end


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


def _measure(which: str, n: int) -> dict[str, Any]:
    """Run inside the child: time one implementation on n intervals, report RSS."""
    import resource
    import time

    from hub.aggregate import occupied_seconds

    desk, start, end = make_intervals(n)
    n_bins = DAYS * 86_400 // BIN
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


def _child(which: str, n: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.kernel", "--child", which, str(n)],
        check=True, capture_output=True, text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_kernel(n: int = 20_000_000, *, pandas_n: int | None = None) -> dict[str, Any]:
    """Kernel and pandas on the same intervals, each in a subprocess; the speed ratio.

    ``pandas_n`` (default: ``n``) lets a quick run give pandas fewer intervals; the ratio
    is then of rates (intervals per second), and the checksum is compared only when equal.
    """
    pandas_n = n if pandas_n is None else pandas_n
    fast = _child("numpy", n)
    slow = _child("pandas", pandas_n)
    same = pandas_n == n
    if same and not np.isclose(fast["checksum"], slow["checksum"], rtol=1e-9):
        raise AssertionError(f"pandas and numpy disagree: {slow['checksum']} != {fast['checksum']}")
    return {
        "intervals": n, "desks": N_DESKS, "bins": DAYS * 86_400 // BIN, "bin_seconds": BIN,
        "numpy": fast, "pandas": slow, "results_equal": same,
        "ratio_wall": round(fast["intervals_per_second"] / slow["intervals_per_second"], 1),
        "ratio_cpu": round(fast["intervals_per_cpu_second"]
                           / slow["intervals_per_cpu_second"], 1),
        "targets": {"intervals_per_second": 20_000_000, "ratio": 20, "peak_rss_mb": 2048},
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(_measure(sys.argv[2], int(sys.argv[3]))))
    else:
        size = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000_000
        print(json.dumps(bench_kernel(size), indent=2))
