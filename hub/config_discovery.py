"""Which hub.toml a ``deskpulse hub ...`` command reads, found the same way by every one:

1. ``--config FILE``;
2. else the ``DESKPULSE_CONFIG`` environment variable;
3. else the default location :data:`DEFAULT_CONFIG` (``/etc/deskpulse/hub.toml``), if it
   exists, and the command says on stderr that it uses it;
4. else settings from ``DESKPULSE_*`` variables alone (a container), but only when they
   name the store (``DESKPULSE_DATA_DIR``, ``DESKPULSE_DATABASE`` or
   ``DESKPULSE_DATABASE_URL``); otherwise a one-line error.

Without step 4's condition a command run without ``--config`` would quietly create a new
per-user database, and the agent or token it made would never appear in the running hub.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from hub.errors import ConfigError

DEFAULT_CONFIG = Path("/etc/deskpulse/hub.toml")
ENV_VAR = "DESKPULSE_CONFIG"
STORE_VARIABLES = ("DESKPULSE_DATA_DIR", "DESKPULSE_DATABASE", "DESKPULSE_DATABASE_URL")


def find(flag: Path | None, environ: Mapping[str, str] | None = None,
         default: Path | None = None) -> tuple[Path | None, str]:
    """``(config file or None, where it came from)``; ConfigError when there is none."""
    env = os.environ if environ is None else environ
    default = DEFAULT_CONFIG if default is None else default
    if flag is not None:
        return _existing(flag, "--config"), "--config"
    if env.get(ENV_VAR):
        return _existing(Path(env[ENV_VAR]), ENV_VAR), ENV_VAR
    if default.is_file():
        return default, "the default location"
    if any(env.get(name) for name in STORE_VARIABLES):
        return None, "DESKPULSE_* environment variables"
    raise ConfigError(f"no hub configuration found: pass --config FILE, set {ENV_VAR}=FILE, "
                      f"or install one at {default} (example: deploy/examples/hub.toml)")


def _existing(path: Path, source: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"config file {path} (from {source}) does not exist: check the "
                          "path, or copy deploy/examples/hub.toml there")
    return path
