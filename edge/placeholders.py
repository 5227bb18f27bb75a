"""The values people paste from examples instead of a secret, refused by both configs.

One list for the agent's ``mqtt.password`` (edge/config.py) and the hub's ``secret_key``
and ``mqtt_password`` (hub/config.py): a word refused on one machine is refused on the
other. It lives in edge/ because the hub may import the edge, never the reverse.
"""

from __future__ import annotations

PLACEHOLDER_SECRETS = frozenset({
    "", "admin", "change-me", "change_me", "changeme", "default", "deskpulse", "example",
    "insecure", "mqtt", "password", "placeholder", "replace-me", "replaceme", "secret",
    "secret-key", "secretkey", "test", "todo", "xxx", "your-secret-key",
})


def is_placeholder(value: str) -> bool:
    """True when ``value``, trimmed and lower-cased, is one of the example values."""
    return value.strip().lower() in PLACEHOLDER_SECRETS
