"""Connectors: one package per platform; the services see only the protocols in `base`."""
