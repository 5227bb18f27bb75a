"""The type of the ``open_test_store`` fixture (tests/hub/conftest.py): a factory of stores
on this test's engine."""

from __future__ import annotations

from collections.abc import Callable

from hub.db.protocol import Store

StoreFactory = Callable[..., Store]
