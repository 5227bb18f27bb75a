"""schemathesis against the hub's own OpenAPI schema (PRIVACY.md 18): every operation, called
in-process with a manager's and an administrator's API token over a real database, never
answers 5xx, and answers only statuses and bodies its schema documents (docs/api.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import given
from schemathesis import GenerationMode
from schemathesis.checks import (
    ignored_auth,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from hub.api.app import create_app
from hub.auth import accounts
from hub.checkin import service
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.fuzz.budget import budget
from tests.support.building import BUILDING


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    """One app over one database with a building, people and check-ins, and a manager's
    token (the administrator's is in ``app.state.fuzz_admin_token``)."""
    data_dir = tmp_path_factory.mktemp("fuzz-hub")
    settings = HubSettings(data_dir=data_dir, secret_key="fuzz-secret-0123456789abcdef",
                           colleague_visibility=True, checkin_rate_per_minute=10_000)
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    accounts.ensure_schema(store.db)
    person = accounts.create_user(store.db, "fuzz-person", "a long test password", "employee")
    service.check_in(store, person, "hq-d1", via="phone")
    token = accounts.create_api_token(store.db, "fuzzer", role="manager")
    app = create_app(settings, store)
    app.state.fuzz_admin_token = accounts.create_api_token(store.db, "fuzz-admin", role="admin")
    yield app, token
    store.close()


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: tuple[FastAPI, str]) -> Any:
    app, _ = fuzzed_app
    return schemathesis.openapi.from_asgi("/openapi.json", app)


CHECKS = [not_a_server_error, ignored_auth, status_code_conformance, response_schema_conformance]


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_every_answer_is_documented(api_schema: Any, fuzzed_app: tuple[FastAPI, str],
                                    role: str) -> None:
    """Each operation's cases come from ``operation.as_strategy()`` under our own budget.

    (``schemathesis.pytest.from_fixture`` with ``@schema.parametrize()`` would give one test
    per operation, but schemathesis 4.32 reads ``request.node._nodeid``, which pytest 9.2
    no longer has.) ``Accept: application/json`` keeps the live desk stream from staying
    open. Every operation runs; the failures of all are reported together.
    """
    app, token = fuzzed_app
    if role == "admin":  # past the administrators' 403: the building editor's own refusals
        token = app.state.fuzz_admin_token
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        # Valid input, and input that breaks the schema (which must get 4xx, not 5xx).
        cases = (operation.as_strategy(GenerationMode.POSITIVE)
                 | operation.as_strategy(GenerationMode.NEGATIVE))

        @budget(short=10, long=500)
        @given(case=cases)
        def call(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            call()
        except Exception as exc:  # noqa: BLE001 (collected, reported below)
            failures.append(f"{operation.label}: {type(exc).__name__}: {exc}")
    assert failures == []


def test_the_schema_is_fuzzed_at_all(api_schema: Any) -> None:
    """A schema that lost its operations would make the test above pass vacuously."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    paths = {operation.path for operation in operations}
    assert {"/api/v1/sites", "/api/v1/checkins/token-scan", "/api/v1/me/checkins"} <= paths
    assert len(operations) > 15


def test_the_fuzzed_database_exists(fuzzed_app: tuple[FastAPI, str]) -> None:
    app, _ = fuzzed_app
    assert Path(app.state.settings.database_path).exists()
