"""Several real `deskpulse hub serve --role ...` processes over one store, for the fault suite.

Each :class:`RoleProcess` is the installed ``deskpulse`` command in its own process, set up
only through ``DESKPULSE_*`` environment variables, as systemd or compose would run it. A
:class:`StoreBackend` says where the shared store is and how to read the stored events
back: the SQLite file (WAL), or PostgreSQL through ``database_url``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hub.config import HubSettings
from tests.faults.harness import Event, stored_events, wait_until

ROOT = Path(__file__).resolve().parents[2]
READY = "Ingest subscribed as"
_STATS = re.compile(r"Ingest stopped: (.*)")


def deskpulse_command() -> list[str]:
    """The installed console script beside this Python, else ``python -m hub.cli``."""
    script = Path(sys.executable).parent / "deskpulse"
    if script.exists():
        return [str(script)]
    found = shutil.which("deskpulse")
    return [found] if found else [sys.executable, "-m", "hub.cli"]


@dataclass
class StoreBackend:
    """The store every role process shares: its settings as environment, and its events."""

    name: str
    data_dir: Path
    database_url: str | None = None  # PostgreSQL (hub/db/postgres/store.py)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {"DESKPULSE_DATA_DIR": str(self.data_dir)}
        if self.database_url is not None:
            self.env["DESKPULSE_DATABASE_URL"] = self.database_url

    def settings(self, **overrides: object) -> HubSettings:
        extra = {} if self.database_url is None else {"database_url": self.database_url}
        return HubSettings(data_dir=self.data_dir, **extra, **overrides)  # type: ignore[arg-type]

    def import_building(self, building: dict[str, object]) -> None:
        """Through `deskpulse hub import-building`, which also creates the schema."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "building.json"
        path.write_text(json.dumps(building))
        subprocess.run([*deskpulse_command(), "hub", "import-building", str(path)],
                       cwd=ROOT, env={**os.environ, **self.env}, check=True,
                       capture_output=True, timeout=60)

    def events(self) -> list[Event]:
        if self.database_url is None:
            return stored_events(self.settings().database_path)
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute("SELECT agent, boot, seq, desk, state, at FROM transitions "
                                "WHERE seq IS NOT NULL").fetchall()
        return [(str(a), int(b), int(s), str(d), str(st), float(at))
                for a, b, s, d, st, at in rows]

    def count(self, sql: str) -> int:
        """One number from the store (read-only), e.g. ``SELECT COUNT(*) FROM rollups``."""
        if self.database_url is None:
            import sqlite3

            path = self.settings().database_path
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
            try:
                return int(db.execute(sql).fetchone()[0])
            finally:
                db.close()
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


class RoleProcess:
    """``deskpulse hub serve --role ROLE [--worker NAME]`` that can be ``kill -9``ed."""

    def __init__(self, backend: StoreBackend, mqtt_port: int, role: str,
                 worker: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.role = role
        self.worker = worker
        label = f"{role}-{worker}" if worker else role
        self.log = backend.data_dir / f"{label}.log"
        self.env = {**os.environ, **backend.env, "DESKPULSE_MQTT_PORT": str(mqtt_port),
                    "DESKPULSE_ROLLUP_INTERVAL": "0.5", **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0  # where this run's output starts in the (appended) log

    def start(self, timeout: float = 30.0) -> None:
        """Start; an ingest worker is ready once it says it is subscribed."""
        args = [*deskpulse_command(), "hub", "serve", "--role", self.role]
        if self.worker:
            args += ["--worker", self.worker]
        self.backend.data_dir.mkdir(parents=True, exist_ok=True)
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        if self.role == "ingest" and not wait_until(self._ready, timeout, 0.1):
            raise RuntimeError(f"{self.role} {self.worker} did not subscribe; see {self.log}")

    def output(self) -> str:
        """This run's output so far."""
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            return handle.read().decode(errors="replace")

    def _ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"hub {self.role} process exited; see {self.log}")
        return READY in self.output()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no leaving the group, no last batch, no acks."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self, timeout: float = 30.0) -> dict[str, int]:
        """SIGTERM and wait; an ingest worker's stats from its last line ({} if none)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"{self.role} {self.worker} ignored SIGTERM") from None
        self.proc = None
        found = _STATS.findall(self.output())
        if not found:
            return {}
        pairs = (part.rsplit(" ", 1) for part in found[-1].split(", "))
        return {name: int(value) for name, value in pairs}
