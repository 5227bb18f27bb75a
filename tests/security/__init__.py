"""Security tests: real Mosquitto with the deploy/ configuration, provisioning, TLS."""
