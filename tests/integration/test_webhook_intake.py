"""Webhook intake's group commit on real SQLite and PostgreSQL: a batch of deliveries, each answered as it
would have been alone, the verified stored once with their processing jobs."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import text

from dropbridge.connectors.stores.headless.webhooks import signed_headers
from dropbridge.domain.errors import WebhookRejected
from dropbridge.services.connections import add_store
from dropbridge.services.inbound_events import WebhookDelivery, receive_webhook, receive_webhooks


@pytest.fixture
def shop(app):
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9", {"webhook_secret": "s"})
    enqueued = []
    app.ctx.enqueue = lambda job_id, delay=0: enqueued.append(job_id)
    app.ctx.enqueue_many = None
    return app, enqueued


def delivery(delivery_id: str, secret: str = "s", store: str = "shop") -> WebhookDelivery:
    body = json.dumps({"external_id": delivery_id, "currency": "USD", "lines": []}).encode()
    return WebhookDelivery("store", store, signed_headers(secret, "order.created", delivery_id, body,
                                                          int(time.time())), body, "headless")


def stored(app) -> dict[str, list]:
    with app.ctx.uow(read_only=True) as uow:
        events = uow.session.execute(text(
            "SELECT e.event_id, j.kind, j.status FROM webhook_events e "
            "LEFT JOIN jobs j ON j.key = 'webhook:' || e.id ORDER BY e.event_id")).all()
    return {event_id: [kind, status] for event_id, kind, status in events}


def test_a_batch_answers_each_delivery_as_alone_and_stores_the_new_ones_once(shop):
    app, enqueued = shop
    d1 = delivery("d-1")
    assert receive_webhook(app.ctx, "store", "shop", d1.headers, d1.raw_body, "headless") == "accepted"
    results = receive_webhooks(app.ctx, [
        delivery("d-2"),
        delivery("d-3", secret="forged"),
        delivery("d-2"),  # the same event again within the batch
        delivery("d-4", store="elsewhere"),
        d1,  # re-delivered after it was stored
        delivery("d-5"),
    ])
    assert results[0] == "accepted" and results[5] == "accepted"
    assert results[2] == "duplicate" and results[4] == "duplicate"
    assert isinstance(results[1], WebhookRejected) and "signature" in str(results[1])
    assert isinstance(results[3], WebhookRejected) and results[3].status == 404
    assert stored(app) == {f"d-{n}": ["process_webhook", "pending"] for n in (1, 2, 5)}
    assert len(enqueued) == 3


def test_a_failed_batch_is_stored_event_by_event(shop, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from dropbridge.storage.intake import WebhookIntakeRepo

    app, enqueued = shop
    original = WebhookIntakeRepo.add_new_events

    def refuse_batches(self, rows):
        if len(rows) > 1:
            raise OperationalError("INSERT ...", {}, Exception("deadlock detected"))
        return original(self, rows)

    monkeypatch.setattr(WebhookIntakeRepo, "add_new_events", refuse_batches)
    results = receive_webhooks(app.ctx, [delivery(f"f-{n}") for n in range(3)] + [delivery("f-0")])
    assert results == ["accepted", "accepted", "accepted", "duplicate"]
    assert sorted(stored(app)) == ["f-0", "f-1", "f-2"]
    assert len(enqueued) == 3
