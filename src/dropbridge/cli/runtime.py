"""Builds the application for a command: settings, logging, bootstrap, migrations."""

from __future__ import annotations


def load_app(migrate: bool = True):
    from dropbridge.bootstrap import bootstrap, configure_logging
    from dropbridge.config import Settings

    settings = Settings()
    configure_logging(settings.log_level)
    built = bootstrap(settings)
    if migrate:
        from dropbridge.storage.migrate import upgrade

        upgrade(built.engine)
    return built

