"""Errors mapped once: the one exception handler, and the statuses the OpenAPI schema shows.

Every ``DeskpulseError`` class carries its ``http_status`` (edge/errors.py, hub/errors.py
and the classes next to the code that raises them); :func:`deskpulse_error` turns any of
them into that status with a JSON ``{"detail": "..."}``, so routes let them propagate
instead of catching and re-raising. FastAPI's own ``HTTPException`` has the same body.

The schema documents every status a route can answer with, and its body:

- what the route's dependencies can refuse: a dependency says so with :func:`answers`
  (401 from the sign-in check, 403 from a role check, 404 from the site lookup ...);
- what the route itself raises, declared with ``responses=raises(NotFound, ...)``;
- 400 and 413 for every route that reads a body (unparsable JSON, the body size limit);
- 422 as :class:`ValidationErrorBody`: FastAPI's list of field errors, or one sentence
  when the request fits the schema but a value is one the hub cannot take.

:func:`document_errors` adds these to the generated schema (``create_app`` installs it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI, Request, routing
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from hub.errors import DeskpulseError

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/"
_ANSWERS = "__deskpulse_answers__"

# Why each status is answered, when a route or dependency does not say more.
REASONS: dict[int, str] = {
    400: "the request cannot be read, or the hub refuses it",
    401: "not signed in, or an invalid or revoked API token",
    403: "not allowed for this caller's role",
    404: "no such object",
    409: "clashes with what exists",
    410: "no longer valid",
    413: "the request body is larger than the hub accepts",
    415: "a file type the hub does not accept",
    422: "the request does not fit the schema, or a value the hub cannot take",
    429: "too many requests: wait for the time in Retry-After",
}


class ErrorBody(BaseModel):
    """Every refusal but a schema mismatch: one sentence saying why."""

    detail: str


class FieldError(BaseModel):
    """One field FastAPI's request validation refused (its ``input``/``ctx`` may follow)."""

    model_config = ConfigDict(extra="allow")
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """422: the fields that do not fit the schema, or one sentence for a value the schema
    accepts but the hub cannot take (e.g. "start must be before end")."""

    detail: list[FieldError] | str


async def deskpulse_error(request: Request, exc: Exception) -> JSONResponse:
    """The one handler of the DeskpulseError family: the class's status, the message."""
    code = exc.http_status if isinstance(exc, DeskpulseError) else 500
    if code >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=code)


def _reason(cls: type[DeskpulseError]) -> str:
    return (cls.__doc__ or "").strip().split("\n")[0] or REASONS.get(cls.http_status, "")


def raises(*errors: type[DeskpulseError] | tuple[int, str]) -> dict[int | str, Any]:
    """``responses=`` for a route: the error classes it lets through (their status, their
    first docstring line) and ``(status, reason)`` pairs for its own HTTPExceptions."""
    responses: dict[int | str, Any] = {}
    for error in errors:
        code, reason = (error if isinstance(error, tuple)
                        else (error.http_status, _reason(error)))
        old = responses.get(code)
        responses[code] = {"description": f"{old['description']}; {reason}" if old else reason}
    return responses


def answers(*statuses: tuple[int, str]) -> Callable[[F], F]:
    """Marks a dependency with the ``(status, reason)`` refusals it can raise, so every
    route that depends on it documents them."""
    def mark(function: F) -> F:
        setattr(function, _ANSWERS, statuses)
        return function
    return mark


def _dependency_answers(dependant: Dependant) -> Iterator[tuple[int, str]]:
    for sub in dependant.dependencies:
        yield from getattr(sub.call, _ANSWERS, ())
        yield from _dependency_answers(sub)


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """Each API route as the schema sees it (path with the router's prefix). FastAPI
    0.16x keeps included routers nested and offers ``iter_route_contexts`` to walk them;
    older versions list every APIRoute in ``app.routes``."""
    walk = getattr(routing, "iter_route_contexts", None)
    if walk is None:
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for context in walk(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def route_statuses(route: Any) -> dict[int, str]:
    """The refusals a route can answer with beyond what its decorator declares."""
    found: dict[int, str] = {}
    for code, reason in _dependency_answers(route.dependant):
        found.setdefault(code, reason)
    if route.body_field is not None:
        found.setdefault(400, "the body is not valid JSON or form data")
        found.setdefault(413, REASONS[413])
    return found


def _error_content(code: int) -> dict[str, Any]:
    model = ValidationErrorBody if code == 422 else ErrorBody
    return {"application/json": {"schema": {"$ref": REF + model.__name__}}}


def document_errors(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """An ``app.openapi`` that adds each route's refusals, each with its real body."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = FastAPI.openapi(app)  # FastAPI's own, then the refusals added once
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ErrorBody, ValidationErrorBody):
            model_schema = model.model_json_schema(ref_template=REF + "{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        for route in _api_routes(app):
            if not route.include_in_schema:
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    _add_refusals(operation, route_statuses(route))
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema
    return openapi


def _add_refusals(operation: dict[str, Any], extra: dict[int, str]) -> None:
    responses = operation.setdefault("responses", {})
    for code, reason in extra.items():
        responses.setdefault(str(code), {"description": reason})
    for key, response in responses.items():
        if key.isdigit() and int(key) >= 400:
            if int(key) == 422 and response.get("description") == "Validation Error":
                response["description"] = REASONS[422]
            response["content"] = _error_content(int(key))
