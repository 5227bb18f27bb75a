"""GPIO drivers on gpiozero's own MockFactory pins: the real gpiozero devices, mock silicon."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from edge.sensors.gpio import ContactDriver, PirDriver
from edge.sensors.pipeline import SensorFault

FAST = 200.0  # Hz: gpiozero's PIR polling thread, fast so the tests wait little


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = factory = MockFactory()
    yield factory
    factory.close()  # closes every device built on it
    Device.pin_factory = previous


def eventually(check: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def pin(factory: MockFactory, number: int) -> Any:
    return factory.pin(number)


def test_pir_is_true_while_its_output_is_high(factory: MockFactory) -> None:
    pir = PirDriver(17, sample_rate=FAST)
    assert pir.sample(0.0) is False
    pin(factory, 17).drive_high()
    eventually(lambda: pir.sample(1.0))
    assert [pir.sample(t) for t in (2.0, 3.0)] == [True, True]
    pin(factory, 17).drive_low()
    eventually(lambda: not pir.sample(4.0))
    assert pir.sample(5.0) is False


def test_pir_pulse_between_two_samples_is_not_lost(factory: MockFactory) -> None:
    pir = PirDriver(17, sample_rate=FAST)
    assert pir.device.wait_for_no_motion(1.0)  # gpiozero's thread has seen the first level
    assert pir.sample(0.0) is False
    pin(factory, 17).drive_high()
    eventually(lambda: bool(pir.device.motion_detected))
    pin(factory, 17).drive_low()
    eventually(lambda: not pir.device.motion_detected)
    assert pir.sample(1.0) is True  # the rise since the last sample counts once
    assert pir.sample(2.0) is False


def test_pir_is_pulled_down_so_a_floating_pin_reads_no_motion(factory: MockFactory) -> None:
    pir = PirDriver(22, sample_rate=FAST)
    assert pin(factory, 22).state is False
    time.sleep(0.02)
    assert pir.sample(0.0) is False


def test_pin_in_use_is_a_sensor_fault_naming_the_pin(factory: MockFactory) -> None:
    first = PirDriver(17, sample_rate=FAST), ContactDriver(27)  # held: a dropped one frees
    with pytest.raises(SensorFault, match="^cannot open GPIO pin 17 for a PIR sensor: "):
        PirDriver(17, sample_rate=FAST)
    with pytest.raises(SensorFault, match="^cannot open GPIO pin 27 for a contact switch: "):
        ContactDriver(27)
    assert all(driver.device.pin is not None for driver in first)


def test_reading_a_closed_device_is_a_sensor_fault(factory: MockFactory) -> None:
    pir, contact = PirDriver(5, sample_rate=FAST), ContactDriver(6)
    pir.close()
    contact.close()
    with pytest.raises(SensorFault, match="^cannot read the PIR on GPIO pin 5: "):
        pir.sample(0.0)
    with pytest.raises(SensorFault, match="^cannot read the switch on GPIO pin 6: "):
        contact.sample(0.0)


def test_contact_to_ground_with_pull_up_reads_every_level(factory: MockFactory) -> None:
    contact = ContactDriver(27)
    switch = pin(factory, 27)
    assert switch.state is True and contact.sample(0.0) is False  # open: pulled high
    levels = []
    for closed in (True, False, True, True, False):  # bounce included: the detector debounces
        (switch.drive_low if closed else switch.drive_high)()
        levels.append(contact.sample(1.0))
    assert levels == [True, False, True, True, False]


def test_pressure_mat_to_3v3_with_pull_down(factory: MockFactory) -> None:
    mat = ContactDriver(23, pull_up=False)
    assert mat.sample(0.0) is False
    pin(factory, 23).drive_high()
    assert mat.sample(1.0) is True
    pin(factory, 23).drive_low()
    assert mat.sample(2.0) is False


def test_an_explicit_pin_factory_is_used(factory: MockFactory) -> None:
    other = MockFactory()
    try:
        contact = ContactDriver(24, pin_factory=other)
        other.pin(24).drive_low()
        assert contact.sample(0.0) is True
        factory.pin(24).drive_high()  # the global factory's pin 24 is another pin
        assert contact.sample(0.0) is True
    finally:
        other.close()
