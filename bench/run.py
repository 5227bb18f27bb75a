"""`make bench`: throughput and accuracy figures, measured side by side in one run here.

Writes bench/results.json. Absolute numbers on a shared 2-core machine are noisy; the
ratios (hub ingest vs a bare paho subscriber on the same broker, numpy vs pandas) are what
to compare. `python -m bench.run --only ingest,aggregation` reruns a subset and keeps the
other sections already in the output file.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import platform
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.broker import Mosquitto


def _ingest() -> dict[str, Any]:
    from bench.ingest import bench_ingest

    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp)).start()
        try:
            return bench_ingest(broker.port, Path(tmp), 20_000)
        finally:
            broker.stop()


def _load() -> dict[str, Any]:
    from bench.load import bench_load

    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp)).start()
        try:
            return bench_load(broker.port, Path(tmp))
        finally:
            broker.stop()


def _call(module: str, function: str, **kwargs: Any) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        result: dict[str, Any] = getattr(importlib.import_module(module), function)(**kwargs)
        return result

    return run


SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "ingest": _ingest,
    "load": _load,
    # 1 vs 3 ingest workers on PostgreSQL with a kill -9 (issue 11; its own broker and
    # PostgreSQL cluster; about 3 minutes)
    "scale": _call("bench.scale", "bench_scale"),
    "aggregation": _call("bench.aggregation", "bench_aggregation", n_intervals=1_000_000),
}
# Sections added by later issues; each is skipped (and says so) until its module exists.
OPTIONAL: dict[str, tuple[str, str]] = {
    "kernel": ("bench.kernel", "bench_kernel"),
    "report": ("bench.report", "bench_report"),
    "sensor_accuracy": ("bench.accuracy", "bench_accuracy"),
    "footprint": ("bench.footprint", "bench_footprint"),
    # issue 21: '.[edge]' in a fresh venv, the agent's import time and RSS from there
    "edge_install": ("bench.edge_install", "bench_edge_install"),
    "ble": ("bench.ble", "bench_ble_parse"),
    "zones": ("bench.zones", "bench_zone_accuracy"),
    "qr": ("bench.qr", "bench_qr_decode"),
    # issue 18: a 500-desk floor drawn in Chromium, and a desk change reaching the map
    "floor_map": ("bench.floor_map", "bench_floor_map"),
    # issue 22: wireless kinds' accuracy (200 desks, a week) and 64 wireless desks' footprint
    "wireless": ("bench.wireless", "bench_wireless"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--only", default="", help="comma-separated section names")
    args = parser.parse_args(argv)

    sections = dict(SECTIONS)
    for name, (module, function) in OPTIONAL.items():
        if importlib.util.find_spec(module) is not None:
            sections[name] = _call(module, function)
    wanted = [s for s in args.only.split(",") if s] or list(sections)
    # --only refreshes the named sections and keeps every other one already in --out.
    results: dict[str, Any] = {}
    if args.only and args.out.exists():
        results = json.loads(args.out.read_text())
    results.update({
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(),
                    "cpu": platform.processor() or platform.machine()},
    })
    failed = []
    for name in wanted:
        if name not in sections:
            parser.error(f"unknown section {name!r}; choose from {', '.join(sections)}")
        print(f"bench: {name} …", flush=True)
        began = time.perf_counter()
        try:
            results[name] = sections[name]()
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the rest
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        print(f"bench: {name} done in {time.perf_counter() - began:.1f} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
