"""Raw webhook bodies are kept DROPBRIDGE_WEBHOOK_RETENTION_DAYS: the purge job clears the body and headers of
events finished before then and keeps the row, so a late re-delivery is still a duplicate. SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dropbridge.connectors.stores.headless.webhooks import signed_headers
from dropbridge.domain.model import AuditEvent, WebhookEvent
from dropbridge.jobs.queue import build_huey, register_tasks
from dropbridge.services.connections import add_store
from dropbridge.services.inbound_events import receive_webhook
from dropbridge.services.retention import purge_webhook_bodies
from dropbridge.storage import tables as t


@pytest.fixture
def shop(app):
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9", {"webhook_secret": "s"})
    app.ctx.enqueue = lambda job_id, delay=0: None
    app.ctx.enqueue_many = None
    return app


def deliver(app, event_id: str) -> bytes:
    body = json.dumps({"external_id": event_id, "currency": "USD", "email": "jane@example.com"}).encode()
    headers = signed_headers("s", "order.created", event_id, body, int(time.time()))
    assert receive_webhook(app.ctx, "store", "shop", headers, body, "headless") == "accepted"
    return body


def set_event(app, event_id: str, **values) -> None:
    with app.ctx.uow() as uow:
        uow.session.execute(update(t.webhook_events).where(t.webhook_events.c.event_id == event_id).values(**values))
        uow.commit()


def events(app) -> dict[str, tuple[bytes, dict, str]]:
    with app.ctx.uow(read_only=True) as uow:
        return {e.event_id: (bytes(e.raw_body), e.headers, e.status)
                for e in uow.session.scalars(select(WebhookEvent))}


def test_bodies_of_finished_events_past_retention_are_cleared_rows_kept(shop):
    app = shop
    now = app.ctx.clock()
    bodies = {name: deliver(app, name) for name in ("old-done", "old-failed", "old-open", "new-done")}
    set_event(app, "old-done", status="processed", processed_at=now - timedelta(days=31))
    set_event(app, "old-failed", status="failed", processed_at=now - timedelta(days=45))
    set_event(app, "old-open", received_at=now - timedelta(days=60))  # never processed: still needed
    set_event(app, "new-done", status="processed", processed_at=now - timedelta(days=29))

    assert app.settings.webhook_retention_days == 30
    assert purge_webhook_bodies(app.ctx) == 2
    after = events(app)
    assert after["old-done"] == (b"", {}, "processed")
    assert after["old-failed"] == (b"", {}, "failed")
    assert after["old-open"][0] == bodies["old-open"] and after["old-open"][1]
    assert after["new-done"][0] == bodies["new-done"] and after["new-done"][1]
    assert purge_webhook_bodies(app.ctx) == 0  # cleared once
    # The row keeps de-duplicating: the same event delivered again is not stored or processed again.
    body = bodies["old-done"]
    headers = signed_headers("s", "order.created", "old-done", body, int(time.time()))
    assert receive_webhook(app.ctx, "store", "shop", headers, body, "headless") == "duplicate"
    assert events(app)["old-done"] == (b"", {}, "processed")
    with app.ctx.uow(read_only=True) as uow:
        purged = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "webhooks.purged")).all()
    assert [a.detail["cleared"] for a in purged] == [2]


def test_retention_is_a_setting(shop):
    app = shop
    deliver(app, "e-1")
    set_event(app, "e-1", status="processed", processed_at=app.ctx.clock() - timedelta(days=3))
    app.settings.webhook_retention_days = 7
    assert purge_webhook_bodies(app.ctx) == 0
    app.settings.webhook_retention_days = 2
    assert purge_webhook_bodies(app.ctx) == 1


def test_the_scheduler_runs_the_purge(app):
    huey = build_huey("memory://")
    register_tasks(huey, app.ctx)
    assert huey.dropbridge_periodic["webhook_purge_seconds"].name == "dropbridge.purge_webhooks"
    assert huey.dropbridge_periodic["stock_reconcile_seconds"].name == "dropbridge.reconcile_stock"
    assert app.settings.webhook_purge_seconds == 3600
