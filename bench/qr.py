"""QR decoding throughput at 640x480 on one core, and success rate per frame variant.

Frames come from firmware_sim/camera.py and are generated before timing starts. Three
workloads are timed: an empty desk (what a desk camera sees most of the time), frames
with one code (plain, rotated, small), and the round-robin mix of every variant of the
issue's "Done when" (rotated, skewed, blurred, noisy, small, several per frame). The
process is pinned to one CPU and OpenCV to one thread while timing. ``frames_per_s`` is
wall-clock; ``cpu_frames_per_s`` uses process CPU time, steadier on a shared machine.
``python -m bench.qr [frames]``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np

from edge.qr.decode import decode_frame
from firmware_sim.camera import VARIANTS, camera_frame, variant_frame

TARGET_FPS = 30.0


@contextmanager
def _one_core() -> Iterator[None]:
    """Pin this process to one CPU and OpenCV to one thread; restore both afterwards."""
    threads = cv2.getNumThreads()
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cv2.setNumThreads(1)
    if affinity:
        os.sched_setaffinity(0, {max(affinity)})
    try:
        yield
    finally:
        cv2.setNumThreads(threads)
        if affinity:
            os.sched_setaffinity(0, affinity)


def _time(images: list[np.ndarray], frames: int, *, thorough: bool = False) -> dict[str, float]:
    decode_frame(images[0], thorough=thorough)  # warm-up: detector construction
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(frames):
        decode_frame(images[i % len(images)], thorough=thorough)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "frames": frames,
        "frames_per_s": round(frames / wall, 1),
        "cpu_frames_per_s": round(frames / cpu, 1) if cpu > 0 else float("inf"),
        "ms_per_frame": round(1000 * wall / frames, 2),
    }


def decode_rates(seeds: int = 20, *, thorough: bool = False) -> dict[str, dict[str, Any]]:
    """Share of codes decoded per variant over ``seeds`` frames each (no false texts)."""
    rates: dict[str, dict[str, Any]] = {}
    for name, variant in VARIANTS.items():
        found = total = strangers = 0
        for seed in range(seeds):
            frame = variant_frame(name, seed)
            got = set(decode_frame(frame.image, thorough=thorough))
            found += len(got & set(frame.texts))
            total += len(frame.texts)
            strangers += len(got - set(frame.texts))
        rates[name] = {"decoded": found, "codes": total, "rate": round(found / total, 3),
                       "false_texts": strangers, "stress": variant.stress}
    return rates


def bench_qr_decode(frames: int = 200, *, rate_seeds: int = 0) -> dict[str, Any]:
    """Frames/s of decode_frame at 640x480 on one core (target >= 30/s), per workload."""
    empty = [camera_frame([], seed=s, noise=3.0 * (s % 3)).image for s in range(8)]
    single = [variant_frame(name, s).image for s in range(4)
              for name in ("plain", "rotated", "small")]
    issue = [variant_frame(name, s).image for s in range(2)
             for name, v in VARIANTS.items() if not v.stress]
    with _one_core():
        result: dict[str, Any] = {
            "resolution": "640x480",
            "target_frames_per_s": TARGET_FPS,
            "empty_desk": _time(empty, frames),
            "one_code": _time(single, frames),
            "issue_mix": _time(issue, frames),
            "issue_mix_thorough": _time(issue, max(1, frames // 4), thorough=True),
        }
        if rate_seeds:
            result["rates"] = decode_rates(rate_seeds)
            result["rates_thorough"] = decode_rates(rate_seeds, thorough=True)
    # Wall clock on a shared machine counts other processes' turns on "our" core too;
    # both verdicts are given, and the CPU-time one is what a dedicated core would do.
    result["meets_target_wall"] = result["issue_mix"]["frames_per_s"] >= TARGET_FPS
    result["meets_target_cpu"] = result["issue_mix"]["cpu_frames_per_s"] >= TARGET_FPS
    return result


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print(json.dumps(bench_qr_decode(count, rate_seeds=seeds), indent=2))
