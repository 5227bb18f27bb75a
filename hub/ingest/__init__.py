"""MQTT ingest: the client, the fast decoder, the ingestor and agent liveness."""
