"""Agent liveness for `hub serve --role ingest`: silent agents go offline, desks unknown.

In the single hub the rollup loop does this (hub/reports/rollup.py). Once rollups move to their own
`aggregate` process, liveness stays with ingest: only an ingest worker knows whether it has
been subscribed long enough for the agents' queued messages to have arrived
(:meth:`hub.ingest.ingestor.Ingestor.expire_agents`). Several workers doing it is harmless: each
expiry is one store transaction that finds nothing left to do after the first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hub.ingest.ingestor import Ingestor
from hub.periodic import PeriodicJob


class LivenessJob(PeriodicJob):
    """A thread that runs :meth:`Ingestor.expire_agents` every ``interval`` seconds."""

    thread_name = "liveness"
    failure = "agent liveness check failed"
    tick_first = False  # the first check comes one interval after start

    def __init__(
        self, ingestor: Ingestor, interval: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(interval)
        self.ingestor = ingestor
        self.clock = clock

    def tick(self) -> list[str]:
        return self.ingestor.expire_agents(self.clock())

