"""A process's own peak resident memory, for the footprint benches run in child processes."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_kib() -> int:
    """This process image's own peak RSS in KiB, from VmHWM in /proc/self/status.

    Not ``ru_maxrss``: Linux carries it across exec, so a child started by a large bench
    process would report its parent's peak (footprint once read 407.5 MB that way).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best effort
