"""The password policy (hub/auth/password_policy.py), as NIST SP 800-63B 5.1.1.2 asks: at least
12 characters, not on the shipped list of common passwords (nor one of them with digits or
symbols around it), not the username; no composition rules. Each refusal gives its reason."""

from __future__ import annotations

import pytest

from hub.auth import password_policy


@pytest.mark.parametrize(("password", "reason"), [
    ("password12", "needs at least 12 characters (it has 10)"),
    ("password1234", "commonly used passwords"),
    ("Password1234!", "commonly used passwords"),
    ("P@ssw0rd2026!!", "commonly used passwords"),
    ("Welcome2024!!", "commonly used passwords"),
    ("correct horse battery staple", "commonly used passwords"),
    ("qwertyuiop123", "commonly used passwords"),
    ("emma-emma-emma", "must not be your username"),
    ("deskpulse2026!", "commonly used passwords"),
    ("aaaaaaaaaaaa", "repeated character or a keyboard run"),
    ("123456789012", "repeated character or a keyboard run"),
    ("abcabcabcabc", "repeated character or a keyboard run"),
])
def test_refused_with_the_reason(password: str, reason: str) -> None:
    why = password_policy.reason(password, username="emma")
    assert why is not None and reason in why, why


@pytest.mark.parametrize("password", [
    "violet kettle harbour 42",
    "a long test password",
    "ghjtyrueiwoq",  # no letters-digits-symbols rule: twelve letters are fine
    "Tr0ub4dor&3-horse",
])
def test_long_uncommon_passwords_pass_without_composition_rules(password: str) -> None:
    assert password_policy.reason(password, username="emma") is None


def test_the_list_ships_with_the_package() -> None:
    common = password_policy.common_passwords()
    assert len(common) > 200 and "password" in common and "#" not in "".join(common)[:1]
