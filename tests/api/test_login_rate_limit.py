"""The login rate limit holds under parallel attempts (issue 24, item 5), both engines.

40 parallel wrong passwords for one account used to get 13 password checks instead of
LOGIN_MAX_FAILURES: each attempt read the failure count, spent its argon2 time, and only
then recorded its failure. Counting and recording are now one step.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from hub.auth import accounts
from hub.db.protocol import Store

# The race this guards against lives in the hashing time: the production argon2 cost.
pytestmark = pytest.mark.real_argon2
PARALLEL = 36  # the PostgreSQL store pools 40 connections; the test thread holds one


def test_parallel_wrong_passwords_get_exactly_the_allowed_checks(store: Store) -> None:
    accounts.create_user(store.db, "target", "the right password here", "employee")
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(PARALLEL)

    def attempt(k: int) -> None:
        start.wait()
        try:
            accounts.authenticate_password(store.db, "target", f"wrong guess {k}")
            outcome = "signed in"
        except accounts.LoginRateLimited:
            outcome = "rate limited"
        except accounts.LoginFailed:
            outcome = "checked and refused"
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=attempt, args=(k,)) for k in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == {"checked and refused": accounts.LOGIN_MAX_FAILURES,
                        "rate limited": PARALLEL - accounts.LOGIN_MAX_FAILURES}
    assert accounts.recent_failures(store.db, "target") == accounts.LOGIN_MAX_FAILURES
    try:  # even the right password waits for the window now
        accounts.authenticate_password(store.db, "target", "the right password here")
        raise AssertionError("the right password got past the rate limit")
    except accounts.LoginRateLimited:
        pass
