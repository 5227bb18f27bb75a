"""Thin adapter around :class:`bleak.BleakScanner`: adverts in, a pure handler called.

bleak calls :meth:`BleScanner.detection_callback` with its ``BLEDevice`` and
``AdvertisementData``; that method only copies the four values the handler needs (address,
RSSI, manufacturer and service data) and stamps them with the clock. Everything else
(parsing, pseudonyms, presence, counting) is the handler's, which is pure and tested
without a radio. The simulator calls the same ``detection_callback`` with bleak's own
objects, so a simulated advert takes exactly the path of a received one.

The scanner runs its own asyncio loop in a daemon thread. BlueZ fails in ordinary ways
(bluetoothd restarting, the adapter powered off or unplugged, D-Bus not reachable): any
error while starting, and a scanner that has gone silent for ``watchdog_seconds``, lead
to a restart after an exponential back-off (``backoff_initial`` doubling up to
``backoff_max``), reset once a scan delivers adverts again. Error messages are scrubbed of
anything shaped like a Bluetooth address before they are logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

log = logging.getLogger(__name__)

Handler = Callable[[str, int, Mapping[int, bytes], Mapping[str, bytes], float], None]
_ADDRESS = re.compile(r"(?i)(?:[0-9a-f]{2}[:_-]){5}[0-9a-f]{2}")


class Scanning(Protocol):
    """What the adapter needs of a scanner: bleak's ``start``/``stop``."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ScannerFactory = Callable[..., Scanning]


def scrub(text: str) -> str:
    """``text`` with Bluetooth-address-shaped substrings replaced, for log lines."""
    return _ADDRESS.sub("<address>", text)


class BleScanner:
    """Scan in a background thread and feed every advert to ``handler``."""

    def __init__(
        self,
        handler: Handler,
        *,
        adapter: str | None = None,
        clock: Callable[[], float] = time.time,
        factory: ScannerFactory | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        watchdog_seconds: float = 120.0,
    ) -> None:
        if not 0 < backoff_initial <= backoff_max:
            raise ValueError("need 0 < backoff_initial <= backoff_max")
        self._handler = handler
        self._adapter = adapter
        self._clock = clock
        self._factory: ScannerFactory = factory or BleakScanner
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.watchdog_seconds = watchdog_seconds
        self.adverts = 0  # adverts handed to the handler
        self.handler_errors = 0
        self.starts = 0  # successful scanner starts
        self.failures = 0  # failed starts and watchdog restarts
        self.delays: list[float] = []  # back-off delays taken, newest last (capped)
        self._last_advert = 0.0  # monotonic
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    # -- the callback bleak calls (scanner thread) -----------------------------------

    def detection_callback(self, device: BLEDevice, advertisement_data: AdvertisementData) -> None:
        """bleak's ``detection_callback``: never raises, never logs the device."""
        self._last_advert = time.monotonic()
        self.adverts += 1
        try:
            self._handler(device.address, advertisement_data.rssi,
                          advertisement_data.manufacturer_data,
                          advertisement_data.service_data, self._clock())
        except Exception as exc:
            self.handler_errors += 1
            if self.handler_errors == 1 or self.handler_errors % 10_000 == 0:
                log.error("BLE advert handler failed %d time(s): %s", self.handler_errors,
                          type(exc).__name__)

    # -- lifecycle (caller's thread) ---------------------------------------------------

    def start(self) -> None:
        """Start scanning in a daemon thread (returns at once)."""
        if self._thread is not None:
            return
        self._ready.clear()
        self._thread = threading.Thread(target=self._thread_main, name="ble-scanner",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop scanning and join the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # loop closed meanwhile
                pass
        thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        except Exception:
            log.exception("BLE scanner thread ended")
        finally:
            loop.close()

    # -- the loop (scanner thread) -------------------------------------------------------

    def _make(self) -> Scanning:
        kwargs: dict[str, Any] = {"detection_callback": self.detection_callback}
        if self._adapter is not None:
            kwargs["bluez"] = {"adapter": self._adapter}
        return self._factory(**kwargs)

    async def _run(self) -> None:
        self._stop = stop = asyncio.Event()
        self._ready.set()
        streak = 0  # consecutive failures
        while not stop.is_set():
            seen_before = self.adverts
            try:
                scanner = self._make()
                await scanner.start()
            except Exception as exc:  # BleakError, D-Bus and OS errors alike
                streak += 1
                self.failures += 1
                reason = f"{type(exc).__name__}: {scrub(str(exc))[:200]}"
            else:
                self.starts += 1
                log.info("BLE scanning on %s", self._adapter or "the default adapter")
                await self._watch(stop)
                healthy = self.adverts > seen_before
                try:
                    await scanner.stop()
                except Exception as exc:
                    log.debug("stopping the BLE scanner failed: %s", type(exc).__name__)
                if stop.is_set():
                    break
                streak = 0 if healthy else streak + 1
                self.failures += 1
                reason = f"no advert for {self.watchdog_seconds:g} s"
            delay = min(self.backoff_initial * 2 ** max(streak - 1, 0), self.backoff_max)
            self.delays = [*self.delays[-99:], delay]
            log.warning("BLE scanner failed (%s); restarting in %.3g s", reason, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass

    async def _watch(self, stop: asyncio.Event) -> None:
        """Return on stop, or once no advert arrived for ``watchdog_seconds``."""
        self._last_advert = time.monotonic()  # a fresh scan gets a full watchdog period
        while not stop.is_set():
            left = self.watchdog_seconds - (time.monotonic() - self._last_advert)
            if left <= 0:
                return
            try:
                await asyncio.wait_for(stop.wait(), min(left, 1.0))
            except TimeoutError:
                pass
