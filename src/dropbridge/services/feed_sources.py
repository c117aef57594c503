"""Feeds a supplier publishes at a URL: fetched on a schedule with conditional requests, so an unchanged
file costs one 304 and no parse.

State lives in the supplier's config JSON, no table of its own:

    config["feed_source"] = {"url": "https://...", "interval_seconds": 3600, "mode": "full",
                             "etag": ..., "last_modified": ..., "last_checked_at": ISO-8601 UTC}

The validators (ETag, Last-Modified) are stored only after a run was applied: a quarantined or failed
file is fetched again in full next time rather than answered with 304 forever.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from dropbridge.domain.errors import ConfigurationError, NotFound

from .records import audit, log
from .redaction import redact_url
from .sync_feed import SyncOutcome, sync_feed

DEFAULT_INTERVAL_SECONDS = 3600


def _source(supplier) -> dict:
    src = (supplier.config or {}).get("feed_source") or {}
    if not src.get("url"):
        raise ConfigurationError(f"supplier {supplier.name!r} has no feed_source.url in its config")
    return dict(src)


def _save_source(ctx, supplier_name: str, **changes) -> None:
    with ctx.uow() as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        cfg = dict(supplier.config or {})
        cfg["feed_source"] = {**(cfg.get("feed_source") or {}), **changes}
        supplier.config = cfg  # a new dict, so the JSON column is seen as changed
        uow.commit()


def set_feed_url(ctx, supplier_name: str, url: str, interval_seconds: int | None = None) -> None:
    """Point a supplier at a feed URL (fetched on its interval by the scheduler). A new URL forgets the
    old validators, so its first fetch is a full one."""
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"a feed URL must be http(s): {url!r}")
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        current = (supplier.config or {}).get("feed_source") or {}
    changes: dict = {"url": url}
    if current.get("url") != url:
        changes.update(etag=None, last_modified=None)
    if interval_seconds is not None:
        changes["interval_seconds"] = interval_seconds
    _save_source(ctx, supplier_name, **changes)


def fetch_feed_url(ctx, supplier_name: str) -> SyncOutcome | None:
    """GET the supplier's feed URL conditionally (through `ctx.downloads`). 304: None (audited, nothing else
    changes). 200: the body is streamed to a temp file (never held in memory) and synced; returns the sync's
    outcome.

    The URL and every redirect hop must be public addresses (unless DROPBRIDGE_ALLOW_PRIVATE_HOSTS), and
    errors and alerts never quote what the remote server answered."""
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        src, supplier_id = _source(supplier), supplier.id
    url = src["url"]
    shown = redact_url(url)  # feed URLs often carry a key in their query
    checked_at = ctx.clock().isoformat()
    name = os.path.basename(urlsplit(url).path) or "feed"
    with tempfile.TemporaryFile() as body:
        got = ctx.downloads.download(url, body, what=f"feed {shown}", etag=src.get("etag"),
                                     last_modified=src.get("last_modified"))
        if got.not_modified:
            _save_source(ctx, supplier_name, last_checked_at=checked_at)
            with ctx.uow() as uow:
                audit(uow, ctx, "feed.not_modified", f"supplier:{supplier_name}", {"url": shown},
                      supplier_id=supplier_id)
                uow.commit()
            return None
        body.seek(0)
        outcome = sync_feed(ctx, supplier_name, body, name, mode=src.get("mode", "full"), remote=True)
    changes = {"last_checked_at": checked_at}
    if outcome.status == "applied":
        changes.update(etag=got.etag, last_modified=got.last_modified)
    _save_source(ctx, supplier_name, **changes)
    return outcome


def _alert_fetch_failed(ctx, supplier_name: str, exc: Exception) -> None:
    """A scheduled fetch that failed is the merchant's to know (the message never quotes the remote body)."""
    from .records import raise_alert

    with ctx.uow() as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        raise_alert(uow, ctx, "feed.fetch_failed", f"feed of {supplier_name} not fetched: {exc}", severity="error",
                    supplier_id=supplier.id if supplier else None)
        uow.commit()


def due_feed_sources(ctx, now: datetime) -> list[str]:
    """Names of suppliers with a feed URL whose interval has elapsed since the last check (or never checked)."""
    due = []
    with ctx.uow(read_only=True) as uow:
        for supplier in uow.suppliers.all():
            src = (supplier.config or {}).get("feed_source") or {}
            if not src.get("url"):
                continue
            last = src.get("last_checked_at")
            interval = timedelta(seconds=float(src.get("interval_seconds", DEFAULT_INTERVAL_SECONDS)))
            if last is None or now - datetime.fromisoformat(last) >= interval:
                due.append(supplier.name)
    return due


def fetch_due_feeds(ctx) -> dict[str, str]:
    """Fetch every supplier feed URL whose interval has passed; one failure does not stop the others."""
    out = {}
    for name in due_feed_sources(ctx, ctx.clock()):
        try:
            outcome = fetch_feed_url(ctx, name)
            out[name] = "not modified" if outcome is None else outcome.status
        except Exception as exc:  # noqa: BLE001 - reported, retried on the next interval
            out[name] = f"failed: {exc}"
            log.warning("feed fetch failed", supplier=name, error=str(exc))
            _alert_fetch_failed(ctx, name, exc)
    return out
