"""The composition root: builds the engine, unit of work, vault, connector registry, clock and queue.
Nothing connects anywhere at import time; call `bootstrap()`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import structlog
from huey import Huey
from sqlalchemy import Engine

from .config import Settings
from .connectors.formats.feeds.codec import FeedCodec
from .connectors.registry import Registry
from .jobs.queue import build_huey, register_tasks
from .secrets import Vault, load_keys
from .services.context import Context
from .storage.control_numbers import SqlControlNumbers
from .storage.db import make_engine
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


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format="%(message)s")
    if level.upper() != "DEBUG":  # their INFO chatter buries ours
        for noisy in ("alembic", "huey", "httpx", "uvicorn.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso"), structlog.dev.ConsoleRenderer(colors=False)],
    )


def bootstrap(settings: Settings | None = None) -> App:
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    map_domain()
    engine = make_engine(settings.resolved_database_url)
    vault = Vault(load_keys(settings.secret_keys, settings.secret_keys_file))
    ctx = Context(uow=UnitOfWorkFactory(engine), vault=vault, connectors=Registry.default(), settings=settings,
                  feeds=FeedCodec(), control_numbers=SqlControlNumbers(engine))
    from .connectors.kit.alert_channels import build_alert_channels

    ctx.alert_channels = build_alert_channels(settings)
    huey = build_huey(settings.resolved_queue_url)
    register_tasks(huey, ctx)
    return App(settings=settings, engine=engine, ctx=ctx, huey=huey)
