"""Which decoded QR texts become check-in scans: pure, no clock, no I/O.

Token format contract with the hub (the hub owns the token's inside; the edge checks only
its outside, so it can drop everything that is certainly not a Deskpulse token before it
reaches the wire):

- the text starts with ``dp1.`` (format 1 of the Deskpulse personal check-in token);
- all of it is in the protocol's token alphabet ``[A-Za-z0-9._~:+/=-]``
  (``edge.protocol``'s ``Scan.token``), so base64url pieces joined by ``.`` fit;
- it is at most ``MAX_TOKEN_LENGTH`` (512) characters and has at least
  ``MIN_TOKEN_BODY`` characters after the prefix (a signed token cannot be shorter).

Anything else a camera sees (the desk's own label URL ``https://.../d/<code>``, a menu, a
Wi-Fi code) is ignored, and never logged: a decoded text is untrusted and may be personal.
The edge never parses, verifies or remembers a token beyond the de-duplication window: it
publishes it opaquely on ``checkins`` (``via: "qr"``) and the hub verifies it.

A person holds a phone in front of the camera for a second or more, so the same token is
seen in many consecutive frames: :class:`ScanFilter` emits it once, and again only after
it has been out of sight for ``repeat_seconds``. ``max_per_minute`` caps what a flood of
codes (a screen playing codes, a prank sheet) can put on the wire; capped tokens are not
remembered, so a genuine one still shown when the minute frees up gets through.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from edge.protocol import MAX_TOKEN_LENGTH, Scan, is_id

__all__ = [
    "MIN_TOKEN_BODY", "TOKEN_PREFIX", "ScanFilter", "ScanPolicy", "is_checkin_token",
]

TOKEN_PREFIX = "dp1."  # noqa: S105 - a format marker, not a secret
MIN_TOKEN_BODY = 16
_TOKEN = re.compile(r"[A-Za-z0-9._~:+/=-]+")


def is_checkin_token(text: object) -> bool:
    """True if ``text`` has the outside of a Deskpulse check-in token (see module doc)."""
    return (
        isinstance(text, str)
        and len(TOKEN_PREFIX) + MIN_TOKEN_BODY <= len(text) <= MAX_TOKEN_LENGTH
        and text.startswith(TOKEN_PREFIX)
        and _TOKEN.fullmatch(text) is not None
    )


@dataclass(frozen=True)
class ScanPolicy:
    """``repeat_seconds``: a token out of sight this long may be scanned again.
    ``max_per_minute``: at most this many scans per rolling 60 s."""

    repeat_seconds: float = 10.0
    max_per_minute: int = 6

    def __post_init__(self) -> None:
        if not self.repeat_seconds >= 0:
            raise ValueError("repeat_seconds must be >= 0")
        if self.max_per_minute < 1:
            raise ValueError("max_per_minute must be >= 1")


class ScanFilter:
    """Turns each frame's decoded texts into the scans to publish, for one desk camera.

    State: tokens seen within the last ``repeat_seconds`` (bounded: only scans emitted in
    that window are kept, at most ``max_per_minute`` a minute) and the last minute's emit
    times. Not thread-safe: one camera loop owns one filter.
    """

    def __init__(self, desk: str, policy: ScanPolicy | None = None) -> None:
        if not is_id(desk):
            raise ValueError("desk must be an id matching [a-z0-9-]{1,64}")
        self.desk = desk
        self.policy = policy or ScanPolicy()
        self._last_seen: dict[str, float] = {}
        self._emitted: deque[float] = deque()
        self.ignored = 0  # texts that were not tokens (counts only, for health)
        self.capped = 0  # tokens held back by max_per_minute

    def _forget(self, now: float) -> None:
        """Drop sightings and emit times outside their windows; a clock that jumped
        backwards further than a window also empties it, rather than block for hours."""
        repeat = self.policy.repeat_seconds
        self._last_seen = {
            token: seen for token, seen in self._last_seen.items() if abs(now - seen) <= repeat
        }
        if self._emitted and self._emitted[-1] > now:
            self._emitted.clear()
        while self._emitted and self._emitted[0] <= now - 60.0:
            self._emitted.popleft()

    def accept(self, texts: Iterable[str], now: float) -> list[Scan]:
        """The scans to publish for one frame decoded at ``now`` (Unix seconds), in the
        order the texts came; repeats within the window and non-tokens are dropped."""
        self._forget(now)
        scans: list[Scan] = []
        for text in dict.fromkeys(texts):
            if not is_checkin_token(text):
                self.ignored += 1
                continue
            if text in self._last_seen:
                self._last_seen[text] = now  # still in sight: extend the window
                continue
            if len(self._emitted) >= self.policy.max_per_minute:
                self.capped += 1
                continue
            self._last_seen[text] = now
            self._emitted.append(now)
            scans.append(Scan(desk=self.desk, token=text, via="qr", at=now))
        return scans
