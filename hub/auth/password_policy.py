"""What a new password must be, as NIST SP 800-63B (5.1.1.2) asks: long enough, not a
known-common one, not the account's own name; and no composition rules (no "one digit,
one capital"), which only push people to ``Password1!``.

The common list ships with the package (``hub/data/common-passwords.txt``). A password is
refused when it *is* a listed one, or a listed one (or the username, or the word
"deskpulse") with only digits and symbols added around it or repeated, or a single
character or a keyboard run repeated. Each refusal says why, in words a person can act on.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from hub.errors import DeskpulseError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # the forms' limit; argon2 hashes any length, so no lower cap
_DECORATION = re.compile(r"^[\W\d_]*(?P<stem>.*?)[\W\d_]*$")
_SEPARATORS = re.compile(r"[\W\d_]+")
_RUNS = ("01234567890123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm",
         "qwertzuiopasdfghjklyxcvbnm", "azertyuiopqsdfghjklmwxcvbn", "1qaz2wsx3edc4rfv5tgb",
         "qazwsxedcrfvtgb", "1q2w3e4r5t6y7u8i9o0p")


class PasswordRejected(DeskpulseError):
    """A new password that does not meet the policy; the message says which rule."""


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list, lower case, comments and blank lines left out."""
    text = resources.files("hub").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def _unit(text: str) -> str:
    """The shortest piece ``text`` is a repetition of (``abcabc`` -> ``abc``)."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size]
    return text


def _keyboard_run(text: str) -> bool:
    return any(text in run or text in run[::-1] for run in _RUNS)


def reason(password: str, *, username: str = "") -> str | None:
    """Why ``password`` is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return (f"the password needs at least {MIN_LENGTH} characters (it has "
                f"{len(password)}); a few unrelated words make a long one easy to remember")
    if len(password) > MAX_LENGTH:
        return f"the password is longer than {MAX_LENGTH} characters"
    lowered = password.lower()
    match = _DECORATION.match(lowered)
    stem = match.group("stem") if match else lowered  # digits and symbols around taken off
    letters = _SEPARATORS.sub("", lowered)  # and those in between, too
    candidates = {lowered, stem, _unit(stem), letters, _unit(letters)} - {""}
    names = {"deskpulse", *(part for part in re.split(r"[@._\s-]+", username.lower())
                            if len(part) >= 3)}
    if candidates & common_passwords():
        return ("this password is on the list of commonly used passwords that attackers "
                "try first; choose something less predictable")
    if candidates & names:
        return "the password must not be your username or the product name"
    if _keyboard_run(lowered) or len(_unit(lowered)) <= 3 or len(set(lowered)) <= 2:
        return ("the password is a repeated character or a keyboard run; choose something "
                "less predictable")
    return None


def check(password: str, *, username: str = "") -> None:
    """PasswordRejected with :func:`reason` when the password is refused."""
    why = reason(password, username=username)
    if why is not None:
        raise PasswordRejected(why)
