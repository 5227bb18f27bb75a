"""Plain helper modules shared by the test directories (no fixtures, no tests: fixtures live
in tests/conftest.py, and test modules import helpers from here, never from each other)."""
