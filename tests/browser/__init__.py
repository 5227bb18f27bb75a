"""Browser tests: a real headless Chromium against a real uvicorn server."""
