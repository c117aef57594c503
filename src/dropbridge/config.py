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
    job_batch_size: int = 100  # the most jobs of the order path (webhook, routing, placement) run as one batch
    job_backoff_base_seconds: float = 2.0
    job_backoff_max_seconds: float = 600.0
    sweep_interval_seconds: float = 5.0  # how often the sweeper re-enqueues due or abandoned work
    tracking_poll_seconds: float = 60.0  # how often open supplier orders are polled for tracking
    order_pull_seconds: float = 300.0  # how often each store's recent orders are read (missed webhooks)
    feed_check_seconds: float = 60.0  # how often supplier feed URLs are checked against their own interval
    catalog_check_seconds: float = 60.0  # how often API suppliers are checked against catalog_interval_seconds
    document_poll_seconds: float = 60.0  # how often suppliers' mailboxes (IMAP, SFTP, VAN folders) are collected
    deadline_check_seconds: float = 300.0  # how often sent orders are checked for overdue receipts and acks
    unpaid_check_seconds: float = 900.0  # how often supplier orders awaiting payment are checked
    unpaid_alert_hours: float = 24.0  # alert once an order has waited this long for payment (per supplier:
    # its `unpaid_alert_hours` config)
    stock_reconcile_seconds: float = 900.0  # how often every store's stock is compared with what we promise
    webhook_purge_seconds: float = 3600.0  # how often raw webhook bodies past their retention are cleared
    webhook_retention_days: float = Field(default=30.0, ge=0)  # raw bodies and headers of finished events
    # Decompressed size a feed may reach (XLSX: its XML parts); a bigger file is refused, naming the limit.
    feed_max_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    worker_threads: int = 4
    # An idle job thread polls an SQLite queue at growing intervals up to this (huey's default, 10 s, let a stock
    # push owed by a feed wait that long before it started); Redis queues block on the list instead.
    worker_poll_max_seconds: float = Field(default=0.5, gt=0)
    # Currency rates: the ECB reference CSV (or its zip) fetched from this URL every fx_import_seconds (and when
    # the scheduler starts); an order needing a rate older than fx_max_age_hours is held (alert fx.stale).
    fx_url: str | None = None
    fx_import_seconds: float = Field(default=86400.0, gt=0)
    fx_max_age_hours: float = Field(default=72.0, gt=0)
    # Fetch from loopback and private addresses too where merchant data steers the fetch (feed URLs, images):
    # a supplier on the same network; tests. The older name, for images only, still works and means the same.
    allow_private_hosts: bool = False
    images_allow_private_hosts: bool = False
    log_level: str | None = None  # default: INFO for serve and worker, WARNING for other commands
    # Request bodies: every endpoint's limit, and the larger one of feed uploads (spooled to disk as they arrive).
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(default=268_435_456, ge=1024)

    # Dashboard and alerts.
    public_url: str | None = None  # how people reach this dropbridge (links in alert emails)
    session_hours: float = 12.0  # a dashboard login lasts this long
    alert_check_seconds: float = 300.0  # how often low stock, stale feeds and late orders are checked
    low_stock_threshold: int = 5  # units to promise at or below which a listed SKU alerts (per-SKU overrides)
    tracking_late_minutes: float = 60.0  # tracking not at the store after this long alerts
    smtp_host: str | None = None  # email alerts: the SMTP server
    smtp_port: int = 587
    smtp_tls: str = "starttls"  # starttls | ssl | none
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "dropbridge@localhost"
    smtp_ca_file: str | None = None  # a CA bundle to trust instead of the system's (a private mail server)
    smtp_timeout_seconds: float = 15.0

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.job_lease_seconds <= self.http_timeout_seconds:
            raise ValueError(
                "DROPBRIDGE_JOB_LEASE_SECONDS must exceed DROPBRIDGE_HTTP_TIMEOUT_SECONDS, or a slow call "
                "could be taken over by another worker while still in flight"
            )
        return self

    @property
    def private_hosts_allowed(self) -> bool:
        return self.allow_private_hosts or self.images_allow_private_hosts

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'dropbridge.db'}"

    @property
    def resolved_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{self.data_dir / 'queue.db'}"

    @property
    def secret_keys_file(self) -> Path:
        return self.data_dir / "secret.keys"
