"""Simulated buildings, people and sensors that drive real Deskpulse edge agents."""
