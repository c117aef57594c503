"""One Settings class, read at startup from DROPBRIDGE_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "dropbridge"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DROPBRIDGE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None  # default: SQLite file in data_dir
    queue_url: str | None = None  # default: SQLite beside it; redis://... for scaled deployments
    secret_keys: str | None = None  # comma-separated Fernet keys, newest first

    http_timeout_seconds: float = 15.0
    job_lease_seconds: float = 60.0  # a claimed job is presumed lost after this; must exceed the HTTP timeout
    job_max_attempts: int = 8
    job_backoff_base_seconds: float = 2.0
    job_backoff_max_seconds: float = 600.0
    sweep_interval_seconds: float = 5.0  # how often the sweeper re-enqueues due or abandoned work
    tracking_poll_seconds: float = 60.0  # how often open supplier orders are polled for tracking
    order_pull_seconds: float = 300.0  # how often each store's recent orders are read (missed webhooks)
    feed_check_seconds: float = 60.0  # how often supplier feed URLs are checked against their own interval
    catalog_check_seconds: float = 60.0  # how often API suppliers are checked against catalog_interval_seconds
    inbox_poll_seconds: float = 60.0  # how often supplier mailboxes (and folders) are read for replies
    overdue_check_seconds: float = 300.0  # how often unconfirmed and unplaced supplier orders are checked
    worker_threads: int = 4
    # Fetch product images from loopback and private addresses too (a supplier on the same network; tests).
    images_allow_private_hosts: bool = False
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.job_lease_seconds <= self.http_timeout_seconds:
            raise ValueError(
                "DROPBRIDGE_JOB_LEASE_SECONDS must exceed DROPBRIDGE_HTTP_TIMEOUT_SECONDS, or a slow call "
                "could be taken over by another worker while still in flight"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'dropbridge.db'}"

    @property
    def resolved_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{self.data_dir / 'queue.db'}"

    @property
    def secret_keys_file(self) -> Path:
        return self.data_dir / "secret.keys"
