"""API tests: FastAPI TestClient over a real SQLite store."""
