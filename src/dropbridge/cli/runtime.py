"""Builds the application for a command: settings, logging, bootstrap, migrations."""

from __future__ import annotations


def load_app(migrate: bool = True, log_level: str = "WARNING"):
    """`log_level` is the command's default (DROPBRIDGE_LOG_LEVEL wins): the long-running ones log INFO; the
    others stay quiet so that only their own output reaches standard output (logs go to standard error)."""
    from dropbridge.bootstrap import bootstrap, configure_logging
    from dropbridge.config import Settings

    settings = Settings()
    configure_logging(settings.log_level or log_level)
    built = bootstrap(settings)
    if migrate:
        from dropbridge.storage.migrate import upgrade

        upgrade(built.engine)
    return built



def person_ctx():
    """The app's context with the person at the terminal as the actor the audit trail records."""
    import dataclasses
    import getpass

    try:
        who = getpass.getuser()
    except (OSError, KeyError):
        who = "unknown"
    return dataclasses.replace(load_app().ctx, actor=f"cli:{who}")
