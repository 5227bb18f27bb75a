"""Debian's Chromium and its flags, a real uvicorn server for an app, and the console that
collects a page's errors: what the browser tests share (the ``browser`` fixture is in
tests/browser/conftest.py)."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.broker import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by a real uvicorn on a free port, in a thread: its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        lifespan="off",
    ))
    thread = threading.Thread(target=server.run, name="browser-test-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Console:
    """Console errors and uncaught page errors (CSP violations are console errors)."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda msg: self.errors.append(msg.text)
                if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
