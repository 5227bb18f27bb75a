"""`deskpulse demo`: a local broker, the simulated building and its people. A composition root:
nothing imports it but hub.cli."""
