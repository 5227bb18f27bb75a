"""A background thread that runs a job's ``tick`` every ``interval`` seconds.

Why one class: the hub's periodic jobs (rollups, liveness, check-in jobs, retention) need
the same start/stop/retry behaviour, and a failed pass must be logged and retried at the
next interval, never end the thread.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class PeriodicJob:
    """Subclasses set ``thread_name`` and ``failure`` and implement :meth:`tick`.

    ``interval`` is read before every wait, so a job may take it from live settings.
    With ``tick_first`` the first pass runs at once, else after one interval.
    """

    thread_name = "periodic"
    failure = "periodic job failed"
    tick_first = True

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> Any:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def _run(self) -> None:
        if not self.tick_first:
            self._stop.wait(self.interval)
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("%s; retrying in %.1f s", self.failure, self.interval)
            self._stop.wait(self.interval)
        self.finished()

    def finished(self) -> None:
        """Runs on the thread once it stops (hook for releasing what the job holds)."""
