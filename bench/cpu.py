"""CPU seconds of processes and process trees, from /proc (Linux), for the scale bench.

The bench machine is shared and small, so besides rates the bench records what each part
(ingest workers, PostgreSQL, Mosquitto) spent in CPU per message: that figure carries
over to a bigger machine, the rate on 2 busy cores does not.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK = float(os.sysconf("SC_CLK_TCK"))


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU s, CPU s of its exited and reaped children), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces
    ppid, utime, stime, cutime, cstime = (int(fields[i]) for i in (1, 11, 12, 13, 14))
    return ppid, (utime + stime) / _TICK, (cutime + cstime) / _TICK


def process_seconds(pid: int) -> float:
    """CPU seconds (user + system) of one live process; 0 if it is gone."""
    found = _stat(pid)
    return found[1] if found else 0.0


def tree_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant, plus what reaped children used
    (a PostgreSQL server: the postmaster and its backends, including ended ones)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = found
    if root not in stats:
        return 0.0
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        _, own, reaped = stats[pid]
        total += own + reaped
        todo.extend(children.get(pid, []))
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, anyone's processes)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / _TICK
