"""Inbound webhooks from stores and suppliers: verify, store raw, de-duplicate, process in a job.

Events are at-least-once and unordered; the (source, event id) unique key makes a re-delivery a no-op."""

from __future__ import annotations

import json

from dropbridge.connectors.base import InboundEvent
from dropbridge.domain.errors import WebhookRejected
from dropbridge.domain.model import WebhookEvent

from .cancel_order import cancel_order
from .ingest_order import ingest_order
from .record_shipment import record_shipment
from .records import audit, schedule

KEEP_HEADERS = ("content-type", "user-agent", "x-event-id", "x-timestamp", "x-shopify-topic", "x-shopify-event-id",
                "x-shopify-webhook-id", "x-shopify-triggered-at", "x-wc-webhook-topic", "x-wc-webhook-delivery-id",
                "webhook-id", "webhook-timestamp", "x-dropbridge-event", "x-dropbridge-delivery")


def receive_webhook(ctx, kind: str, name: str, headers: dict, raw_body: bytes, platform: str | None = None) -> str:
    """Returns "accepted" or "duplicate"; raises WebhookRejected (nothing stored) when verification fails."""
    with ctx.uow(read_only=True) as uow:
        record = uow.suppliers.by_name(name) if kind == "supplier" else uow.stores.by_name(name)
    if record is None or (platform and getattr(record, "platform", None) != platform):
        raise WebhookRejected(f"unknown {kind} {name!r}", status=404)
    connector = ctx.supplier_connector(record) if kind == "supplier" else ctx.store_connector(record)
    event = connector.verify_webhook(headers, raw_body)
    source = f"{kind}:{name}"
    with ctx.uow() as uow:
        stored = WebhookEvent(source=source, event_id=str(event.event_id), topic=event.topic or "",
                              headers={k: v for k, v in headers.items() if k.lower() in KEEP_HEADERS},
                              raw_body=raw_body, received_at=ctx.clock())
        if not uow.events.add_if_new(stored):
            return "duplicate"
        uow.flush()
        schedule(uow, ctx, "process_webhook", f"webhook:{stored.id}", {"event_id": stored.id})
        uow.commit()
    return "accepted"


def process_webhook(ctx, stored_id: int) -> str:
    with ctx.uow(read_only=True) as uow:
        stored = uow.get(WebhookEvent, stored_id)
        kind, name = stored.source.split(":", 1)
        record = uow.suppliers.by_name(name) if kind == "supplier" else uow.stores.by_name(name)
        payload = json.loads(stored.raw_body) if stored.raw_body else None
        event = InboundEvent(event_id=stored.event_id, topic=stored.topic, payload=payload)
    if kind == "supplier":
        updates = ctx.supplier_connector(record).tracking_from_event(event)
        outcome = f"{sum(record_shipment(ctx, record.id, u) is not None for u in updates)} shipments"
    else:
        order = ctx.store_connector(record).order_from_event(event)
        if order is None:
            outcome = "not an order event"
        elif order.cancelled:
            known = _known_order(ctx, name, order.external_id)
            outcome = cancel_order(ctx, known, "cancelled in the store") if known else "cancelled before we saw it"
        else:
            result = ingest_order(ctx, name, order, source=f"webhook:{event.topic}")
            outcome = "order created" if result.created else "order already known"
    with ctx.uow() as uow:
        stored = uow.get(WebhookEvent, stored_id)
        stored.status = "processed"
        stored.processed_at = ctx.clock()
        audit(uow, ctx, "webhook.processed", f"webhook:{stored_id}", {"source": stored.source, "topic": stored.topic,
                                                                       "outcome": outcome})
        uow.commit()
    return outcome


def _known_order(ctx, store_name: str, external_id: str) -> int | None:
    with ctx.uow(read_only=True) as uow:
        store = uow.stores.by_name(store_name)
        found = uow.orders.by_external_id(store.id, external_id)
        return found.id if found else None
