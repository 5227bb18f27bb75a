"""Fuzzing floor-plan uploads and building imports (issue 10 item 5, PRIVACY.md 17): arbitrary
and mutated bytes are refused with a reason (PlanRejected, a 4xx), never an uncaught
exception or a 5xx, and nothing unsafe is ever accepted."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from hub.api.app import create_app
from hub.auth import accounts
from hub.building.csv_rows import parse_building_csv
from hub.building.floor_plan import PlanRejected, check_plan
from hub.config import HubSettings
from hub.db.sqlite.store import SqliteStore
from tests.fuzz.budget import budget
from tests.support.building import BUILDING


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (64, 48), (10, 20, 30, 255)).save(out, "PNG")
    return out.getvalue()


VALID_PNG = _png()
SVG_HEAD = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


@pytest.fixture(scope="module")
def upload(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app over one database; an admin token so every upload reaches the checks."""
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("plan-fuzz"),
                           secret_key="fuzz-secret-0123456789abcdef")
    store = SqliteStore(settings.database_path)
    store.import_building(BUILDING)
    accounts.ensure_schema(store.db)
    token = accounts.create_api_token(store.db, "fuzz-admin", role="admin")
    with TestClient(create_app(settings, store)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    store.close()


def _checked(data: bytes) -> None:
    """check_plan either accepts or raises PlanRejected with a message and a 4xx status."""
    try:
        plan = check_plan(data)
    except PlanRejected as exc:
        assert str(exc) and 400 <= exc.http_status < 500
        return
    assert plan.width > 0 and plan.height > 0
    if plan.content_type == "image/svg+xml":
        lowered = data.lower()
        assert b"<script" not in lowered and b"foreignobject" not in lowered


@budget(400, 20000)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_accepted_or_refused_never_raise(data: bytes) -> None:
    _checked(data)


@budget(300, 20000)
@given(st.binary(max_size=2048))
def test_bytes_after_a_png_signature_never_raise(tail: bytes) -> None:
    _checked(b"\x89PNG\r\n\x1a\n" + tail)


@budget(300, 20000)
@given(st.lists(st.tuples(st.integers(0, len(VALID_PNG) - 1), st.integers(0, 255)),
                min_size=1, max_size=8),
       st.integers(8, len(VALID_PNG)))
def test_a_mutated_or_cut_png_never_raises(flips: list[tuple[int, int]], keep: int) -> None:
    data = bytearray(VALID_PNG)
    for index, value in flips:
        data[index] = value
    _checked(bytes(data[:keep]))


NAMES = st.sampled_from(["rect", "g", "path", "text", "style", "image", "use", "a", "set",
                         "script", "foreignObject", "iframe", "SCRIPT", "animate", "title"])
ATTRS = st.sampled_from(["x", "href", "xlink:href", "style", "fill", "onload", "ONCLICK",
                         "attributeName", "to", "values"])
VALUES = st.sampled_from(["1", "#a", "url(#g)", "url(http://x/y)", "javascript:alert(1)",
                          "java\tscript:x", "data:image/png;base64,AAAA", "//evil/x",
                          "data:text/html,<b>", "href", "onclick", "@import 'x'", "&amp;",
                          "expression(x)"])


def _unsafe_attribute(element: str, key: str, value: str) -> bool:
    """The generator's own label, written independently of hub.building.floor_plan."""
    k, v = key.lower(), re.sub(r"\s", "", value).lower()
    return (k.startswith("on") or "javascript:" in v
            or (k in ("href", "xlink:href") and not v.startswith(("#", "data:image/png")))
            or ("url(" in v and "url(#" not in v)
            or (k == "style" and "@import" in v)
            or (element.lower() in ("set", "animate") and k == "attributename"
                and (v.endswith("href") or v.startswith("on"))))


@st.composite
def svgs(draw: st.DrawFn) -> tuple[bytes, bool]:
    """Random SVG documents built from safe and unsafe parts, and whether any is unsafe."""
    parts, unsafe = [], False
    for _ in range(draw(st.integers(0, 6))):
        name = draw(NAMES)
        unsafe |= name.lower() in ("script", "foreignobject", "iframe")
        pairs = [(draw(ATTRS), draw(VALUES)) for _ in range(draw(st.integers(0, 3)))]
        unsafe |= any(_unsafe_attribute(name, k, v) for k, v in pairs)
        body = draw(st.sampled_from(["", "x", "@import url(http://e/x.css);", "a{fill:red}",
                                     "a{fill:url(#g)}", "a{fill:url(http://e/p)}"])
                    ) if name == "style" else ""
        unsafe |= "@import" in body or "url(http" in body
        attrs = " ".join(f'{k}="{v}"' for k, v in pairs)
        parts.append(f"<{name} {attrs}>{body}</{name}>")
    document = SVG_HEAD + b' viewBox="0 0 10 10">' + "".join(parts).encode() + b"</svg>"
    return document, unsafe


@budget(300, 20000)
@given(svgs())
def test_a_random_svg_is_accepted_only_if_nothing_in_it_is_unsafe(
    case: tuple[bytes, bool]
) -> None:
    data, unsafe = case
    try:
        check_plan(data)
    except PlanRejected as exc:
        assert exc.http_status == 400 and str(exc).startswith("the SVG")
        return
    assert not unsafe, data


@budget(60, 2000)
@given(st.one_of(st.binary(max_size=1024), svgs().map(lambda case: case[0]),
                 st.binary(max_size=512).map(lambda b: b"\x89PNG\r\n\x1a\n" + b)),
       st.sampled_from(["image/png", "image/svg+xml", "application/octet-stream", "text/x"]))
def test_the_upload_route_never_answers_5xx(upload: TestClient, data: bytes, kind: str
                                            ) -> None:
    response = upload.put("/api/v1/sites/hq/floors/hq-f1/plan", content=data,
                          headers={"Content-Type": kind})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["detail"]


@budget(300, 20000)
@given(st.binary(max_size=2048))
def test_building_csv_bytes_never_raise(data: bytes) -> None:
    rows, errors = parse_building_csv(data)
    assert all(isinstance(line, int) and reason for line, reason in errors)
    assert all(row.x is None or 0 <= row.x <= 1 for row in rows)


@budget(60, 2000)
@given(st.one_of(st.binary(max_size=1024),
                 st.text(max_size=400).map(
                     lambda t: ("site,floor,zone,desk,name,x,y,agent,assigned\n" + t).encode())))
def test_the_import_route_never_answers_5xx(upload: TestClient, data: bytes) -> None:
    response = upload.post("/api/v1/building/import?dry_run=true", content=data,
                           headers={"Content-Type": "text/csv"})
    assert response.status_code in (200, 422), response.text


def test_constructor_operations_never_answer_5xx_for_an_admin(
    tmp_path_factory: pytest.TempPathFactory
) -> None:
    """schemathesis on the constructor's operations (tag "building") with an administrator's
    token, so that generated input reaches the edits, not just the role check."""
    settings = HubSettings(data_dir=tmp_path_factory.mktemp("constructor-fuzz"),
                           secret_key="fuzz-secret-0123456789abcdef")
    store = SqliteStore(settings.database_path)
    try:
        store.import_building(BUILDING)
        accounts.ensure_schema(store.db)
        token = accounts.create_api_token(store.db, "fuzz-admin", role="admin")
        schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings, store))
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        failures, operations = [], 0
        for result in schema.get_all_operations():
            operation: Any = result.ok()  # type: ignore[union-attr]
            if "building" not in (operation.tags or []):
                continue
            operations += 1
            cases = (operation.as_strategy(GenerationMode.POSITIVE)
                     | operation.as_strategy(GenerationMode.NEGATIVE))

            @budget(short=15, long=500)
            @given(case=cases)
            def call(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=[not_a_server_error])

            try:
                call()
            except Exception as exc:  # noqa: BLE001 (collected, reported below)
                failures.append(f"{operation.label}: {type(exc).__name__}: {exc}")
        assert operations >= 18
        assert failures == []
    finally:
        store.close()
