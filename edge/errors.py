"""The one small error hierarchy. Entry points turn these into one clear line."""


class DeskpulseError(Exception):
    """Base class of every error Deskpulse raises on purpose."""


class ProtocolError(DeskpulseError):
    """A message does not follow wire protocol v1; the text says why."""


class ConfigError(DeskpulseError):
    """A configuration file or value is invalid; the text says which and how to fix it."""


class OutboxError(DeskpulseError):
    """The edge outbox cannot store a message."""
