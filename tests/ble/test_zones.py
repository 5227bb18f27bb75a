"""The anonymous zone counter: bins, peak presence, address rotation, beacons, clock jumps."""

from __future__ import annotations

import itertools
import logging
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.ble.parsers import APPLE_COMPANY_ID, EDDYSTONE_SERVICE_UUID
from edge.ble.zones import ZoneCounter, bin_start, is_beacon, peak_overlap
from edge.protocol import ZoneCount

BIN = 900
T0 = 1_800_000_000 - (1_800_000_000 % BIN)  # a bin edge
PHONE = {APPLE_COMPANY_ID: bytes.fromhex("1005031c1a2b3c")}  # Apple "Nearby", not a beacon
IBEACON = {APPLE_COMPANY_ID: b"\x02\x15" + bytes(16) + struct.pack(">HHb", 1, 2, -59)}
ALTBEACON = {0x0118: b"\xbe\xac" + bytes(20) + b"\xc5\x00"}
EDDYSTONE = {EDDYSTONE_SERVICE_UUID: b"\x00\xee" + bytes(16) + b"\x00\x00"}


def mac(i: int) -> str:
    return ":".join(f"{b:02X}" for b in (0x4A, 0x11, 0x22, 0x33, i >> 8, i & 0xFF))


def advertise(counter: ZoneCounter, address: str, start: float, end: float, *,
              rssi: int = -60, step: float = 1.0,
              manufacturer: dict[int, bytes] | None = None,
              service: dict[str, bytes] | None = None) -> list[ZoneCount]:
    rows: list[ZoneCount] = []
    t = start
    while t < end:
        rows += counter.observe(address, rssi, manufacturer or PHONE, service or {}, t)
        t += step
    return rows


def close_bin(counter: ZoneCounter) -> list[ZoneCount]:
    """Tick every 30 s to the end of the open bin, as the agent's poll loop does."""
    end = counter.current_bin + counter.bin_seconds
    rows: list[ZoneCount] = []
    for t in range(counter.current_bin + 30, end + 1, 30):
        rows += counter.tick(t)
    return rows


def interleave(counter: ZoneCounter, streams: list[tuple[str, float, float]], *,
               rssi: int = -60, step: float = 1.0) -> list[ZoneCount]:
    """Several devices advertising at once, in time order."""
    events = sorted(
        (t, address)
        for address, start, end in streams
        for t in (start + i * step for i in range(int((end - start) / step)))
    )
    rows: list[ZoneCount] = []
    for t, address in events:
        rows += counter.observe(address, rssi, PHONE, {}, t)
    return rows


def test_bins_are_aligned_and_count_present_devices() -> None:
    counter = ZoneCounter("z1", T0 + 10, bin_seconds=BIN)
    assert counter.current_bin == T0
    rows = interleave(counter, [(mac(i), T0 + 10, T0 + 600) for i in range(3)])
    assert rows == []  # nothing leaves before the bin closes
    assert counter.present(T0 + 599) == 3
    rows = close_bin(counter)
    assert rows == [ZoneCount("z1", T0, 3)]
    assert rows[0].bin % BIN == 0
    assert counter.current_bin == T0 + BIN


def test_an_address_rotation_inside_a_bin_counts_one_phone_once() -> None:
    counter = ZoneCounter("z1", T0, bin_seconds=BIN)
    # One phone replaces its random address mid-bin; a second phone stays all bin.
    interleave(counter, [(mac(1), T0, T0 + 400), (mac(2), T0 + 400.5, T0 + BIN),
                         (mac(3), T0, T0 + BIN)])
    assert counter.tick(T0 + BIN) == [ZoneCount("z1", T0, 2)]  # distinct addresses: 3


def test_people_who_never_meet_count_as_peak_not_sum() -> None:
    counter = ZoneCounter("z1", T0, bin_seconds=BIN)
    interleave(counter, [(mac(1), T0, T0 + 200), (mac(2), T0 + 300, T0 + 500),
                         (mac(3), T0 + 450, T0 + 800)])
    assert close_bin(counter)[0].devices == 2  # only 2 and 3 overlap


def test_beacons_and_far_devices_are_not_counted() -> None:
    counter = ZoneCounter("z1", T0, bin_seconds=BIN)
    advertise(counter, mac(1), T0, T0 + 300, manufacturer=IBEACON)
    advertise(counter, mac(2), T0, T0 + 300, manufacturer=ALTBEACON)
    advertise(counter, mac(3), T0, T0 + 300, manufacturer={}, service=EDDYSTONE)
    advertise(counter, mac(4), T0, T0 + 300, rssi=-95)  # a phone in the next room
    advertise(counter, mac(5), T0, T0 + 2)  # a phone that passed by in two seconds
    assert counter.beacons == 900
    assert close_bin(counter)[0].devices == 0


