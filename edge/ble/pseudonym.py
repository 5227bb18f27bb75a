"""Pseudonyms for BLE addresses: HMAC-SHA256 under a key that lives only in memory.

A hashed MAC address is still personal data (48 bits are quickly brute-forced), so the
edge never hashes with a fixed salt: the key comes from ``secrets.token_bytes``, is never
written, logged, pickled or shown by ``repr``, and is replaced at least every 24 hours
(PRIVACY.md item 2). After a rotation the same device yields a different pseudonym, so
two days' counts cannot be joined per device, not even by the edge itself.

A rotation in the middle of a counting bin would count a device once under each key;
callers that care align bins with ``next_rotation`` or rotate explicitly at a bin edge.
Pass ``time.monotonic()`` as ``now``: a clock that steps backwards forces a rotation.
"""

from __future__ import annotations

import hmac
import secrets
from typing import NoReturn

MAX_ROTATE_SECONDS = 86_400.0
KEY_BYTES = 32
_DIGEST_BYTES = 16  # 128 bits: collisions are negligible among devices seen in a day
_CACHE_LIMIT = 65_536  # recently seen addresses; the HMAC costs ~2.5 us, a lookup ~20 ns


class PseudonymKey:
    """An in-memory HMAC key, rotated every ``rotate_seconds`` (at most 24 h)."""

    __slots__ = ("__key", "_cache", "_epoch", "_next_rotation", "_rotate_seconds")

    def __init__(self, now: float, rotate_seconds: float = MAX_ROTATE_SECONDS) -> None:
        if not 0 < rotate_seconds <= MAX_ROTATE_SECONDS:
            raise ValueError("rotate_seconds must be in (0, 86400]: the key lives at most 24 h")
        self._rotate_seconds = float(rotate_seconds)
        self._epoch = -1
        self._cache: dict[str, str] = {}
        self.__key = b""
        self._next_rotation = 0.0
        self.rotate(now)

    def rotate(self, now: float) -> None:
        """Replace the key now (also forgets every cached pseudonym)."""
        self.__key = secrets.token_bytes(KEY_BYTES)
        self._cache = {}
        self._epoch += 1
        self._next_rotation = now + self._rotate_seconds

    def pseudonym(self, address: str, now: float) -> str:
        """The pseudonym of ``address`` (case-insensitive) under the key valid at ``now``."""
        if now >= self._next_rotation or now < self._next_rotation - self._rotate_seconds:
            self.rotate(now)
        cached = self._cache.get(address)
        if cached is not None:
            return cached
        digest = hmac.digest(self.__key, address.upper().encode("utf-8", "surrogatepass"),
                             "sha256")
        value = digest[:_DIGEST_BYTES].hex()
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache = {}
        self._cache[address] = value
        return value

    @property
    def epoch(self) -> int:
        """How many times the key has been replaced since construction."""
        return self._epoch

    @property
    def next_rotation(self) -> float:
        """The ``now`` at which the next call rotates the key."""
        return self._next_rotation

    def __repr__(self) -> str:
        return f"PseudonymKey(epoch={self._epoch}, next_rotation={self._next_rotation:.0f})"

    def __getstate__(self) -> NoReturn:
        raise TypeError("PseudonymKey cannot be serialised: its key never leaves memory")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("PseudonymKey cannot be serialised: its key never leaves memory")

    def __copy__(self) -> NoReturn:
        raise TypeError("PseudonymKey cannot be copied")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("PseudonymKey cannot be copied")
