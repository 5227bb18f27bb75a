"""Check-in tokens as pure functions: genuine ones verify, nothing else ever does."""

from __future__ import annotations

import base64
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.checkin import tokens
from hub.checkin.tokens import TokenExpired, TokenTampered, WrongDesk

KEY = tokens.derive_key("checkin-tests-secret-0123456789")
OTHER_KEY = tokens.derive_key("another-hub-secret-0123456789")
PERSON = "p3rs0n-pseudonym"
NOW = 1_763_800_000.0
WIRE = re.compile(r"[A-Za-z0-9._~:+/=-]{1,512}")


def test_a_genuine_token_verifies_and_fits_the_wire_contract() -> None:
    token = tokens.sign(KEY, PERSON, now=NOW, desk="hq-d1")
    assert token.startswith("dp1.")
    assert WIRE.fullmatch(token) and len(token) < 200
    claims = tokens.verify(KEY, token, now=NOW + 59, desk="hq-d1")
    assert (claims.person, claims.desk, claims.expires) == (PERSON, "hq-d1", NOW + 60)
    # The payload names a pseudonym only.
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert set(payload) == {"t", "p", "d", "e"}


def test_token_ids_are_unique() -> None:
    ids = {tokens.verify(KEY, tokens.sign(KEY, PERSON, now=NOW), now=NOW).token_id
           for _ in range(200)}
    assert len(ids) == 200


def test_ttl_is_at_most_sixty_seconds() -> None:
    with pytest.raises(ValueError, match="ttl"):
        tokens.sign(KEY, PERSON, now=NOW, ttl=61)


def _flip(text: str, index: int) -> str:
    char = text[index]
    return text[:index] + ("A" if char != "A" else "B") + text[index + 1:]


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda t: _flip(t, 6), id="payload-changed"),
    pytest.param(lambda t: _flip(t, len(t) - 3), id="mac-changed"),
    pytest.param(lambda t: t[:-1], id="mac-truncated"),
    pytest.param(lambda t: t.rsplit(".", 1)[0], id="mac-missing"),
    pytest.param(lambda t: "dp2." + t[4:], id="wrong-version"),
    pytest.param(lambda t: t + ".x", id="extra-part"),
    pytest.param(lambda t: t.replace("dp1.", "dp1.é", 1), id="non-ascii"),
    pytest.param(lambda t: "", id="empty"),
])
def test_tampered_tokens_are_refused(mutate: object) -> None:
    token = tokens.sign(KEY, PERSON, now=NOW)
    with pytest.raises(TokenTampered):
        tokens.verify(KEY, mutate(token), now=NOW)  # type: ignore[operator]


def test_a_token_of_another_hub_is_tampered() -> None:
    with pytest.raises(TokenTampered):
        tokens.verify(KEY, tokens.sign(OTHER_KEY, PERSON, now=NOW), now=NOW)


def test_a_re_signed_payload_with_a_longer_life_is_still_refused() -> None:
    payload = base64.urlsafe_b64encode(json.dumps(
        {"t": "abcdefghijkl", "p": PERSON, "d": None, "e": int(NOW + 3600)}
    ).encode()).rstrip(b"=").decode()
    forged = "dp1." + payload + "." + tokens.sign(KEY, PERSON, now=NOW).rsplit(".", 1)[1]
    with pytest.raises(TokenTampered):
        tokens.verify(KEY, forged, now=NOW)


def test_expired_tokens_are_refused() -> None:
    token = tokens.sign(KEY, PERSON, now=NOW, ttl=30)
    tokens.verify(KEY, token, now=NOW + 30)
    with pytest.raises(TokenExpired):
        tokens.verify(KEY, token, now=NOW + 31)


def test_a_desk_bound_token_is_refused_at_another_desk() -> None:
    token = tokens.sign(KEY, PERSON, now=NOW, desk="hq-d1")
    with pytest.raises(WrongDesk):
        tokens.verify(KEY, token, now=NOW, desk="hq-d2")
    # An unbound (personal) token is good at any desk.
    tokens.verify(KEY, tokens.sign(KEY, PERSON, now=NOW), now=NOW, desk="hq-d2")


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=600),
    st.text(alphabet="ABCabc012._~:+/=-", max_size=300).map(lambda s: "dp1." + s),
    st.binary(max_size=200).map(
        lambda b: "dp1." + base64.urlsafe_b64encode(b).decode().rstrip("=") + ".x"),
))
def test_arbitrary_text_only_ever_raises_a_token_error(text: str) -> None:
    with pytest.raises(tokens.TokenError):
        tokens.verify(KEY, text, now=NOW)
