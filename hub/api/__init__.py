"""The hub's HTTP API and dashboard: `hub.api.app.create_app(settings, store)`."""
