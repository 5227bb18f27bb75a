"""Where a person was going before a sign-in got in the way (``?next=``), kept safe.

Every sign-in path (the sign-in form, a desk label, an invitation, a forced password
change, a self-service sign-in link) carries the page the person asked for and returns
there. Only a local path of this hub is accepted, never another site (an open redirect
would let a phishing mail bounce through the hub): it must start with one ``/``, hold no
backslash or control character, and not be a sign-in page itself.
"""

from __future__ import annotations

from urllib.parse import quote

MAX_LENGTH = 300
_LOOPS = ("/login", "/logout", "/account/password", "/invite/", "/signin-link")


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` if it is a safe local path to return to, else ``default``."""
    if not value or len(value) > MAX_LENGTH or not value.startswith("/"):
        return default
    if value.startswith("//") or "\\" in value or any(ord(c) < 32 or ord(c) == 127
                                                       for c in value):
        return default
    for loop in _LOOPS:
        base = loop.rstrip("/")
        if value == base or value.startswith((base + "/", base + "?")):
            return default
    return value


def with_next(path: str, next_path: str | None) -> str:
    """``path?next=<next_path>`` when there is somewhere safe to return to."""
    target = safe_next(next_path, default="")
    return f"{path}?next={quote(target, safe='/')}" if target and target != "/" else path
