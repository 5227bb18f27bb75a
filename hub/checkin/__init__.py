"""Voluntary check-in: signed single-use tokens, desk QR labels, check-in/out service."""
