"""The ``deskpulse`` console script: ``deskpulse edge ...`` without loading any hub code.

A Pi installs ``deskpulse[edge]`` only (no fastapi, pydantic, sqlite-utils...), so the
script's entry point lives in edge/: ``edge`` goes straight to :mod:`edge.cli`, every
other command to :mod:`hub.cli`, imported only then. A command whose third-party module is
missing (the hub on a Pi, a camera without ``[camera]``) ends with one line naming the
extra to install instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# Top-level module -> the pyproject extra that installs it (tests/edge/test_lean_import.py
# checks every entry against pyproject.toml).
EXTRA_OF_MODULE = {
    "amqtt": "hub", "argon2": "hub", "cryptography": "hub", "fastapi": "hub", "jinja2": "hub",
    "multipart": "hub", "orjson": "hub", "PIL": "hub", "platformdirs": "hub",
    "pydantic": "hub", "pydantic_settings": "hub", "python_multipart": "hub", "qrcode": "hub",
    "rich": "hub", "sqlite_utils": "hub", "starlette": "hub", "swagger_ui_bundle": "hub",
    "uvicorn": "hub",
    "bleak": "edge", "gpiozero": "edge", "smbus2": "edge",
    "cv2": "camera", "zxingcpp": "camera",
    "psycopg": "postgres", "psycopg_pool": "postgres",
}


def missing_extra_message(command: str, exc: ModuleNotFoundError) -> str | None:
    """The one line for a module of an extra that is not installed; None for any other
    missing module (a real bug, left to raise)."""
    name = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(name)
    if extra is None:
        return None
    if command.split()[0] in ("demo", "sim"):  # the simulator needs all of them at once
        extra = "demo"
    return (f"error: `deskpulse {command}` needs the [{extra}] extra (no module '{name}'): "
            f"pip install 'deskpulse[{extra}]'")


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(words[:2]) if words else "--help"
    module = "edge.cli" if words[:1] == ["edge"] else "hub.cli"
    try:
        cli = importlib.import_module(module)
        code: int = cli.main(words[1:] if module == "edge.cli" else words)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(command, exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
