"""The Pi's install and the agent alone: `pip install '.[edge]'` into a fresh venv, then
the agent's import time and memory measured in fresh interpreters of that venv.

Why a fresh venv and fresh interpreters: the figures must be the Pi's, not this harness's.
A child forked from a large parent reports the parent's peak in ``ru_maxrss`` (Linux keeps
it across exec), so memory is read from the child's own ``/proc/<pid>/status`` (VmHWM, the
peak RSS of that process image). The install is a real one from this checkout (no
``--editable``), so the size is what a Pi downloads and unpacks: the venv's site-packages
less pip and setuptools, which every venv has.

- ``import``: ``import edge.cli`` (what ``deskpulse edge`` loads) in a new interpreter,
  median of 5, with the project and third-party modules it loaded;
- ``agent``: ``deskpulse edge run`` with 16 file-sensor desks against a real Mosquitto for
  ``seconds``; its VmHWM and VmRSS read while it runs.

    python -m bench.edge_install               # about a minute (pip's cache helps)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Not one of these may come with [edge] (issue 21's done-when).
FORBIDDEN = ("fastapi", "uvicorn", "psycopg", "psycopg-binary", "psycopg-pool", "pillow",
             "amqtt", "opencv-python-headless", "opencv-python", "pydantic", "sqlite-utils")
VENV_OWN = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils-precedence.pth")
DESKS = 16

# Runs in the fresh interpreter: import the edge CLI, report time, memory and modules.
_IMPORT_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import edge.cli
ms = (time.perf_counter() - t0) * 1000.0
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
kib = lambda key: int(status[key].split()[0])
tops = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"ms": ms, "hwm_kib": kib("VmHWM"), "rss_kib": kib("VmRSS"), "tops": tops}))
"""


def bench_edge_install(seconds: float = 20.0) -> dict[str, Any]:
    """Install [edge] into a fresh venv; measure it and the agent running from it."""
    with tempfile.TemporaryDirectory(prefix="deskpulse-edge-") as tmp:
        root = Path(tmp)
        env_dir = root / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        began = time.monotonic()
        # a copy of the checkout, so pip's build leaves nothing in the work tree
        source = _export_checkout(root / "src")
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"{source}[edge]"],
                       check=True, capture_output=True, text=True, timeout=900)
        install_seconds = time.monotonic() - began
        dists = _distributions(python)
        site = Path(subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True).stdout.strip())
        total, own = _size(site), sum(_size(site / name) for name in os.listdir(site)
                                      if name.split("-")[0] in VENV_OWN)
        probes = [_import_probe(python, root) for _ in range(5)]
        agent = _agent(env_dir / "bin" / "deskpulse", root, seconds)
    loaded = set(probes[-1]["tops"])
    return {
        "install": {
            "command": "pip install '.[edge]' (fresh venv, not editable)",
            "seconds": round(install_seconds, 1),
            "site_packages_mb": round((total - own) / 2**20, 1),
            "distributions": dists,
            "forbidden_installed": sorted(d for d in dists if d in FORBIDDEN),
        },
        "import_edge_cli": {
            "ms_median": round(statistics.median(p["ms"] for p in probes), 1),
            "ms_runs": [round(p["ms"], 1) for p in probes],
            "peak_rss_mb": round(probes[-1]["hwm_kib"] / 1024.0, 1),
            "third_party_loaded": sorted(loaded & {"paho", "numpy", "cv2", "gpiozero", "bleak",
                                                   "smbus2", "fastapi", "pydantic", "hub"}),
        },
        "agent": agent,
    }


def _export_checkout(dest: Path) -> Path:
    """The checkout's files as they are now (tracked and new, not ignored) copied to dest."""
    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = Path(raw.decode())
        if not (REPO / rel).is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes((REPO / rel).read_bytes())
    return dest


def _distributions(python: Path) -> list[str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"],
                         check=True, capture_output=True, text=True).stdout
    return sorted(d["name"].lower() for d in json.loads(out)
                  if d["name"].lower() not in ("pip", "setuptools"))


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _import_probe(python: Path, cwd: Path) -> dict[str, Any]:
    # cwd outside the checkout: the installed package is imported, not the work tree's
    out = subprocess.run([str(python), "-c", _IMPORT_PROBE], cwd=cwd, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def _proc_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def _agent(deskpulse: Path, root: Path, seconds: float) -> dict[str, Any]:
    """``deskpulse edge run`` with file sensors against a real Mosquitto."""
    sys.path.insert(0, str(REPO))
    from tests.broker import Mosquitto

    desks = root / "desks"
    desks.mkdir()
    lines = ['site = "bench"', 'agent = "lean"', f'data_dir = "{root / "agent"}"',
             "poll_seconds = 1.0", "health_seconds = 60"]
    (root / "broker").mkdir()
    broker = Mosquitto(root / "broker").start()
    try:
        lines.append(f"[mqtt]\nport = {broker.port}")
        for i in range(DESKS):
            (desks / f"d{i}").write_text("present" if i % 2 else "absent")
            lines.append(f'[[desks]]\nid = "d{i}"\nzone = "z0"\nsensor = "file:desks/d{i}"')
        config = root / "edge.toml"
        config.write_text("\n".join(lines) + "\n")
        began = time.monotonic()
        proc = subprocess.Popen([str(deskpulse), "edge", "run", "--config", str(config)],
                                cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        try:
            time.sleep(seconds)
            if proc.poll() is not None:
                raise RuntimeError(f"the agent exited: {proc.stderr.read()[-2000:]}")
            hwm, rss = _proc_kib(proc.pid, "VmHWM"), _proc_kib(proc.pid, "VmRSS")
            cpu = _cpu_seconds(proc.pid)
            wall = time.monotonic() - began
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    finally:
        broker.stop()
    return {"desks": DESKS, "sensor": "file", "seconds": round(wall, 1),
            "peak_rss_mb": round(hwm / 1024.0, 1), "rss_mb": round(rss / 1024.0, 1),
            "cpu_seconds": round(cpu, 2), "exit_code": proc.returncode}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The edge install's size and the agent's "
                                     "import time and memory, in fresh interpreters.")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    print(json.dumps(bench_edge_install(args.seconds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
