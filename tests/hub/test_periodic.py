"""The hub's periodic jobs share hub/periodic.py: a failing pass is logged and retried,
never ends the thread; stop() ends it and runs the job's ``finished`` hook."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from hub.periodic import PeriodicJob


class Flaky(PeriodicJob):
    thread_name = "flaky-test"
    failure = "flaky pass failed"

    def __init__(self, interval: float, *, tick_first: bool = True) -> None:
        super().__init__(interval)
        self.tick_first = tick_first
        self.calls = 0
        self.done = threading.Event()

    def tick(self) -> int:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("first pass breaks")
        return self.calls

    def finished(self) -> None:
        self.done.set()


def wait_until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_a_failed_pass_is_logged_and_the_next_one_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = Flaky(0.02)
    with caplog.at_level(logging.ERROR, logger="hub.periodic"):
        job.start()
        wait_until(lambda: job.calls >= 3)
        job.stop()
    assert job.calls >= 3
    assert "flaky pass failed; retrying in 0.0 s" in caplog.text
    assert job.done.is_set() and job._thread is None


def test_tick_first_false_waits_one_interval_and_stop_during_it_runs_nothing() -> None:
    job = Flaky(10.0, tick_first=False)
    job.start()
    time.sleep(0.1)
    job.stop()
    assert job.calls == 0
    assert job.done.is_set()  # the finished hook runs however the thread ends


def test_start_twice_runs_one_thread() -> None:
    job = Flaky(0.05)
    job.start()
    first = job._thread
    job.start()
    assert job._thread is first
    job.stop()
    names = [t.name for t in threading.enumerate()]
    assert "flaky-test" not in names
