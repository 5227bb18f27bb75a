"""Deskpulse edge agent: runs on the Pi, reads desk sensors, publishes anonymous occupancy."""

__version__ = "0.1.0"
