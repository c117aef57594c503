"""ASGI entry point for running the API under any server or with several processes:
`uvicorn --factory dropbridge.api.asgi:build --workers 4` (configuration from the environment)."""

from __future__ import annotations

import gc


def build():
    from dropbridge.bootstrap import bootstrap, configure_logging

    from .app import create_app

    built = bootstrap()
    configure_logging(built.settings.log_level or "INFO")
    app = create_app(built)
    # Everything loaded so far lives as long as the process: keep it out of the collector's full passes,
    # which otherwise walk it all every so often and stall every request in flight.
    gc.collect()
    gc.freeze()
    return app
