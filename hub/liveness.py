"""Agent liveness for `hub serve --role ingest`: silent agents go offline, desks unknown.

In the single hub the rollup loop does this (hub/rollup.py). Once rollups move to their own
`aggregate` process, liveness stays with ingest: only an ingest worker knows whether it has
been subscribed long enough for the agents' queued messages to have arrived
(:meth:`hub.ingest.Ingestor.expire_agents`). Several workers doing it is harmless: each
expiry is one store transaction that finds nothing left to do after the first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hub.ingest import Ingestor

log = logging.getLogger(__name__)


class LivenessJob:
    """A thread that runs :meth:`Ingestor.expire_agents` every ``interval`` seconds."""

    def __init__(
        self, ingestor: Ingestor, interval: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.ingestor = ingestor
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[str]:
        return self.ingestor.expire_agents(self.clock())

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="liveness", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("agent liveness check failed; retrying in %.1f s", self.interval)
