"""ScanFilter: which decoded texts become check-in scans, de-duplication, rate cap; and
the scans it emits pass the real protocol encoder and decoder."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.protocol import MAX_TOKEN_LENGTH, CheckinsMessage, decode, encode, topic_for
from edge.qr.scans import (
    MIN_TOKEN_BODY,
    TOKEN_PREFIX,
    ScanFilter,
    ScanPolicy,
    is_checkin_token,
)
from firmware_sim.camera import sample_token

T0 = 1_763_770_000.0
TOKEN = sample_token(random.Random(1))
OTHER = sample_token(random.Random(2))


@pytest.mark.parametrize("text", [
    TOKEN,
    "dp1." + "a" * MIN_TOKEN_BODY,
    "dp1." + "A0._~:+/=-" * 50,  # the whole protocol alphabet, 504 chars
    "dp1." + "x" * (MAX_TOKEN_LENGTH - 4),
])
def test_deskpulse_tokens_are_accepted(text: str) -> None:
    assert is_checkin_token(text)


@pytest.mark.parametrize("text", [
    "",
    "dp1.",
    "dp1." + "a" * (MIN_TOKEN_BODY - 1),  # too short to be a signed token
    "dp1." + "x" * (MAX_TOKEN_LENGTH - 3),  # one over the protocol limit
    "dp2." + "a" * 40,  # another format version
    "DP1." + "a" * 40,
    "https://hub.example/d/Xy7Qk2Xy7Qk2Xy7Qk2",  # a desk label: not a personal token
    "WIFI:T:WPA;S:office;P:secret;;",
    "dp1." + "a" * 20 + " " + "b" * 20,
    "dp1." + "a" * 20 + "\n",
    "dp1." + "é" * 20,
    "dp1." + "a" * 20 + "\x00",
    " dp1." + "a" * 20,
])
def test_everything_else_is_ignored(text: str) -> None:
    assert not is_checkin_token(text)


@given(st.one_of(
    st.text(max_size=600),
    st.from_regex(r"dp1\.[A-Za-z0-9._~:+/=-]{0,520}", fullmatch=True),
))
def test_is_checkin_token_never_raises_and_matches_the_protocol(text: str) -> None:
    if is_checkin_token(text):
        assert text.startswith(TOKEN_PREFIX) and len(text) <= MAX_TOKEN_LENGTH
        message = CheckinsMessage(agent="a1", boot=1, seq=1, sent=T0,
                                  scans=tuple(ScanFilter("desk-1").accept([text], T0)))
        assert decode(topic_for("s", "a1", "checkins"), encode(message), now=T0) == message


def test_a_token_held_in_front_of_the_camera_is_scanned_once() -> None:
    scans = ScanFilter("desk-7", ScanPolicy(repeat_seconds=10))
    first = scans.accept([TOKEN], T0)
    assert [(s.desk, s.token, s.via, s.at) for s in first] == [("desk-7", TOKEN, "qr", T0)]
    # 30 frames/s for 60 s: the window keeps sliding while the code stays in sight.
    for i in range(1, 1800):
        assert scans.accept([TOKEN], T0 + i / 30) == []


def test_the_same_token_scans_again_after_being_out_of_sight() -> None:
    scans = ScanFilter("desk-7", ScanPolicy(repeat_seconds=10))
    assert len(scans.accept([TOKEN], T0)) == 1
    assert scans.accept([], T0 + 9) == []
    assert scans.accept([TOKEN], T0 + 9.5) == []  # 9.5 s after the last sighting
    assert scans.accept([TOKEN], T0 + 19.4) == []  # 9.9 s after the last sighting
    assert len(scans.accept([TOKEN], T0 + 30)) == 1  # out of sight for 10.6 s


def test_frames_with_several_codes_keep_their_order_and_drop_repeats() -> None:
    scans = ScanFilter("desk-7")
    got = scans.accept([OTHER, "https://hub.example/d/abc", TOKEN, OTHER], T0)
    assert [s.token for s in got] == [OTHER, TOKEN]
    assert scans.ignored == 1
    assert [s.token for s in scans.accept([TOKEN, OTHER], T0 + 1)] == []


def test_scans_per_minute_are_capped_and_capped_tokens_are_not_remembered() -> None:
    scans = ScanFilter("desk-7", ScanPolicy(repeat_seconds=5, max_per_minute=3))
    tokens = [sample_token(random.Random(100 + i)) for i in range(5)]
    got = [s.token for s in scans.accept(tokens, T0)]
    assert got == tokens[:3]
    assert scans.capped == 2
    for second in range(1, 60):  # all five held up, one frame a second
        assert scans.accept(tokens, T0 + second) == []
    assert scans.capped == 2 * 60
    later = scans.accept(tokens, T0 + 60)  # the minute freed up; the first 3 still in sight
    assert [s.token for s in later] == tokens[3:]


def test_a_clock_that_jumps_back_does_not_block_scans_for_hours() -> None:
    scans = ScanFilter("desk-7", ScanPolicy(repeat_seconds=10, max_per_minute=1))
    assert len(scans.accept([TOKEN], T0)) == 1
    assert len(scans.accept([OTHER], T0 - 3600)) == 1  # NTP stepped the clock back
    assert len(scans.accept([TOKEN], T0 - 3600 + 61)) == 1


def test_memory_stays_bounded_under_a_flood_of_distinct_codes() -> None:
    scans = ScanFilter("desk-7", ScanPolicy(repeat_seconds=10, max_per_minute=6))
    rng = random.Random(7)
    for i in range(3000):
        scans.accept([sample_token(rng) for _ in range(4)], T0 + i / 10)
    assert len(scans._last_seen) <= 6
    assert len(scans._emitted) <= 6


@pytest.mark.parametrize("desk", ["", "Desk 1", "d" * 65, "desk/1"])
def test_a_bad_desk_id_is_a_programming_error(desk: str) -> None:
    with pytest.raises(ValueError, match="desk must be an id"):
        ScanFilter(desk)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"repeat_seconds": -1.0}, "repeat_seconds"),
    ({"repeat_seconds": float("nan")}, "repeat_seconds"),
    ({"max_per_minute": 0}, "max_per_minute"),
])
def test_a_bad_policy_is_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScanPolicy(**kwargs)  # type: ignore[arg-type]
