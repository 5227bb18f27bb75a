"""A thin pyserial adapter: bytes from an LD2410 on a UART -> frames -> its Channel.

One daemon thread per radar reads whatever the port has (the module reports ~10 frames a
second at 256000 baud), feeds :class:`~edge.wireless.ld2410.Ld2410Parser` and puts the
newest frame in the channel. A port that cannot be opened or fails while reading (a USB
adapter unplugged) is retried with a back-off doubling up to ``backoff_max``; meanwhile
the channel goes stale and the desk ``unknown``. Frames are kept in memory only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge.wireless.channel import Channel
from edge.wireless.ld2410 import Ld2410Parser

__all__ = ["SerialRadar"]

log = logging.getLogger(__name__)
DEFAULT_BAUD = 256_000


class SerialRadar:
    """Read one radar in the background; ``start``/``stop`` like the BLE scanner."""

    def __init__(self, port: str, channel: Channel, *, baudrate: int = DEFAULT_BAUD,
                 clock: Callable[[], float] = time.time, backoff_initial: float = 0.5,
                 backoff_max: float = 30.0) -> None:
        self.port = port
        self.channel = channel
        self.baudrate = baudrate
        self.clock = clock
        self.parser = Ld2410Parser()
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.opens = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._main, name="radar", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def feed(self, data: bytes) -> int:
        """Parse bytes (the thread's path, and the simulator's); returns frames found."""
        frames = self.parser.feed(data)
        malformed = self.parser.malformed
        while self.channel.faults < malformed:  # the channel's count follows the parser's
            self.channel.fault()
        if frames:
            self.channel.update(frames[-1], self.clock())
        return len(frames)

    def _main(self) -> None:
        import serial

        delay = self.backoff_initial
        while not self._stop.is_set():
            try:
                with serial.Serial(self.port, self.baudrate, timeout=0.2) as port:
                    self.opens += 1
                    delay = self.backoff_initial
                    log.info("%s: reading the radar's serial port", self.channel.what)
                    while not self._stop.is_set():
                        data = port.read(max(1, port.in_waiting or 1))
                        if data:
                            self.feed(data)
            except (OSError, serial.SerialException) as exc:
                self.failures += 1
                if self.failures == 1 or self.failures % 100 == 0:
                    log.warning("%s: serial port failed (%s); retrying in %.3g s",
                                self.channel.what, type(exc).__name__, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff_max)
