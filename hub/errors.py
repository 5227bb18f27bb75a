"""The hub's errors: the shared hierarchy from ``edge.errors`` plus two of the hub's own."""

from edge.errors import ConfigError, DeskpulseError, ProtocolError

__all__ = ["ConfigError", "DeskpulseError", "NotFound", "ProtocolError", "StoreError"]


class NotFound(DeskpulseError):
    """A site, desk, zone or agent the caller named does not exist."""


class StoreError(DeskpulseError):
    """The database cannot do what was asked (schema, consistency, configuration)."""
