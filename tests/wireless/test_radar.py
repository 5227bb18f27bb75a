"""LD2410 radar: the frame parser on real-format frames and fuzzed streams, the serial
adapter through a pseudo-terminal pair (as a UART on a Pi), and the desk-zone detector."""

from __future__ import annotations

import os
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import AgentConfig
from edge.errors import ConfigError
from edge.wireless.channel import Channel
from edge.wireless.ld2410 import Ld2410Parser, RadarFrame, encode_frame
from edge.wireless.radar import RadarDetector, RadarZone, in_zone
from edge.wireless.serial_radar import SerialRadar

# A basic report as the datasheet shows it: stationary target at 0x0033 cm... (bytes)
DATASHEET_FRAME = bytes.fromhex("F4F3F2F1 0D00 02AA 02 5100 00 3300 64 2800 5500 F8F7F6F5"
                                .replace(" ", ""))
SEATED = RadarFrame(state=3, moving_cm=72, moving_energy=40, still_cm=70, still_energy=61,
                    detection_cm=72)
NEIGHBOUR = RadarFrame(state=2, moving_cm=0, moving_energy=0, still_cm=190,
                       still_energy=35, detection_cm=190)


def test_a_datasheet_frame_parses() -> None:
    parser = Ld2410Parser()
    [frame] = parser.feed(DATASHEET_FRAME)
    assert frame == RadarFrame(state=2, moving_cm=0x51, moving_energy=0, still_cm=0x33,
                               still_energy=100, detection_cm=0x28)
    assert parser.malformed == 0


def test_frames_split_anywhere_and_garbage_between_them() -> None:
    stream = b"\x00\xf4\xf3" + encode_frame(SEATED) + b"junk" + encode_frame(
        NEIGHBOUR, engineering=True) + encode_frame(SEATED)
    for cut in range(1, len(stream)):
        parser = Ld2410Parser()
        frames = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert frames == [SEATED, NEIGHBOUR, SEATED], cut


def test_malformed_frames_are_skipped_and_counted() -> None:
    good = encode_frame(SEATED)
    bad_footer = good[:-1] + b"\x00"
    bad_length = good[:4] + b"\xff\x00" + good[6:]
    bad_tail = good[:-6] + b"\x54\x00" + good[-4:]
    bad_state = good[:8] + b"\x09" + good[9:]
    parser = Ld2410Parser()
    frames = parser.feed(bad_footer + bad_length + bad_tail + bad_state + good)
    assert frames == [SEATED]
    assert parser.malformed == 4


@settings(max_examples=300 if os.environ.get("DESKPULSE_FUZZ") != "long" else 5000,
          deadline=None)
@given(st.lists(st.one_of(
    st.binary(max_size=64),
    st.builds(lambda f: encode_frame(f), st.builds(
        RadarFrame, st.integers(0, 3), st.integers(0, 65535), st.integers(0, 255),
        st.integers(0, 65535), st.integers(0, 255), st.integers(0, 65535))),
    st.just(b"\xf4\xf3\xf2\xf1"), st.just(b"\xf4\xf3\xf2\xf1\x0d\x00")), max_size=40),
    st.integers(1, 50))
def test_a_fuzzed_stream_never_raises(chunks: list[bytes], size: int) -> None:
    parser = Ld2410Parser()
    stream = b"".join(chunks)
    for start in range(0, len(stream), size):
        for frame in parser.feed(stream[start:start + size]):
            assert 0 <= frame.state <= 3
    assert len(parser._buffer) <= 4096


def test_the_zone_sees_the_seat_not_the_neighbour() -> None:
    zone = RadarZone(max_cm=120, min_energy=20)
    assert in_zone(SEATED, zone) and not in_zone(NEIGHBOUR, zone)
    weak = RadarFrame(2, 0, 0, 80, 5, 80)
    assert not in_zone(weak, zone)
    detector = RadarDetector(zone, debounce_seconds=5, missing_seconds=30)
    assert detector.update(0, SEATED).presence == "present"
    assert detector.update(1, NEIGHBOUR).presence == "present"  # debounced
    assert detector.update(7, NEIGHBOUR).presence == "absent"
    assert detector.update(8, None).presence == "absent"  # a dropout keeps the verdict
    assert detector.update(40, None).presence == "fault"
    assert detector.update(41, "nonsense").presence == "fault"


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    name = os.ttyname(slave)
    yield master, name
    os.close(master)
    os.close(slave)


def test_the_serial_adapter_reads_frames_from_a_pty(pty_pair: tuple[int, str]) -> None:
    master, port = pty_pair
    channel = Channel("radar sensor of desk d1", timeout_seconds=5)
    radar = SerialRadar(port, channel, baudrate=256_000)
    radar.start()
    try:
        deadline = time.monotonic() + 5
        while radar.opens == 0:
            assert time.monotonic() < deadline, "the adapter did not open the pty"
            time.sleep(0.01)
        os.write(master, b"\x00garbage" + encode_frame(NEIGHBOUR) + encode_frame(SEATED)[:7])
        time.sleep(0.1)
        os.write(master, encode_frame(SEATED)[7:] + encode_frame(SEATED)[:-1] + b"\x00")
        while radar.parser.frames < 2 or radar.parser.malformed < 1:
            assert time.monotonic() < deadline, (radar.parser.frames, radar.parser.malformed)
            time.sleep(0.01)
        assert channel.sample(time.time()) == SEATED
        assert channel.health(time.time()).faults == radar.parser.malformed >= 1
    finally:
        radar.stop()


def test_a_missing_port_is_retried_not_raised(tmp_path: Path) -> None:
    channel = Channel("radar sensor of desk d1", timeout_seconds=5)
    radar = SerialRadar(str(tmp_path / "ttyNONE"), channel, backoff_initial=0.01,
                        backoff_max=0.02)
    radar.start()
    try:
        deadline = time.monotonic() + 5
        while radar.failures < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(Exception, match="not been heard"):
            channel.sample(time.time())
    finally:
        radar.stop()


def test_radar_config_checks(tmp_path: Path) -> None:
    def load(*sensors: dict) -> AgentConfig:
        return AgentConfig.from_dict({"site": "s", "agent": "a", "data_dir": str(tmp_path),
                                      "desks": [{"id": f"d{i}", "zone": "z",
                                                 "sensors": [s]}
                                                for i, s in enumerate(sensors)]})

    config = load({"type": "radar", "port": "/dev/ttyAMA0", "max_cm": 110})
    assert config.desks[0].sensors[0].max_cm == 110
    with pytest.raises(ConfigError, match="serial port /dev/ttyAMA0 is already used"):
        load({"type": "radar", "port": "/dev/ttyAMA0"}, {"type": "radar", "port": "/dev/ttyAMA0"})
    with pytest.raises(ConfigError, match="min_cm must be less than max_cm"):
        load({"type": "radar", "port": "/dev/ttyS0", "min_cm": 200, "max_cm": 100})
    with pytest.raises(ConfigError, match="serial device"):
        load({"type": "radar", "port": "COM3"})
