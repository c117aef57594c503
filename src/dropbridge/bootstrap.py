"""The composition root: builds the engine, unit of work, vault, connector registry, clock and queue.
Nothing connects anywhere at import time; call `bootstrap()`."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import structlog
from huey import Huey
from sqlalchemy import Engine

from .config import Settings
from .connectors.formats.feeds.codec import FeedCodec
from .connectors.kit.feed_download import HttpFeedDownloader
from .connectors.kit.images import Images
from .connectors.registry import Registry
from .domain.errors import ConfigurationError
from .fileperms import private_dir
from .jobs.queue import build_huey, register_tasks
from .secrets import Vault, load_keys
from .services.context import Context
from .storage.control_numbers import SqlControlNumbers
from .storage.db import count_encrypted_credentials, make_engine
from .storage.mapping import map_domain
from .storage.uow import UnitOfWorkFactory


@dataclass
class App:
    settings: Settings
    engine: Engine
    ctx: Context
    huey: Huey

    def close(self) -> None:
        self.engine.dispose()


# Third-party HTTP clients log every request URL at INFO/DEBUG, WooCommerce's query-string credentials
# included: they stay at WARNING whatever our own level is.
HTTP_LOGGERS = ("httpx", "httpcore", "urllib3", "hpack")


class _RedactingFilter(logging.Filter):
    """Credentials out of any URL in a log record (see services/redaction.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .services.redaction import redact_text

        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _redact_event(_logger, _name, event_dict):
    from .services.redaction import redact_text

    return {k: redact_text(v) if isinstance(v, str) else v for k, v in event_dict.items()}


def configure_logging(level: str = "INFO") -> None:
    """Logs go to standard error (command output owns standard output), URLs in them redacted."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(level=numeric, format="%(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(numeric)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _RedactingFilter) for f in handler.filters):
            handler.addFilter(_RedactingFilter())
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if numeric > logging.DEBUG:  # their INFO chatter buries ours
        for noisy in ("alembic", "huey", "uvicorn.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso"), _redact_event,
                    structlog.dev.ConsoleRenderer(colors=False)],
    )


def bootstrap(settings: Settings | None = None) -> App:
    settings = settings or Settings()
    private_dir(settings.data_dir)  # 0700: databases, raw webhooks and the key file live here
    map_domain()
    engine = make_engine(settings.resolved_database_url)
    encrypted = 0
    if not settings.secret_keys and not settings.secret_keys_file.exists():
        encrypted = count_encrypted_credentials(engine)  # a lost key file must stop us, not be replaced
    try:
        vault = Vault(load_keys(settings.secret_keys, settings.secret_keys_file, encrypted_exist=encrypted))
    except ConfigurationError:
        engine.dispose()
        raise
    ctx = Context(uow=UnitOfWorkFactory(engine), vault=vault, connectors=Registry.default(), settings=settings,
                  feeds=FeedCodec(), downloads=HttpFeedDownloader(settings), images=Images(settings),
                  control_numbers=SqlControlNumbers(engine))
    from .connectors.kit.alert_channels import build_alert_channels

    ctx.alert_channels = build_alert_channels(settings)
    huey = build_huey(settings.resolved_queue_url)
    register_tasks(huey, ctx)
    return App(settings=settings, engine=engine, ctx=ctx, huey=huey)
