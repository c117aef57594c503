"""ASGI entry point for running the API under any server or with several processes:
`uvicorn --factory dropbridge.api.asgi:build --workers 4` (configuration from the environment)."""

from __future__ import annotations


def build():
    from dropbridge.bootstrap import bootstrap, configure_logging

    from .app import create_app

    built = bootstrap()
    configure_logging(built.settings.log_level)
    return create_app(built)
