"""`make bench`: throughput figures, measured side by side in one run on this machine.

Writes bench/results.json. Absolute numbers on a shared 2-core machine are noisy; the
ratios (hub ingest vs a bare paho subscriber on the same broker) are what to compare.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.aggregation import bench_aggregation
from bench.ingest import bench_ingest
from tests.broker import Mosquitto


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--intervals", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpu": platform.processor()
                    or platform.machine()},
    }
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp)).start()
        try:
            results["ingest"] = bench_ingest(broker.port, Path(tmp), args.messages)
        finally:
            broker.stop()
    results["aggregation"] = bench_aggregation(args.intervals)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
