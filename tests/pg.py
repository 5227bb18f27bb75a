"""A throw-away PostgreSQL for tests: initdb in a temp dir, a free port, one database per test.

Never the system server on 5432. initdb and postgres refuse to run as root, so as root
(CI) the cluster runs as the ``postgres`` user that the Debian package creates, through
``setpriv`` (which execs, so the process we signal is postgres itself); as anyone else it
runs as that user. Durability is off (fsync, full page
writes): the data is thrown away, and tests then take milliseconds, not disk flushes.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psycopg

from tests.broker import free_port, wait_for_port


def pg_bin(name: str) -> str:
    """The newest installed PostgreSQL's ``name`` binary (Debian keeps them off PATH)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if found:
        return found[-1]
    which = shutil.which(name)
    if which is None:
        raise RuntimeError("PostgreSQL is not installed; run `make test`, which installs it")
    return which


class PostgresCluster:
    """One postgres server on 127.0.0.1:``port`` with its data in a private temp dir."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        """``settings``: extra ``postgres -c name=value`` options (the bench turns on
        ``track_commit_timestamp`` to time commits)."""
        self.settings = dict(settings or {})
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="deskpulse-pg-"))
        self.data = self.workdir / "data"
        self.log = self.workdir / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._hub_template: str | None = None
        # The next hub database, copied while the current test runs (the server works on
        # the other core): a test then waits for none.
        self._copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-copy")
        self._next_hub: Future[str] | None = None
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
            self._as = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]

    def admin_url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> PostgresCluster:
        subprocess.run(
            [*self._as, pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        log = open(self.log, "ab")  # noqa: SIM115 - the server writes it until stop()
        if self._as:
            os.chown(self.log, pwd.getpwnam("postgres").pw_uid, -1)
        self.proc = subprocess.Popen(
            [*self._as, pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.workdir}",
             "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
             "-c", "max_connections=200", "-c", "shared_buffers=32MB",
             *(arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}"))],
            stdout=log, stderr=log,
        )
        log.close()
        wait_for_port(self.port, timeout=30)
        deadline = time.monotonic() + 30
        while True:  # the port opens a moment before the server accepts logins
            try:
                with psycopg.connect(self.admin_url(), connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        deadline = time.monotonic() + 10
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            while True:
                try:
                    conn.execute(sql)
                    break
                except psycopg.errors.ObjectInUse:  # the template's last backend is exiting
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        return self.admin_url(name)

    def drop_database(self, url: str) -> None:
        """Drop a test's database (ending any connection still open to it): each one takes
        about 7 MB, and a few hundred of them made the cluster's deletion take 40 s."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create_hub_database(self) -> str:
        """A new database that already has the hub schema: a copy of one migrated once per
        cluster (about 0.25 s instead of 0.8 s for creating and migrating each one), made
        in the background while the previous test ran."""
        if self._hub_template is None:
            from hub.db.postgres.store import PostgresStore

            url = self.create_database()
            PostgresStore(url).close()
            self._hub_template = url.rsplit("/", 1)[1]
        template = self._hub_template
        ready = self._next_hub or self._copier.submit(self.create_database, template)
        self._next_hub = self._copier.submit(self.create_database, template)
        return ready.result()

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then kill; remove the data directory."""
        self._copier.shutdown(wait=True, cancel_futures=True)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.workdir, ignore_errors=True)
