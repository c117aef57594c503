"""A correctly signed webhook whose payload our mapping refuses is a permanent failure: one attempt, the
event marked failed, one alert naming the event; nothing stored from it. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from dropbridge.connectors.stores.headless.webhooks import signed_headers
from dropbridge.domain.errors import UnprocessableEvent, ValidationError, is_permanent
from dropbridge.domain.model import Alert, Job, Order, WebhookEvent
from dropbridge.jobs.runner import run_job
from dropbridge.services.connections import add_store
from dropbridge.services.inbound_events import receive_webhook


@pytest.fixture
def shop(app):
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9", {"webhook_secret": "s"})
    app.ctx.enqueue = lambda job_id, delay=0: None  # the test runs the job itself
    app.ctx.enqueue_many = None
    return app


def deliver(app, event_id: str, body: bytes) -> None:
    headers = signed_headers("s", "order.created", event_id, body, int(time.time()))
    assert receive_webhook(app.ctx, "store", "shop", headers, body, "headless") == "accepted"


def only_job(app) -> Job:
    with app.ctx.uow(read_only=True) as uow:
        return uow.session.scalars(select(Job).where(Job.kind == "process_webhook")).one()


@pytest.mark.parametrize("body,refusal", [
    (b"[1, 2]", "order must be a JSON object"),
    (json.dumps({"currency": "USD", "lines": []}).encode(), "external_id is required"),
    (json.dumps({"external_id": "o-1", "currency": "USD", "lines": [{"sku": "A", "quantity": 1}],
                 "ship_to": {"name": "J", "address1": "1 Main", "city": "X", "country_code": "US"}}).encode(),
     "unit_price is required"),
])
def test_a_payload_our_mapping_refuses_fails_once_with_an_alert_naming_the_event(shop, body, refusal):
    app = shop
    deliver(app, "evt-42", body)
    job = only_job(app)
    assert run_job(app.ctx, job.id) == "failed"
    assert run_job(app.ctx, job.id) == "not claimable"  # nothing left to retry
    with app.ctx.uow(read_only=True) as uow:
        job = uow.get(Job, job.id)
        alerts = uow.session.scalars(select(Alert)).all()
        event = uow.session.scalars(select(WebhookEvent)).one()
        orders = uow.session.scalar(select(func.count()).select_from(Order))
    assert (job.status, job.attempts) == ("failed", 1)
    assert [a.kind for a in alerts] == ["job.failed"]
    assert "webhook store:shop event 'evt-42' (order.created): payload refused" in alerts[0].message
    assert refusal in alerts[0].message
    assert (event.status, event.processed_at is not None) == ("failed", True)
    assert orders == 0


def test_a_refused_event_redelivered_is_still_a_duplicate(shop):
    app = shop
    deliver(app, "evt-bad", b"[]")
    assert run_job(app.ctx, only_job(app).id) == "failed"
    headers = signed_headers("s", "order.created", "evt-bad", b"[]", int(time.time()))
    assert receive_webhook(app.ctx, "store", "shop", headers, b"[]", "headless") == "duplicate"
    with app.ctx.uow(read_only=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Job)) == 1


def test_mapping_refusals_are_classified_permanent():
    assert is_permanent(UnprocessableEvent("x"))
    assert not is_permanent(ValidationError("x"))  # only a refused event payload is made permanent here
