"""Deskpulse hub: ingest, store, aggregate, API and dashboard."""

__version__ = "0.1.0"
