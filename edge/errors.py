"""The one small error hierarchy. Entry points turn these into one clear line.

Each class carries ``http_status``: the status the hub answers with when the error ends an
HTTP request (hub/api/errors.py maps every class through this one attribute, so a new
error class says its status where it is defined). The edge serves no HTTP; its classes
only inherit the default.
"""

class DeskpulseError(Exception):
    """Base class of every error Deskpulse raises on purpose."""

    http_status: int = 400  # a request the hub refuses, unless a class says more


class ProtocolError(DeskpulseError):
    """A message does not follow wire protocol v1; the text says why."""


class ConfigError(DeskpulseError):
    """A configuration file or value is invalid; the text says which and how to fix it."""

    http_status = 500  # the hub's own configuration: not the caller's fault


class OutboxError(DeskpulseError):
    """The edge outbox cannot store a message."""

    http_status = 500
