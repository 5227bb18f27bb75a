"""bench/cpu.py: the scale bench's CPU-per-message figures rest on these readings."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.cpu import machine_busy_seconds, process_seconds, tree_seconds

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_tree_seconds_counts_a_live_child_and_a_reaped_one() -> None:
    before = tree_seconds(os.getpid())
    busy = machine_busy_seconds()
    child = subprocess.Popen([sys.executable, "-c", BURN + "time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while process_seconds(child.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_seconds(child.pid) >= 0.3  # a live descendant
        assert tree_seconds(os.getpid()) - before >= 0.3
    finally:
        child.kill()
        child.wait()
    subprocess.run([sys.executable, "-c", BURN], check=True)
    # Both children are reaped now: their CPU stays in the tree as the parent's reaped time.
    assert tree_seconds(os.getpid()) - before >= 0.6
    assert machine_busy_seconds() - busy >= 0.6
    assert process_seconds(child.pid) == 0.0  # gone
