"""One hub process: MQTT ingest, the rollup loop and the HTTP API, started and stopped together.

`deskpulse hub serve` and `deskpulse demo` both use :class:`HubServer`; the pieces stay
separate modules (ingest, rollup, api) so a later scale-out can run them as roles.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import uvicorn

from hub.api.app import create_app
from hub.checkin.jobs import CheckinJobs
from hub.config import HubSettings
from hub.ingest import Ingestor
from hub.privacy.retention import RetentionJobs
from hub.rollup import Rollupper
from hub.store import SqliteStore

log = logging.getLogger(__name__)


class HubServer:
    """Ingest + rollups + API over one store, with a clean stop."""

    def __init__(self, settings: HubSettings, store: SqliteStore | None = None) -> None:
        self.settings = settings
        self.store = store or SqliteStore(settings.database_path)
        self.ingestor = Ingestor(settings, self.store)
        self.rollupper = Rollupper(settings, self.store, ingestor=self.ingestor)
        self.checkin_jobs = CheckinJobs(settings, self.store)
        self.retention = RetentionJobs(settings, self.store)
        self.app = create_app(settings, self.store, ingest_status=self.ingest_status)
        config = uvicorn.Config(
            self.app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,  # open SSE streams must not hold up a stop
        )
        self._http = uvicorn.Server(config)
        self._http_thread: threading.Thread | None = None

    def ingest_status(self) -> dict[str, Any]:
        return {"broker": "connected" if self.ingestor.connected else "disconnected"}

    @property
    def url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}/"

    def start(self, *, wait: float = 10.0) -> None:
        self.ingestor.start()
        self.rollupper.start()
        self.checkin_jobs.start()
        self.retention.start()
        self._http_thread = threading.Thread(target=self._http.run, name="http", daemon=True)
        self._http_thread.start()
        deadline = time.monotonic() + wait
        while not self._http.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self._http.started:
            raise RuntimeError(f"the HTTP server did not start on {self.url}")

    def stop(self) -> None:
        self._http.should_exit = True
        if self._http_thread is not None:
            self._http_thread.join(10)
        self.checkin_jobs.stop()
        self.retention.stop()
        self.rollupper.stop()
        self.ingestor.stop()
        self.store.close()
