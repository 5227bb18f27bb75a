"""Signing in through the real login form: the CSRF token from a page, the shared test
password and secret key."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, username: str, password: str) -> Any:
    form = client.get("/login")
    return client.post("/login", data={
        "username": username, "password": password, "csrf_token": csrf_from(form.text),
    })


SECRET = "checkin-tests-secret-0123456789"


PASSWORD = "a long test password"


def sign_in(client: TestClient, username: str) -> None:
    form = client.get("/login")
    response = client.post("/login", data={
        "username": username, "password": PASSWORD, "csrf_token": csrf_from(form.text),
    })
    assert response.status_code == 303, response.text
