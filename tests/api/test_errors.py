"""Errors mapped once (issue 21): each error class carries its HTTP status, the one handler
answers with it and a ``{"detail": ...}`` body, and the OpenAPI schema documents every
refusal a route can answer with, with the body it really has."""

from __future__ import annotations

from typing import Any

import jsonschema_rs  # schemathesis's own validator
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge.errors import ConfigError, DeskpulseError, ProtocolError
from hub.admin import building_edit
from hub.api import errors
from hub.api.app import create_app
from hub.auth import accounts
from hub.building.floor_plan import PlanRejected
from hub.checkin import badges, service, tokens
from hub.config import HubSettings
from hub.db.engines import open_store
from hub.db.protocol import Store
from hub.errors import NotFound, StoreError

STATUSES: list[tuple[type[DeskpulseError], int]] = [
    (DeskpulseError, 400),
    (ProtocolError, 400),
    (ConfigError, 500),
    (NotFound, 404),
    (StoreError, 503),
    (accounts.LoginFailed, 401),
    (accounts.LoginRateLimited, 429),
    (accounts.PasswordRejected, 400),
    (tokens.TokenTampered, 401),
    (tokens.TokenExpired, 401),
    (tokens.TokenReplayed, 409),
    (tokens.WrongDesk, 409),
    (service.DeskTaken, 409),
    (badges.BadgeTaken, 409),
    (building_edit.BuildingConflict, 409),
    (building_edit.BuildingInvalid, 422),
]


@pytest.mark.parametrize(("cls", "code"), STATUSES, ids=lambda v: getattr(v, "__name__", v))
def test_each_class_carries_its_status(cls: type[DeskpulseError], code: int) -> None:
    assert cls.http_status == code


def test_a_plan_refusal_carries_its_own_status() -> None:
    assert PlanRejected("too big", 413).http_status == 413
    assert PlanRejected("not an image").http_status == 400


@pytest.mark.parametrize(("cls", "code"), STATUSES, ids=lambda v: getattr(v, "__name__", v))
def test_the_one_handler_answers_with_the_class_status(cls: type[DeskpulseError],
                                                       code: int) -> None:
    app = FastAPI()
    app.add_exception_handler(DeskpulseError, errors.deskpulse_error)

    @app.get("/boom")
    def boom() -> None:
        raise cls("what went wrong, in words")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == code
    assert response.json() == {"detail": "what went wrong, in words"}


# -- through the real app ------------------------------------------------------------------

@pytest.fixture
def admin_auth(store: Store) -> dict[str, str]:
    return {"Authorization": "Bearer " + accounts.create_api_token(store.db, "a", role="admin")}


def test_unknown_site_is_404_with_detail(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/desks", params={"site": "nope"}, headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "site 'nope' not found"}


def test_a_tampered_token_is_401_through_the_handler(client: TestClient,
                                                     auth: dict[str, str]) -> None:
    response = client.post("/api/v1/checkins/token-scan", headers=auth,
                           json={"token": "not-a-token", "desk": "hq-d1"})
    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


def test_building_conflict_and_invalid_value(client: TestClient,
                                             admin_auth: dict[str, str]) -> None:
    """BuildingConflict -> 409, BuildingInvalid -> 422 with one sentence (was a route-local
    mapping in building_admin)."""
    taken = client.post("/api/v1/sites", headers=admin_auth,
                        json={"id": "hq", "name": "Again", "timezone": "UTC"})
    assert taken.status_code == 409 and isinstance(taken.json()["detail"], str)
    bad_zone = client.post("/api/v1/sites", headers=admin_auth,
                           json={"id": "new", "name": "New", "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422
    assert isinstance(bad_zone.json()["detail"], str)


# -- the schema ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The schema depends on the routes, not on the engine: built once, on SQLite."""
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("schema"))
    store = open_store(settings.store_url)
    try:
        return create_app(settings, store).openapi()
    finally:
        store.close()


def _responses(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    result: dict[str, Any] = schema["paths"][path][method]["responses"]
    return result


@pytest.mark.parametrize(("method", "path", "codes"), [
    ("get", "/api/v1/desks", {"401", "404", "422"}),
    ("get", "/api/v1/agents", {"401", "403", "404", "422"}),
    ("delete", "/api/v1/me", {"401", "403"}),
    ("post", "/api/v1/me/badges", {"400", "401", "403", "409", "413", "422"}),
    ("patch", "/api/v1/sites/{site}", {"400", "401", "403", "404", "409", "413", "422"}),
    ("post", "/api/v1/checkins/token-scan", {"400", "401", "403", "404", "409", "429"}),
    ("get", "/api/v1/desks/{desk}/label.{fmt}", {"401", "403", "404", "422"}),
    ("get", "/api/v1/people/{person_id}/data", {"401", "403", "404", "422"}),
])
def test_routes_document_what_they_can_answer(schema: dict[str, Any], method: str, path: str,
                                              codes: set[str]) -> None:
    assert codes <= set(_responses(schema, method, path))


def test_every_signed_in_route_documents_401(schema: dict[str, Any]) -> None:
    secured = [(path, method) for path, ops in schema["paths"].items()
               for method, op in ops.items() if op.get("security")]
    assert len(secured) > 30
    assert [(p, m) for p, m in secured if "401" not in _responses(schema, m, p)] == []


def test_every_refusal_has_a_json_body_schema(schema: dict[str, Any]) -> None:
    wrong = []
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for code, response in op["responses"].items():
                if int(code) < 400:
                    continue
                want = "ValidationErrorBody" if code == "422" else "ErrorBody"
                ref = response.get("content", {}).get("application/json", {}).get("schema")
                if ref != {"$ref": f"#/components/schemas/{want}"} or len(response["content"]) != 1:
                    wrong.append((method, path, code, response.get("content")))
    assert wrong == []
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def _validator(schema: dict[str, Any], name: str) -> Any:
    document = {"$ref": f"#/components/schemas/{name}", "components": schema["components"]}
    return jsonschema_rs.Draft202012Validator(document)


def test_the_422_schema_takes_both_real_shapes(client: TestClient, auth: dict[str, str],
                                               schema: dict[str, Any]) -> None:
    """The domain's sentence and FastAPI's field list both fit the documented 422 body;
    the sentence did not fit the HTTPValidationError documented before."""
    validator = _validator(schema, "ValidationErrorBody")
    domain = client.get("/api/v1/checkins/figures", headers=auth,
                        params={"site": "hq", "start": 99999999999.0, "end": 0})
    assert domain.status_code == 422
    assert domain.json() == {"detail": "start must be before end"}
    fields = client.get("/api/v1/checkins/figures", headers=auth, params={"site": "hq",
                                                                          "start": "x"})
    assert fields.status_code == 422 and isinstance(fields.json()["detail"], list)
    for response in (domain, fields):
        validator.validate(response.json())
    assert not _validator(schema, "ErrorBody").is_valid({"detail": [{"loc": ["q"]}]})