def test_is_beacon_matches_the_parsers() -> None:
    assert is_beacon(IBEACON, {}) and is_beacon(ALTBEACON, {}) and is_beacon({}, EDDYSTONE)
    assert not is_beacon(PHONE, {})
    assert not is_beacon({APPLE_COMPANY_ID: b"\x02\x15\x00"}, {})  # truncated iBeacon
    assert not is_beacon({}, {})


def test_a_device_that_stays_is_counted_in_each_bin_under_a_new_key() -> None:
    counter = ZoneCounter("z1", T0, bin_seconds=BIN)
    rows = advertise(counter, mac(1), T0, T0 + 3 * BIN + 1)
    assert rows == [ZoneCount("z1", T0, 1), ZoneCount("z1", T0 + BIN, 1),
                    ZoneCount("z1", T0 + 2 * BIN, 1)]
    assert counter.key_epoch == 3  # one key per bin: pseudonyms never cross a bin edge


def test_the_key_is_replaced_at_every_bin_edge() -> None:
    counter = ZoneCounter("z1", T0, bin_seconds=BIN)
    key = counter._state.key  # the only private peek: the pseudonym itself never leaves
    before = key.pseudonym(mac(1), T0 + 1)
    counter.tick(T0 + BIN)
    after = counter._state.key.pseudonym(mac(1), T0 + BIN + 1)
    assert counter._state.key is not key and before != after


def test_quiet_bins_count_zero_but_unwatched_bins_are_not_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    counter = ZoneCounter("z1", T0, bin_seconds=BIN)
    advertise(counter, mac(1), T0, T0 + 100)
    for t in range(120, 2 * BIN, 60):  # the agent ticks every poll while nobody is there
        assert counter.tick(T0 + t) == ([ZoneCount("z1", T0, 1)] if t == BIN else [])
    assert counter.tick(T0 + 2 * BIN) == [ZoneCount("z1", T0 + BIN, 0)]
    with caplog.at_level(logging.INFO):  # a stall (or NTP jumping ahead at boot)
        assert counter.tick(T0 + 10 * BIN + 5) == []
    assert counter.current_bin == T0 + 10 * BIN
    assert "7 bin(s) passed unwatched" in caplog.text
    assert "watched for 0 s only" in caplog.text


def test_clock_steps_backwards(caplog: pytest.LogCaptureFixture) -> None:
    counter = ZoneCounter("z1", T0 + BIN, bin_seconds=BIN)
    advertise(counter, mac(1), T0 + BIN, T0 + BIN + 20)
    # a small step back (NTP) stays in the open bin
    assert counter.observe(mac(1), -60, PHONE, {}, T0 + BIN - 5) == []
    assert counter.current_bin == T0 + BIN
    with caplog.at_level(logging.WARNING):
        assert counter.tick(T0 - 5 * BIN) == []  # a big step back restarts the bin
    assert counter.current_bin == T0 - 5 * BIN
    assert "clock stepped back" in caplog.text


def test_bin_width_must_divide_a_day() -> None:
    with pytest.raises(ValueError, match="divide a day"):
        ZoneCounter("z1", T0, bin_seconds=700)
    assert bin_start(T0 + 899.9, BIN) == T0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1000), st.floats(0, 100)), max_size=30))
def test_peak_overlap_matches_brute_force(spans: list[tuple[float, float]]) -> None:
    runs = [(s, s + d) for s, d in spans]
    instants = [s for s, _ in runs] + [e for _, e in runs]
    brute = max((sum(s <= t <= e for s, e in runs) for t in instants), default=0)
    assert peak_overlap(runs) == brute


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.integers(-5, 0x10005), st.binary(max_size=40), max_size=3),
    st.dictionaries(st.sampled_from([EDDYSTONE_SERVICE_UUID, "0000fd6f-0000-1000-8000-"
                                     "00805f9b34fb"]), st.binary(max_size=30), max_size=2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
def test_untrusted_adverts_never_raise(manufacturer: dict[int, bytes],
                                       service: dict[str, bytes], rssi: float,
                                       address: str) -> None:
    counter = ZoneCounter("z1", T0, bin_seconds=BIN)
    for t in itertools.islice(itertools.count(T0, 0.5), 10):
        counter.observe(address, rssi, manufacturer, service, t)
    assert [r.devices for r in close_bin(counter)] in ([0], [1])


def test_a_bin_joined_late_is_not_reported() -> None:
    counter = ZoneCounter("z1", T0 + 0.5 * BIN, bin_seconds=BIN)  # started halfway
    rows = advertise(counter, mac(1), T0 + 0.5 * BIN, T0 + 2 * BIN + 1)
    assert rows == [ZoneCount("z1", T0 + BIN, 1)]  # not bin T0
    early = ZoneCounter("z1", T0 + 0.05 * BIN, bin_seconds=BIN)  # 95 % of the bin watched
    assert advertise(early, mac(1), T0 + 0.05 * BIN, T0 + BIN + 1) == [ZoneCount("z1", T0, 1)]
