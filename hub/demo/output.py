"""What the demo prints while it works: rich progress on a terminal, plain lines in a log.

On a terminal the history bar redraws itself; when stdout is a file or a pipe (a service,
CI) there is no bar, so :class:`HistoryProgress` prints ``history: 12 of 28 days`` lines
instead, at least every ``every_seconds`` (10 s by default, the demo prints every 5 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

__all__ = ["HistoryProgress", "days_text"]


def days_text(done_days: float, total_days: float) -> str:
    """``12 of 28 days`` (one decimal for short histories)."""
    digits = 0 if total_days >= 3 else 1
    return f"{done_days:.{digits}f} of {total_days:.{digits}f} days"


class HistoryProgress:
    """A context manager; ``update(t)`` with the simulated time reached."""

    def __init__(self, console: Console, start: float, end: float, *,
                 every_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 total_days: float | None = None) -> None:
        self.console = console
        self.start, self.end = start, end
        self.total_days = total_days if total_days is not None else (end - start) / 86400
        self.offset_days = self.total_days - (end - start) / 86400  # resumed: days done
        self.every = every_seconds
        self._clock = clock
        self._last_line = -float("inf")
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> HistoryProgress:
        if self.console.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
                console=self.console, transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("Simulating history", total=self.end - self.start)
        else:
            self._line(self.start)
        return self

    def _days_done(self, t: float) -> float:
        return self.offset_days + max(0.0, t - self.start) / 86400

    def _line(self, t: float) -> None:
        self._last_line = self._clock()
        self.console.print(f"history: {days_text(self._days_done(t), self.total_days)}",
                           soft_wrap=True)

    def update(self, t: float) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=t - self.start)
        elif self._clock() - self._last_line >= self.every:
            self._line(t)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
        elif exc is None:
            self._line(self.end)


class Ticker:
    """Prints ``what(done, total)`` at most every ``every_seconds`` (and at the end), for
    the shorter steps after the history (label check-ins, the warm-up)."""

    def __init__(self, console: Console, what: Callable[[float, float], str], total: float,
                 *, every_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console, self.what, self.total = console, what, total
        self.every = every_seconds
        self._clock = clock
        self._last = clock()

    def __call__(self, done: float) -> None:
        if self._clock() - self._last >= self.every:
            self._last = self._clock()
            self.console.print(self.what(done, self.total), soft_wrap=True)
