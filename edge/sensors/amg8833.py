"""Panasonic Grid-EYE AMG8833 8x8 thermopile array over I2C through smbus2.

The register decoding is pure (:func:`decode_pixels`, :func:`decode_thermistor`) and
tested on known byte patterns; :class:`Amg8833` is the thin I/O adapter. Every I2C error
(``OSError`` from the kernel: NACK, no /dev/i2c-N, permission) becomes a
:class:`SensorFault`; the bus is then closed and the chip set up again on the next
sample, so a sensor that was unplugged or power-cycled comes back by itself.

Datasheet register map used here:
  0x00 PCTL  power control: 0x00 normal, 0x10 sleep, 0x20 / 0x21 stand-by 60 s / 10 s
  0x01 RST   reset: 0x30 flag reset, 0x3F initial reset (back to defaults)
  0x02 FPSC  frame rate: 0x00 10 frames/s, 0x01 1 frame/s
  0x03 INTC  interrupt control (0x00: interrupt pin off)
  0x0E/0x0F  thermistor, 12-bit sign-magnitude, 0.0625 degC/LSB, low byte first
  0x80..0xFF 64 pixels, 2 bytes each, 12-bit two's complement, 0.25 degC/LSB, low byte first
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NoReturn, Protocol

import numpy as np

from edge.sensors.pipeline import SensorFault

REG_PCTL = 0x00
REG_RST = 0x01
REG_FPSC = 0x02
REG_INTC = 0x03
REG_TTHL = 0x0E
REG_PIXELS = 0x80
PCTL_NORMAL = 0x00
RST_INITIAL = 0x3F
FPSC_10FPS = 0x00
PIXEL_BYTES = 128
BLOCK = 32  # SMBus block reads carry at most 32 bytes
PIXEL_LSB = 0.25  # degC
THERMISTOR_LSB = 0.0625  # degC
DEFAULT_ADDRESS = 0x69


def decode_pixels(raw: bytes) -> np.ndarray:
    """128 bytes from registers 0x80..0xFF -> an (8, 8) float array in degC.

    Pixel i is ``raw[2i] | raw[2i+1] << 8``: 12-bit two's complement, 0.25 degC per
    LSB; the 4 high bits are ignored. Row-major from pixel 1 (register 0x80).
    """
    if len(raw) != PIXEL_BYTES:
        raise ValueError(f"an AMG8833 frame is {PIXEL_BYTES} bytes, got {len(raw)}")
    words = np.frombuffer(raw, dtype="<u2").astype(np.int32) & 0x0FFF
    signed = words - ((words & 0x0800) << 1)
    return (signed * PIXEL_LSB).reshape(8, 8)


def decode_thermistor(low: int, high: int) -> float:
    """Registers 0x0E, 0x0F -> degC: 12-bit sign-magnitude, 0.0625 degC per LSB."""
    value = (low | high << 8) & 0x0FFF
    magnitude = value & 0x07FF
    return -magnitude * THERMISTOR_LSB if value & 0x0800 else magnitude * THERMISTOR_LSB


class Bus(Protocol):
    """The part of ``smbus2.SMBus`` this driver uses."""

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def close(self) -> None: ...


def open_smbus(bus: int) -> Bus:
    """Open /dev/i2c-``bus`` (raises OSError when I2C is not enabled or not permitted)."""
    from smbus2 import SMBus

    return SMBus(bus)


class Amg8833:
    """``sample(now)`` -> the current frame as an (8, 8) float array in degC.

    ``open_bus`` opens the I2C bus (smbus2 by default; tests pass a fake bus since no I2C
    hardware exists there) and ``sleep`` waits for the chip after a reset.
    """

    def __init__(
        self,
        bus: int = 1,
        address: int = DEFAULT_ADDRESS,
        *,
        open_bus: Callable[[int], Bus] = open_smbus,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bus_number = bus
        self.address = address
        self._open_bus = open_bus
        self._sleep = sleep
        self._bus: Bus | None = None

    def __repr__(self) -> str:
        return f"Amg8833(bus={self.bus_number}, address={self.address:#04x})"

    def sample(self, now: float) -> np.ndarray:
        try:
            bus = self._bus if self._bus is not None else self._setup()
            raw = self._read(bus, REG_PIXELS, PIXEL_BYTES)
        except OSError as exc:
            self._fail(exc.strerror or str(exc))
        return decode_pixels(raw)

    def thermistor(self) -> float:
        """The chip's own temperature in degC (a sanity check during installation)."""
        try:
            bus = self._bus if self._bus is not None else self._setup()
            low, high = self._read(bus, REG_TTHL, 2)
        except OSError as exc:
            self._fail(exc.strerror or str(exc))
        return decode_thermistor(low, high)

    def close(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            try:
                bus.close()
            except OSError:
                pass

    def _setup(self) -> Bus:
        """Open the bus, wake the chip, reset it and set 10 frames/s."""
        bus = self._open_bus(self.bus_number)
        self._bus = bus
        bus.write_byte_data(self.address, REG_PCTL, PCTL_NORMAL)
        self._sleep(0.05)  # datasheet: 50 ms from sleep to normal mode
        bus.write_byte_data(self.address, REG_RST, RST_INITIAL)
        self._sleep(0.002)
        bus.write_byte_data(self.address, REG_INTC, 0x00)
        bus.write_byte_data(self.address, REG_FPSC, FPSC_10FPS)
        self._sleep(0.1)  # one frame at 10 frames/s before the first read
        return bus

    def _read(self, bus: Bus, register: int, length: int) -> bytes:
        """Read ``length`` bytes in SMBus blocks; a short block is a bus fault."""
        data = bytearray()
        for offset in range(0, length, BLOCK):
            size = min(BLOCK, length - offset)
            block = bus.read_i2c_block_data(self.address, register + offset, size)
            if len(block) != size:
                raise OSError(f"short read: {len(block)} of {size} bytes")
            data.extend(block)
        return bytes(data)

    def _fail(self, reason: str) -> NoReturn:
        """Close the bus (set up again next time) and raise; DetectingSensor logs it once."""
        self.close()
        raise SensorFault(f"{self!r}: I2C error: {reason}")
