"""HLK-LD2410 (B/C) mmWave radar report frames: a pure parser over a byte stream.

A report frame (the module's default "basic" mode and its "engineering" mode)::

    F4 F3 F2 F1 | len (2, LE) | type (0x02 basic, 0x01 engineering) | 0xAA |
    state (1) | moving cm (2) | moving energy (1) | still cm (2) | still energy (1) |
    detection cm (2) | [engineering: gate energies ...] | 0x55 | 0x00 | F8 F7 F6 F5

``state``: 0 no target, 1 moving, 2 stationary, 3 both. The parser finds headers in any
stream (the module is read from the middle of a frame after a restart), checks the
length against bounds before indexing, checks the footer, head and tail bytes, and skips
and counts anything malformed. It never raises on input bytes and keeps at most
``MAX_BUFFER`` bytes. Command ACK frames (FD FC FB FA ... 04 03 02 01) are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HEADER", "FOOTER", "Ld2410Parser", "RadarFrame", "encode_frame"]

HEADER = b"\xf4\xf3\xf2\xf1"
FOOTER = b"\xf8\xf7\xf6\xf5"
BASIC, ENGINEERING = 0x02, 0x01
MIN_DATA = 13  # type, 0xAA, 9 target bytes, 0x55, 0x00
MAX_DATA = 64  # engineering mode is 35; anything much longer is garbage
MAX_BUFFER = 4096


@dataclass(frozen=True)
class RadarFrame:
    """One report: the target state and the two targets' distance (cm) and energy (0-100)."""

    state: int
    moving_cm: int
    moving_energy: int
    still_cm: int
    still_energy: int
    detection_cm: int


def encode_frame(frame: RadarFrame, *, engineering: bool = False) -> bytes:
    """The bytes the module sends for ``frame`` (tests and firmware_sim)."""
    body = bytes([ENGINEERING if engineering else BASIC, 0xAA, frame.state])
    body += frame.moving_cm.to_bytes(2, "little") + bytes([frame.moving_energy])
    body += frame.still_cm.to_bytes(2, "little") + bytes([frame.still_energy])
    body += frame.detection_cm.to_bytes(2, "little")
    if engineering:  # max gates, then 9 moving and 9 still gate energies, light, out pin
        body += bytes([8, 8]) + bytes(18) + bytes([0, 0])
    body += b"\x55\x00"
    return HEADER + len(body).to_bytes(2, "little") + body + FOOTER


class Ld2410Parser:
    """Feed bytes, get complete frames; ``malformed`` counts frames thrown away."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.frames = 0
        self.malformed = 0
        self.discarded_bytes = 0

    def feed(self, data: bytes) -> list[RadarFrame]:
        self._buffer += data
        frames: list[RadarFrame] = []
        buf = self._buffer
        while True:
            start = buf.find(HEADER)
            if start < 0:
                keep = len(HEADER) - 1  # a header may be split across reads
                if len(buf) > keep:
                    self.discarded_bytes += len(buf) - keep
                    del buf[:len(buf) - keep]
                break
            if start:
                self.discarded_bytes += start
                del buf[:start]
            if len(buf) < 6:
                break
            length = int.from_bytes(buf[4:6], "little")
            if not MIN_DATA <= length <= MAX_DATA:
                self._skip(buf)
                continue
            total = 6 + length + 4
            if len(buf) < total:
                break
            frame = self._parse(bytes(buf[6:6 + length])) \
                if buf[6 + length:total] == FOOTER else None
            if frame is None:
                self._skip(buf)
                continue
            del buf[:total]
            self.frames += 1
            frames.append(frame)
        if len(buf) > MAX_BUFFER:
            self.discarded_bytes += len(buf)
            buf.clear()
        return frames

    def _skip(self, buf: bytearray) -> None:
        """Drop this header's first byte: the next header may start inside it."""
        self.malformed += 1
        self.discarded_bytes += 1
        del buf[:1]

    @staticmethod
    def _parse(data: bytes) -> RadarFrame | None:
        if len(data) < MIN_DATA or data[0] not in (BASIC, ENGINEERING) or data[1] != 0xAA:
            return None
        if data[-2:] != b"\x55\x00":
            return None
        if data[0] == BASIC and len(data) != MIN_DATA:
            return None
        state = data[2]
        if state > 3:
            return None
        return RadarFrame(
            state=state,
            moving_cm=int.from_bytes(data[3:5], "little"), moving_energy=data[5],
            still_cm=int.from_bytes(data[6:8], "little"), still_energy=data[8],
            detection_cm=int.from_bytes(data[9:11], "little"),
        )
