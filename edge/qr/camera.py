"""Thin adapter over ``cv2.VideoCapture``: frames from a camera (or a video file) at a
target rate, handed to a callback in the camera's own thread.

The loop opens the source (a device index such as ``0`` for /dev/video0, or a path or
URL OpenCV can read), reads one frame per ``1/fps`` seconds and calls
``on_frame(frame, now)``. When opening or reading fails (camera unplugged, driver wedged,
end of a file) it releases the capture and reopens it after a back-off that doubles from
``backoff_min`` to ``backoff_max`` seconds and resets after the next good frame.

PRIVACY: a frame exists only in memory, only for the duration of the callback. This
module never writes, keeps or logs a frame or any decoded content; its log lines carry
counts and the source's kind, never pixels. (Log the source itself only if it is a device
index: a URL may carry credentials.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

__all__ = ["Camera", "FrameHandler"]

log = logging.getLogger(__name__)

FrameHandler = Callable[[np.ndarray, float], None]
CaptureFactory = Callable[[int | str], Any]


def _open_capture(source: int | str) -> Any:
    capture = cv2.VideoCapture(source)
    if isinstance(source, int):
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # read the newest frame, not a stale one
    return capture


class Camera:
    """Reads frames from ``source`` at up to ``fps`` in a daemon thread until stopped.

    ``on_frame`` runs in the camera thread; if it raises, the error is logged (type only)
    and the loop goes on. ``clock`` gives the Unix time passed with each frame.
    """

    def __init__(
        self,
        source: int | str,
        on_frame: FrameHandler,
        *,
        fps: float = 10.0,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        clock: Callable[[], float] = time.time,
        capture_factory: CaptureFactory = _open_capture,
    ) -> None:
        if not fps > 0:
            raise ValueError("fps must be > 0")
        if not 0 < backoff_min <= backoff_max:
            raise ValueError("need 0 < backoff_min <= backoff_max")
        self.source = source
        self.on_frame = on_frame
        self.fps = fps
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.clock = clock
        self._factory = capture_factory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Counters for health and tests; written by the camera thread only.
        self.frames = 0
        self.opens = 0
        self.failures = 0
        self.handler_errors = 0
        self.backoff = backoff_min

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="qr-camera", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and release the capture (waits up to ``timeout`` for a read)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("camera thread did not stop within %.1f s", timeout)
            self._thread = None

    def _describe(self) -> str:
        return f"device {self.source}" if isinstance(self.source, int) else "a video path"

    def _open(self) -> Any | None:
        try:
            capture = self._factory(self.source)
            if capture is not None and capture.isOpened():
                self.opens += 1
                log.info("camera opened (%s)", self._describe())
                return capture
            if capture is not None:
                capture.release()
        except Exception as exc:  # a driver error is a failed open, never a dead thread
            log.debug("opening the camera raised %s", type(exc).__name__)
        return None

    def _fail(self, what: str) -> None:
        """Count a failure and wait out the back-off (interrupted by stop)."""
        self.failures += 1
        log.warning("camera %s failed (%s); retrying in %.1f s",
                    what, self._describe(), self.backoff)
        self._stop.wait(self.backoff)
        self.backoff = min(self.backoff * 2, self.backoff_max)

    def _run(self) -> None:
        period = 1.0 / self.fps
        capture: Any | None = None
        try:
            while not self._stop.is_set():
                if capture is None:
                    capture = self._open()
                    if capture is None:
                        self._fail("open")
                        continue
                started = time.monotonic()
                ok, frame = self._read(capture)
                if not ok or frame is None:
                    self._release(capture)
                    capture = None
                    self._fail("read")
                    continue
                self.backoff = self.backoff_min
                self.frames += 1
                self._handle(frame)
                del frame  # nothing of the frame outlives the callback
                self._stop.wait(max(0.0, period - (time.monotonic() - started)))
        finally:
            if capture is not None:
                self._release(capture)
            log.info("camera stopped after %d frames", self.frames)

    @staticmethod
    def _release(capture: Any) -> None:
        try:
            capture.release()
        except Exception as exc:
            log.debug("releasing the camera raised %s", type(exc).__name__)

    @staticmethod
    def _read(capture: Any) -> tuple[bool, np.ndarray | None]:
        try:
            ok, frame = capture.read()
        except Exception as exc:  # a driver error is a failed read, never a dead thread
            log.debug("reading the camera raised %s", type(exc).__name__)
            return False, None
        return bool(ok), frame if isinstance(frame, np.ndarray) else None

    def _handle(self, frame: np.ndarray) -> None:
        try:
            self.on_frame(frame, self.clock())
        except Exception as exc:  # a consumer bug must not stop the camera
            self.handler_errors += 1
            log.error("frame handler raised %s; frame skipped", type(exc).__name__)
