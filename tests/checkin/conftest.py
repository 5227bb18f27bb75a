"""The check-in tests' people (two employees) and a manager's API token; the hub, its store and
the client are tests/conftest.py's."""

from __future__ import annotations

import pytest

from hub.auth import accounts
from hub.db.protocol import Store
from tests.support.web import PASSWORD


@pytest.fixture
def ann(store: Store) -> int:
    """An employee."""
    return accounts.create_user(store.db, "ann", PASSWORD, "employee")


@pytest.fixture
def bob(store: Store) -> int:
    """Another employee."""
    return accounts.create_user(store.db, "bob", PASSWORD, "employee")


@pytest.fixture
def manager_auth(store: Store) -> dict[str, str]:
    token = accounts.create_api_token(store.db, "camera-tests", role="manager")
    return {"Authorization": f"Bearer {token}"}


