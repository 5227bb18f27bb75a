"""In-memory HMAC pseudonyms: stable within a key's life, unlinkable across rotations."""

from __future__ import annotations

import copy
import hashlib
import hmac
import pickle
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import edge.ble.pseudonym as pseudonym_module
from edge.ble.pseudonym import PseudonymKey

ADDRESS = "C4:7C:8D:6A:3E:21"
MAC_SHAPED = re.compile(r"(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}", re.IGNORECASE)
DAY = 86_400.0


def test_stable_within_the_key_life_and_case_insensitive() -> None:
    key = PseudonymKey(now=1000.0)
    first = key.pseudonym(ADDRESS, 1000.0)
    assert key.pseudonym(ADDRESS.lower(), 1000.0 + DAY - 1) == first
    assert key.pseudonym("C4:7C:8D:6A:3E:22", 1001.0) != first
    assert key.epoch == 0


def test_value_is_hmac_sha256_of_the_address_under_the_in_memory_key() -> None:
    key = PseudonymKey(now=0.0)
    secret = key._PseudonymKey__key  # type: ignore[attr-defined]  # white-box: the raw key
    assert isinstance(secret, bytes) and len(secret) == 32
    expected = hmac.new(secret, ADDRESS.encode(), hashlib.sha256).hexdigest()[:32]
    assert key.pseudonym(ADDRESS, 0.0) == expected


def test_rotation_after_at_most_a_day_changes_every_pseudonym() -> None:
    key = PseudonymKey(now=0.0)
    before = key.pseudonym(ADDRESS, DAY - 0.001)
    after = key.pseudonym(ADDRESS, DAY)
    assert after != before and key.epoch == 1 and key.next_rotation == 2 * DAY
    assert key.pseudonym(ADDRESS, DAY + 5) == after
    hourly = PseudonymKey(now=0.0, rotate_seconds=3600)
    values = {hourly.pseudonym(ADDRESS, h * 3600.0) for h in range(25)}
    assert len(values) == 25 and hourly.epoch == 24


def test_explicit_rotation_and_a_clock_stepping_back_both_replace_the_key() -> None:
    key = PseudonymKey(now=500.0)
    first = key.pseudonym(ADDRESS, 500.0)
    key.rotate(600.0)
    second = key.pseudonym(ADDRESS, 600.0)
    assert second != first and key.next_rotation == 600.0 + DAY
    assert key.pseudonym(ADDRESS, 10.0) not in (first, second)  # before the key's birth


def test_two_keys_never_agree() -> None:
    assert PseudonymKey(0.0).pseudonym(ADDRESS, 0.0) != PseudonymKey(0.0).pseudonym(ADDRESS, 0.0)


@pytest.mark.parametrize("seconds", [0, -1, DAY + 1, float("inf")])
def test_a_key_may_not_live_longer_than_a_day(seconds: float) -> None:
    with pytest.raises(ValueError, match="at most 24 h"):
        PseudonymKey(now=0.0, rotate_seconds=seconds)


def test_the_key_cannot_be_serialised_copied_or_shown() -> None:
    key = PseudonymKey(now=0.0)
    secret: bytes = key._PseudonymKey__key  # type: ignore[attr-defined]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="never leaves memory"):
            pickle.dumps(key, protocol=protocol)
    with pytest.raises(TypeError):
        copy.copy(key)
    with pytest.raises(TypeError):
        copy.deepcopy(key)
    with pytest.raises(TypeError):
        vars(key)  # __slots__: no __dict__ to dump
    for shown in (repr(key), str(key), f"{key!r}"):
        assert secret.hex() not in shown and repr(secret) not in shown
    assert repr(key) == "PseudonymKey(epoch=0, next_rotation=86400)"


def test_pseudonyms_do_not_look_like_or_contain_the_address() -> None:
    key = PseudonymKey(now=0.0)
    value = key.pseudonym(ADDRESS, 0.0)
    assert re.fullmatch(r"[0-9a-f]{32}", value)
    assert not MAC_SHAPED.search(value)
    assert ADDRESS.replace(":", "").lower() not in value


def test_the_cache_is_bounded_and_never_changes_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pseudonym_module, "_CACHE_LIMIT", 4)
    key = PseudonymKey(now=0.0)
    addresses = [f"00:00:00:00:00:{i:02X}" for i in range(10)]
    first = [key.pseudonym(a, 1.0) for a in addresses]
    assert len(key._cache) <= 4
    assert [key.pseudonym(a, 2.0) for a in addresses] == first


@given(st.text(max_size=40), st.floats(0, 1e9))
def test_any_address_string_gives_a_pseudonym(address: str, now: float) -> None:
    key = PseudonymKey(now=0.0)
    assert len(key.pseudonym(address, now)) == 32
