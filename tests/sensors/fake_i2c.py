"""A fake AMG8833 on a fake I2C bus (registers, not a mock of the driver), for the
thermopile driver and sensor-factory tests."""

from __future__ import annotations

import errno


class ChipBus:
    """An I2C bus with one AMG8833 on it (see the module docstring for why it exists)."""

    def __init__(self, address: int = 0x69) -> None:
        self.address = address
        self.registers = bytearray(256)
        self.writes: list[tuple[int, int, int]] = []
        self.reads: list[tuple[int, int]] = []
        self.error: OSError | None = None
        self.short = False
        self.closed = False

    def _check(self, address: int) -> None:
        if self.closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if self.error is not None:
            raise self.error
        if address != self.address:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        self._check(i2c_addr)
        self.writes.append((i2c_addr, register, value))

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        self._check(i2c_addr)
        self.reads.append((register, length))
        data = list(self.registers[register:register + length])
        return data[:-1] if self.short else data

    def close(self) -> None:
        self.closed = True

    def load_frame(self, raw: bytes) -> None:
        self.registers[0x80:0x100] = raw


class Opener:
    """``open_bus`` for the driver: hands out the chip's bus, or fails like the kernel."""

    def __init__(self, bus: ChipBus) -> None:
        self.bus = bus
        self.opened: list[int] = []
        self.error: OSError | None = None

    def __call__(self, number: int) -> ChipBus:
        if self.error is not None:
            raise self.error
        self.opened.append(number)
        self.bus.closed = False
        return self.bus
