"""One hub process: MQTT ingest, the periodic jobs and the HTTP API, started and stopped together.

`deskpulse hub serve` and `deskpulse demo` both use :class:`HubServer`. A process runs one
role (`hub serve --role`; docs/scale.md, "Several workers"):

- ``ingest``: MQTT ingest and agent liveness (silent agents go offline); run several, each
  with its own ``worker_name``, on a shared subscription (``mqtt_shared_group``). On
  SQLite it also indexes the transitions it wrote (hub/db/transition_index.py).
- ``aggregate``: rollups, day summaries, automatic check-out, retention; run exactly one.
- ``api``: the HTTP API and dashboard only; stateless, run as many as needed.
- ``all``: everything in one process (the single hub, the default).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Literal

import uvicorn

from hub.api.app import create_app
from hub.auth import accounts
from hub.checkin.jobs import CheckinJobs
from hub.config import HubSettings
from hub.db.engines import open_store
from hub.db.protocol import Store
from hub.db.transition_index import IndexingJob
from hub.ingest.ingestor import Ingestor
from hub.ingest.liveness import LivenessJob
from hub.privacy.retention import RetentionJobs
from hub.reports.rollup import Rollupper

log = logging.getLogger(__name__)

Role = Literal["all", "ingest", "aggregate", "api"]
ROLES: tuple[Role, ...] = ("all", "ingest", "aggregate", "api")


class HubServer:
    """The parts of the hub that ``role`` asks for, over one store, with a clean stop."""

    def __init__(
        self, settings: HubSettings, store: Store | None = None, *, role: Role = "all"
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown hub role {role!r}; one of {', '.join(ROLES)}")
        self.settings = settings
        self.role = role
        self.store: Store = store or open_store(settings.store_url)
        # Retention purges expired sessions: an aggregator that starts before any API
        # process on a new database needs the account tables too (on PostgreSQL the
        # store's migrations have made them already).
        accounts.ensure_schema(self.store.db)
        self.ingestor: Ingestor | None = None
        self.liveness: LivenessJob | None = None
        self.rollupper: Rollupper | None = None
        self.indexing: IndexingJob | None = None
        self.checkin_jobs: CheckinJobs | None = None
        self.retention: RetentionJobs | None = None
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None
        if role in ("all", "ingest"):
            self.ingestor = ingestor = Ingestor(settings, self.store)
            if role == "ingest":
                self.liveness = LivenessJob(ingestor, settings.rollup_interval)
            if self.store.dialect == "sqlite":  # its ingest leaves transitions to index
                self.indexing = IndexingJob(self.store)
        if role in ("all", "aggregate"):
            self.rollupper = Rollupper(settings, self.store, ingestor=self.ingestor,
                                       expire_agents=role == "all")
            self.checkin_jobs = CheckinJobs(settings, self.store)
            self.retention = RetentionJobs(settings, self.store)
        if role in ("all", "api"):
            self._http = self._make_http()

    def _make_http(self) -> uvicorn.Server:
        settings = self.settings
        self.app = create_app(settings, self.store, ingest_status=self.ingest_status)
        config = uvicorn.Config(
            self.app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,  # open SSE streams must not hold up a stop
            # uvicorn believes X-Forwarded-Proto/-For from 127.0.0.1 by default and would
            # rewrite the scheme before the hub's own check (HSTS, Secure cookies on plain
            # HTTP): the hub's setting decides, not the server's default (issue 24, item 6).
            proxy_headers=settings.trust_proxy,
        )
        return uvicorn.Server(config)

    def ingest_status(self) -> dict[str, Any]:
        """The broker link of this process's ingest; an `api` process has none to report."""
        if self.ingestor is None:
            return {}
        return {"broker": "connected" if self.ingestor.connected else "disconnected"}

    @property
    def parts(self) -> list[Any]:
        """The background parts this role runs, in start order."""
        return [part for part in (self.ingestor, self.liveness, self.indexing, self.rollupper,
                                  self.checkin_jobs, self.retention) if part is not None]

    @property
    def serves_http(self) -> bool:
        return self._http is not None

    @property
    def url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}/"

    def start(self, *, wait: float = 10.0) -> None:
        for part in self.parts:
            part.start()
        if self._http is None:
            return
        self._http_thread = threading.Thread(target=self._http.run, name="http", daemon=True)
        self._http_thread.start()
        deadline = time.monotonic() + wait
        while not self._http.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self._http.started:
            raise RuntimeError(f"the HTTP server did not start on {self.url}")

    def stop(self) -> None:
        if self._http is not None:
            self._http.should_exit = True
        if self._http_thread is not None:
            self._http_thread.join(10)
        for part in reversed(self.parts):
            part.stop()
        self.store.close()
