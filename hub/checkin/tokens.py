"""Check-in tokens: ``dp1.<payload>.<mac>``, pure signing and verification (no I/O).

The payload is base64url (no padding) of compact JSON ``{"t": token id, "p": person
pseudonym, "d": desk or null, "e": expiry (unix seconds)}``; the MAC is base64url of
HMAC-SHA256 over ``dp1.<payload>`` under a key derived from the hub secret. The token
therefore names a random per-person pseudonym, never an account name or email, and the
edge that forwards it learns nothing it could use. Single use is not decided here: the
service records the token id in a UNIQUE database row (``used_tokens``).

Every character is in ``[A-Za-z0-9._~:+/=-]`` and a token is far below 512 characters,
the limit of the wire protocol's ``scans[].token``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from hub.errors import DeskpulseError

PREFIX = "dp1."
MAX_TTL_SECONDS = 60
MAX_TOKEN_LENGTH = 512
CLOCK_SKEW_SECONDS = 30
_B64 = re.compile(r"[A-Za-z0-9_-]+")
_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_DESK = re.compile(r"[a-z0-9-]{1,64}")
_KEY_LABEL = b"deskpulse check-in token key v1"


class TokenError(DeskpulseError):
    """A check-in token that must not be accepted (see the subclasses for why)."""


class TokenTampered(TokenError):
    """Not a token this hub signed: malformed, altered or signed with another key."""

    http_status = 401


class TokenExpired(TokenError):
    """A genuine token whose short lifetime is over."""

    http_status = 401


class TokenReplayed(TokenError):
    """A genuine token that was already used once (tokens are single use)."""

    http_status = 409


class WrongDesk(TokenError):
    """A genuine token bound to another desk than the one it was presented at."""

    http_status = 409


@dataclass(frozen=True)
class TokenClaims:
    token_id: str
    person: str  # the person's check-in pseudonym
    desk: str | None
    expires: float


def derive_key(secret: str) -> bytes:
    """The token MAC key: a sub-key of the hub secret, separate from session/CSRF use."""
    return hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, signed: str) -> str:
    return _b64(hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest())


def sign(
    key: bytes,
    person: str,
    *,
    now: float,
    ttl: float = MAX_TTL_SECONDS,
    desk: str | None = None,
    token_id: str | None = None,
) -> str:
    """A new token for ``person`` (a pseudonym), optionally bound to ``desk``."""
    if not 0 < ttl <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be in (0, {MAX_TTL_SECONDS}] seconds")
    if not _ID.fullmatch(person):
        raise ValueError("person must be a pseudonym of 8-64 base64url characters")
    if desk is not None and not _DESK.fullmatch(desk):
        raise ValueError("desk must be a desk id")
    claims = {
        "t": token_id or secrets.token_urlsafe(9),
        "p": person,
        "d": desk,
        "e": int(now + ttl),
    }
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signed = PREFIX + payload
    return f"{signed}.{_mac(key, signed)}"


def _claims(payload: str) -> TokenClaims:
    """Parse a payload whose MAC already matched; anything odd is still 'tampered'."""
    try:
        data = json.loads(_unb64(payload))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise TokenTampered("token payload is not valid") from None
    if not isinstance(data, dict) or set(data) != {"t", "p", "d", "e"}:
        raise TokenTampered("token payload is not valid")
    token_id, person, desk, expires = data["t"], data["p"], data["d"], data["e"]
    if (
        not isinstance(token_id, str) or not _ID.fullmatch(token_id)
        or not isinstance(person, str) or not _ID.fullmatch(person)
        or not (desk is None or (isinstance(desk, str) and _DESK.fullmatch(desk)))
        or isinstance(expires, bool) or not isinstance(expires, int)
    ):
        raise TokenTampered("token payload is not valid")
    return TokenClaims(token_id, person, desk, float(expires))


def verify(key: bytes, token: str, *, now: float, desk: str | None = None) -> TokenClaims:
    """The claims of a genuine, unexpired token presented at ``desk``.

    Raises TokenTampered (bad form or MAC), TokenExpired, or WrongDesk (the token is bound
    to another desk). Never raises anything else, whatever ``token`` holds.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise TokenTampered("token is not valid")
    if not token.startswith(PREFIX) or token.count(".") != 2:
        raise TokenTampered("token is not valid")
    signed, _, mac = token.rpartition(".")
    try:
        expected = _mac(key, signed)
    except UnicodeEncodeError:
        raise TokenTampered("token is not valid") from None
    if not hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace")):
        raise TokenTampered("token signature does not match")
    claims = _claims(signed[len(PREFIX):])
    if now > claims.expires:
        raise TokenExpired("token expired")
    if claims.expires - now > MAX_TTL_SECONDS + CLOCK_SKEW_SECONDS:
        raise TokenTampered("token lifetime is longer than allowed")
    if claims.desk is not None and desk is not None and claims.desk != desk:
        raise WrongDesk("token is for another desk")
    return claims
