"""The hub's errors: the shared hierarchy from ``edge.errors`` plus two of the hub's own."""

from edge.errors import ConfigError, DeskpulseError, ProtocolError

__all__ = ["ConfigError", "DeskpulseError", "NotFound", "ProtocolError", "StoreError"]


class NotFound(DeskpulseError):
    """A site, desk, zone or agent the caller named does not exist."""

    http_status = 404


class StoreError(DeskpulseError):
    """The database cannot do what was asked (schema, consistency, configuration)."""

    http_status = 503  # the store is closed or broken: retry later
