"""The bleak adapter: bleak's own objects in, restart with back-off on BlueZ failures.

This machine has no Bluetooth adapter and no system D-Bus, so a real ``BleakScanner``
fails to start exactly as it does on a Pi whose bluetoothd is down: the back-off test
runs against the real library. The watchdog test needs a scanner that starts and then
goes silent, which no real stack here can do on demand, so it uses a scripted one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import pytest
from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from edge.ble.scanner import BleScanner, scrub

ADDRESS = "4A:11:22:33:44:55"


def advert(rssi: int = -61) -> tuple[BLEDevice, AdvertisementData]:
    device = BLEDevice(ADDRESS, "Anna's iPhone", details=None)
    data = AdvertisementData(local_name="Anna's iPhone", manufacturer_data={76: b"\x10\x05"},
                             service_data={}, service_uuids=[], tx_power=None, rssi=rssi,
                             platform_data=())
    return device, data


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, Mapping[int, bytes], Mapping[str, bytes], float]] = []

    def __call__(self, address: str, rssi: int, manufacturer: Mapping[int, bytes],
                 service: Mapping[str, bytes], now: float) -> None:
        self.calls.append((address, rssi, manufacturer, service, now))


def wait_until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_detection_callback_hands_plain_values_to_the_handler() -> None:
    handler = Recorder()
    scanner = BleScanner(handler, clock=lambda: 1234.5)
    scanner.detection_callback(*advert(-61))
    assert handler.calls == [(ADDRESS, -61, {76: b"\x10\x05"}, {}, 1234.5)]
    assert scanner.adverts == 1


def test_a_failing_handler_never_breaks_the_scan_nor_logs_the_device(
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError(f"bad advert from {ADDRESS}")

    scanner = BleScanner(broken)
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            scanner.detection_callback(*advert())
    assert scanner.handler_errors == 3
    assert "RuntimeError" in caplog.text
    assert ADDRESS not in caplog.text and "Anna" not in caplog.text


def test_real_bleak_without_bluez_is_retried_with_growing_back_off(
        caplog: pytest.LogCaptureFixture) -> None:
    scanner = BleScanner(Recorder(), adapter="hci0", backoff_initial=0.02, backoff_max=0.08)
    with caplog.at_level(logging.WARNING, logger="edge.ble.scanner"):
        scanner.start()
        try:
            wait_until(lambda: scanner.failures >= 5 or scanner.starts > 0)
            if scanner.starts:
                pytest.skip("this machine has a working BlueZ: nothing to fail")
        finally:
            began = time.monotonic()
            scanner.stop()
    assert time.monotonic() - began < 1.0 and not scanner.running
    assert scanner.delays[:5] == [0.02, 0.04, 0.08, 0.08, 0.08]
    assert "BLE scanner failed" in caplog.text and "restarting in" in caplog.text


class SilentAfterStart:
    """Starts, delivers ``adverts`` adverts through bleak's callback, then goes quiet."""

    instances: list[SilentAfterStart] = []

    def __init__(self, *, detection_callback: object, adverts: int = 3, **_: object) -> None:
        self.callback = detection_callback
        self.adverts = adverts
        self.stopped = False
        SilentAfterStart.instances.append(self)

    async def start(self) -> None:
        for _ in range(self.adverts):
            self.callback(*advert())  # type: ignore[operator]
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self.stopped = True


def test_a_silent_scanner_is_restarted_by_the_watchdog() -> None:
    SilentAfterStart.instances = []
    handler = Recorder()
    scanner = BleScanner(handler, factory=SilentAfterStart, backoff_initial=0.01,
                         backoff_max=0.05, watchdog_seconds=0.1)
    scanner.start()
    try:
        wait_until(lambda: scanner.starts >= 3)
    finally:
        scanner.stop()
    assert len(handler.calls) >= 9  # every start delivered its adverts
    assert all(s.stopped for s in SilentAfterStart.instances[:-1])
    # each restart followed a scan that had delivered adverts: the back-off stays short
    assert set(scanner.delays) == {0.01}


def test_scrub_removes_address_shaped_text() -> None:
    text = "org.bluez.Error.Failed: device 4a:11:22:33:44:55 / dev_4A_11_22_33_44_55 busy"
    assert scrub(text) == "org.bluez.Error.Failed: device <address> / dev_<address> busy"


def test_default_factory_is_bleaks_scanner() -> None:
    assert BleScanner(Recorder())._factory is BleakScanner
