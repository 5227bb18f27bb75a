"""Two people whose data fills every personal table (tests/support/people.py); the hub, its
store and the client are tests/conftest.py's."""

from __future__ import annotations

import pytest

from hub.db.protocol import Store
from tests.support.people import make_person


@pytest.fixture
def ann(store: Store) -> int:
    return make_person(store, "ann", "hq-d1")


@pytest.fixture
def bob(store: Store) -> int:
    return make_person(store, "bob", "hq-d2")
