"""AMG8833 thermopile driver: pure register decoding on known bytes, and the I/O adapter.

No I2C hardware exists on the test machines, so the adapter is driven through a small
in-process bus object passed in via ``open_bus`` (the I/O boundary only). It answers like
the chip: a register file, auto-incrementing block reads, and a NACK (OSError 121) for any
address it does not own. The decoding it feeds is the same pure function tested directly.
"""

from __future__ import annotations

import errno

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.sensors.amg8833 import Amg8833, decode_pixels, decode_thermistor
from edge.sensors.pipeline import SensorFault
from tests.sensors.fake_i2c import ChipBus, Opener


def frame_bytes(words: list[int]) -> bytes:
    return b"".join(w.to_bytes(2, "little") for w in words)


def reference_pixel(low: int, high: int) -> float:
    """The datasheet's rule, spelled out without numpy."""
    value = (high << 8 | low) & 0x0FFF
    if value >= 0x0800:
        value -= 0x1000
    return value * 0.25






def driver(bus: ChipBus, address: int = 0x69) -> tuple[Amg8833, Opener, list[float]]:
    opener, sleeps = Opener(bus), list[float]()
    return Amg8833(1, address, open_bus=opener, sleep=sleeps.append), opener, sleeps


# -- pure decoding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "celsius"),
    [
        (0x0000, 0.0),
        (0x0001, 0.25),
        (0x0064, 25.0),  # 100 LSB
        (0x0190, 100.0),
        (0x07FF, 511.75),  # largest positive
        (0x0800, -512.0),  # most negative
        (0x0FFF, -0.25),
        (0x0FD8, -10.0),
        (0xF064, 25.0),  # the 4 high bits are not part of the value
    ],
)
def test_pixel_words_decode_as_12_bit_twos_complement(word: int, celsius: float) -> None:
    frame = decode_pixels(frame_bytes([word] * 64))
    assert frame.shape == (8, 8) and frame.dtype == np.float64
    assert np.all(frame == celsius)


def test_pixels_are_little_endian_and_row_major() -> None:
    words = [0] * 64
    words[0], words[9], words[63] = 0x0058, 0x0074, 0x0FF8  # 22 degC, 29 degC, -2 degC
    raw = frame_bytes(words)
    assert raw[18:20] == b"\x74\x00"  # pixel 10 lives at registers 0x92 (low), 0x93 (high)
    frame = decode_pixels(raw)
    assert (frame[0, 0], frame[1, 1], frame[7, 7]) == (22.0, 29.0, -2.0)
    assert np.count_nonzero(frame) == 3


@pytest.mark.parametrize("size", [0, 127, 129, 256])
def test_a_frame_of_the_wrong_size_is_the_callers_mistake(size: int) -> None:
    with pytest.raises(ValueError, match=f"an AMG8833 frame is 128 bytes, got {size}"):
        decode_pixels(bytes(size))


@given(st.binary(min_size=128, max_size=128))
def test_decoding_matches_the_datasheet_rule_on_any_bytes(raw: bytes) -> None:
    frame = decode_pixels(raw)
    expected = [reference_pixel(raw[2 * i], raw[2 * i + 1]) for i in range(64)]
    assert frame.ravel().tolist() == expected


@pytest.mark.parametrize(
    ("low", "high", "celsius"),
    [
        (0x00, 0x00, 0.0),
        (0x90, 0x01, 25.0),  # 400 * 0.0625
        (0x01, 0x08, -0.0625),  # sign bit + magnitude 1 (sign-magnitude, not two's complement)
        (0xFF, 0x07, 127.9375),
        (0xFF, 0x0F, -127.9375),
        (0x90, 0xF1, 25.0),  # high nibble ignored
    ],
)
def test_thermistor_is_12_bit_sign_magnitude(low: int, high: int, celsius: float) -> None:
    assert decode_thermistor(low, high) == celsius


# -- the adapter, through the chip-like bus -----------------------------------------------


def test_first_sample_wakes_resets_and_sets_10_fps_then_reads_the_frame() -> None:
    bus = ChipBus()
    words = [0x0058 + i for i in range(64)]  # 22.00, 22.25, ... degC
    bus.load_frame(frame_bytes(words))
    sensor, opener, sleeps = driver(bus)
    frame = sensor.sample(1.0)
    assert frame.ravel().tolist() == [22.0 + 0.25 * i for i in range(64)]
    assert bus.writes == [(0x69, 0x00, 0x00), (0x69, 0x01, 0x3F), (0x69, 0x03, 0x00),
                          (0x69, 0x02, 0x00)]
    assert opener.opened == [1] and sleeps == [0.05, 0.002, 0.1]
    assert bus.reads == [(0x80, 32), (0xA0, 32), (0xC0, 32), (0xE0, 32)]
    sensor.sample(2.0)  # set up once, then only reads
    assert len(bus.writes) == 4 and opener.opened == [1] and len(bus.reads) == 8


def test_thermistor_reads_registers_0x0e_0x0f() -> None:
    bus = ChipBus(address=0x68)
    bus.registers[0x0E:0x10] = b"\x90\x01"
    sensor, _, _ = driver(bus, address=0x68)
    assert sensor.thermistor() == 25.0
    assert bus.reads[-1] == (0x0E, 2)


def test_wrong_address_is_a_fault_naming_the_chip() -> None:
    sensor, _, _ = driver(ChipBus(address=0x68), address=0x69)
    with pytest.raises(SensorFault) as err:
        sensor.sample(1.0)
    assert str(err.value) == "Amg8833(bus=1, address=0x69): I2C error: Remote I/O error"


def test_i2c_not_enabled_is_a_fault() -> None:
    sensor, opener, _ = driver(ChipBus())
    opener.error = FileNotFoundError(errno.ENOENT, "No such file or directory")
    with pytest.raises(SensorFault, match="I2C error: No such file or directory$"):
        sensor.sample(1.0)


def test_bus_error_faults_then_the_chip_is_set_up_again() -> None:
    bus = ChipBus()
    bus.load_frame(frame_bytes([0x0064] * 64))
    sensor, opener, _ = driver(bus)
    assert sensor.sample(1.0)[0, 0] == 25.0
    bus.error = OSError(errno.EIO, "Input/output error")
    for now in (2.0, 3.0):
        with pytest.raises(SensorFault, match="Input/output error"):
            sensor.sample(now)
    assert bus.closed
    bus.error = None
    assert sensor.sample(4.0)[7, 7] == 25.0
    assert len(opener.opened) == 3  # first open, one failed re-open (at 3.0), recovery
    assert bus.writes[-4:] == bus.writes[:4]  # reset again: it may have lost power


def test_a_short_block_read_is_a_fault_not_a_garbled_frame() -> None:
    bus = ChipBus()
    bus.short = True
    sensor, _, _ = driver(bus)
    with pytest.raises(SensorFault, match="short read: 31 of 32 bytes"):
        sensor.sample(1.0)


def test_close_closes_the_bus_and_is_idempotent() -> None:
    bus = ChipBus()
    sensor, _, _ = driver(bus)
    sensor.sample(1.0)
    sensor.close()
    sensor.close()
    assert bus.closed
