"""The inbox: everything stores and suppliers send us (webhooks, files from a server, emails, uploads) is
stored raw, de-duplicated on (source, event id), and parsed in a job into facts (services/ports.py) that
one dispatch table (services/facts.py) hands to the use cases.

Webhooks are verified before anything is stored; files and emails were authenticated by their transport.
Events are at-least-once and unordered; the unique key makes a re-delivery a no-op."""

from __future__ import annotations

import json
from dataclasses import dataclass

import structlog

from dropbridge.domain.errors import (
    CurrencyError,
    NotFound,
    StorageError,
    UnprocessableEvent,
    ValidationError,
    WebhookRejected,
)
from dropbridge.domain.model import WebhookEvent
from dropbridge.services.ports import Capability, InboundEvent, InboundSource, OrderReported

from .facts import dispatch, store_facts
from .ingest_order import IntakeRequest, ingest_orders
from .records import audit, correlation_id, job_row

log = structlog.get_logger("dropbridge.webhooks")

KEEP_HEADERS = ("content-type", "user-agent", "x-event-id", "x-timestamp", "x-shopify-topic", "x-shopify-event-id",
                "x-shopify-webhook-id", "x-shopify-triggered-at", "x-wc-webhook-topic", "x-wc-webhook-delivery-id",
                "webhook-id", "webhook-timestamp", "x-dropbridge-event", "x-dropbridge-delivery")


@dataclass
class WebhookDelivery:
    """One webhook request as received: who it claims to come from, its headers and its exact bytes."""

    kind: str  # "store" | "supplier"
    name: str
    headers: dict
    raw_body: bytes
    platform: str | None = None


def receive_webhook(ctx, kind: str, name: str, headers: dict, raw_body: bytes, platform: str | None = None) -> str:
    """Returns "accepted", "duplicate" or "ignored" (a handshake, not stored); raises WebhookRejected (nothing
    stored) when verification fails."""
    result = receive_webhooks(ctx, [WebhookDelivery(kind, name, headers, raw_body, platform)])[0]
    if isinstance(result, Exception):
        raise result
    return result


def receive_webhooks(ctx, deliveries: list[WebhookDelivery]) -> list[str | Exception]:
    """Many deliveries at once (group commit, for the API under load): each is verified on its own, and the
    verified are stored together, one transaction (one commit to wait for) instead of one each. Each gets
    what `receive_webhook` would have answered alone: "accepted", "duplicate", or the error it would raise.
    A second delivery of an event within the batch is answered once the first is stored."""
    results: list = [None] * len(deliveries)
    senders = _senders(ctx, deliveries)
    now = ctx.clock()
    rows, first_of, repeats = [], {}, []
    for i, d in enumerate(deliveries):
        try:
            event = _verify(ctx, senders.get((d.kind, d.name)), d)
        except Exception as exc:  # noqa: BLE001 - the request it belongs to answers with it
            results[i] = exc
            continue
        if not event.keep:  # a handshake (WooCommerce's ping): answered, and nothing stored for anyone to fill
            results[i] = "ignored"
            continue
        key = (f"{d.kind}:{d.name}", str(event.event_id))
        if key in first_of:
            repeats.append((i, first_of[key]))
            continue
        first_of[key] = i
        rows.append({"idx": i, "source": key[0], "event_id": key[1], "topic": event.topic or "",
                     "headers": {k: v for k, v in d.headers.items() if k.lower() in KEEP_HEADERS},
                     "raw_body": d.raw_body, "status": "received", "received_at": now})
    for idx, outcome in _store_all(ctx, rows).items():
        results[idx] = outcome
    for i, first in repeats:
        results[i] = results[first] if isinstance(results[first], Exception) else "duplicate"
    return results


def webhook_receiver(ctx, kind: str, name: str, platform: str | None = None):
    """The connector that verifies `name`'s webhooks, to ask about a delivery's headers before its body is
    read; WebhookRejected (404) for an unknown sender or the wrong platform."""
    with ctx.uow(read_only=True) as uow:
        record = uow.suppliers.by_name(name) if kind == "supplier" else uow.stores.by_name(name)
    if record is None or (platform and getattr(record, "platform", None) != platform):
        raise WebhookRejected(f"unknown {kind} {name!r}", status=404)
    return ctx.supplier_connector(record) if kind == "supplier" else ctx.store_connector(record)


def _senders(ctx, deliveries: list[WebhookDelivery]) -> dict[tuple[str, str], object]:
    with ctx.uow(read_only=True) as uow:
        found = {}
        for kind, name in {(d.kind, d.name) for d in deliveries}:
            record = uow.suppliers.by_name(name) if kind == "supplier" else uow.stores.by_name(name)
            if record is not None:
                found[(kind, name)] = record
        return found


def _verify(ctx, record, d: WebhookDelivery) -> InboundEvent:
    if record is None or (d.platform and getattr(record, "platform", None) != d.platform):
        raise WebhookRejected(f"unknown {d.kind} {d.name!r}", status=404)
    connector = ctx.supplier_connector(record) if d.kind == "supplier" else ctx.store_connector(record)
    return connector.verify_webhook(d.headers, d.raw_body)


def _store_all(ctx, rows: list[dict]) -> dict[int, str | Exception]:
    """Store the events and their processing jobs: {idx: "accepted" | "duplicate"}. A batch whose
    transaction fails is stored one event at a time, so one bad row fails only its own request."""
    if not rows:
        return {}
    try:
        return _store(ctx, rows)
    except StorageError as exc:
        if len(rows) == 1:
            return {rows[0]["idx"]: exc}
        log.warning("webhook batch failed; storing its events one by one", error=str(exc), size=len(rows))
    outcomes: dict[int, str | Exception] = {}
    for row in rows:
        outcomes.update(_store_all(ctx, [row]))
    return outcomes


def _store(ctx, rows: list[dict]) -> dict[int, str]:
    with ctx.uow.lean() as uow:
        stored = uow.webhooks.add_new_events(rows)
        jobs = [job_row(ctx, "process_webhook", f"webhook:{event_id}", {"event_id": event_id})
                for event_id in stored.values()]
        job_ids = uow.webhooks.add_jobs(jobs) if jobs else []
        uow.after_commit(lambda: ctx.enqueue_all(job_ids))
        uow.commit()
    return {row["idx"]: "accepted" if row["idx"] in stored else "duplicate" for row in rows}


def receive_document(ctx, supplier_name: str, event_id: str, topic: str, raw_body: bytes, *, channel: str,
                     headers: dict | None = None) -> str:
    """A file fetched from a supplier's server, an email from its mailbox, an upload: stored raw in the inbox
    (before anything is parsed) with a job to parse it. Returns "accepted" or "duplicate"."""
    now = ctx.clock()
    row = {"idx": 0, "source": f"supplier:{supplier_name}", "event_id": event_id[:200], "topic": topic[:100],
           "headers": headers or {}, "raw_body": raw_body, "status": "received", "received_at": now,
           "channel": channel}
    with ctx.uow(read_only=True) as uow:
        if uow.suppliers.by_name(supplier_name) is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
    outcome = _store_all(ctx, [row])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def process_webhook(ctx, stored_id: int) -> str:
    """Parse one stored inbox entry into facts and hand each to its use case (job kind process_webhook). An
    entry whose payload our mapping refuses will be refused on every attempt: it fails at once, naming it."""
    with ctx.uow(read_only=True) as uow:
        stored = uow.get(WebhookEvent, stored_id)
        kind, name = stored.source.split(":", 1)
        record = uow.suppliers.by_name(name) if kind == "supplier" else uow.stores.by_name(name)
        raw, source, event_id, topic = stored.raw_body or b"", stored.source, stored.event_id, stored.topic
        channel = stored.channel or "webhook"
    if record is None:
        raise NotFound(f"inbox entry {stored_id}: no {kind} named {name!r} any more")
    try:
        outcome = _process(ctx, kind, record, raw, event_id, topic, channel, stored_id)
    except (ValidationError, CurrencyError, ValueError) as exc:
        # Verified and stored, but its payload is one our mapping refuses: it will refuse it on every attempt.
        _mark(ctx, stored_id, "failed", f"payload refused: {exc}")
        raise UnprocessableEvent(f"{channel} {source} event {event_id!r} ({topic or 'no topic'}): payload refused: "
                                 f"{exc}") from exc
    _mark(ctx, stored_id, "processed", outcome)
    return outcome


def process_webhooks(ctx, stored_ids: list[int]) -> dict[int, str | Exception]:
    """`process_webhook` for many inbox entries (job kind process_webhook, run in batches): the store events
    that report a new order are parsed here and taken in by `ingest_orders` in one transaction, and marked
    processed together; every other entry (a supplier event, a cancellation, a refund, a payload that does
    not parse) goes through `process_webhook` on its own. Each entry gets what `process_webhook` would have
    returned or raised for it."""
    results: dict[int, str | Exception] = {}
    picked: list[tuple[int, IntakeRequest]] = []
    with ctx.uow(read_only=True) as uow:
        events = {e.id: e for e in uow.webhook_events.many(sorted(set(stored_ids)))}
        stores = {}
        for e in events.values():
            kind, name = e.source.split(":", 1)
            if kind == "store" and name not in stores:
                stores[name] = uow.stores.by_name(name)
    alone = []
    for stored_id in dict.fromkeys(stored_ids):
        e = events.get(stored_id)
        request = _order_request(ctx, e, stores) if e is not None else None
        if request is None:
            alone.append(stored_id)
        else:
            picked.append((stored_id, request))
    intake = ingest_orders(ctx, [request for _, request in picked]) if picked else []
    processed = {}
    for (stored_id, _), result in zip(picked, intake, strict=True):
        if isinstance(result, (ValidationError, CurrencyError, ValueError)):
            alone.append(stored_id)  # refused: marked failed and named, as on its own
        elif isinstance(result, Exception):
            results[stored_id] = result
        else:
            processed[stored_id] = "order created" if result.created else "order already known"
    if processed:
        _mark_many(ctx, {i: events[i] for i in processed}, processed)
        results.update(processed)
    for stored_id in alone:
        try:
            results[stored_id] = process_webhook(ctx, stored_id)
        except Exception as exc:  # noqa: BLE001 - this entry's job retries or fails with it, alone
            results[stored_id] = exc
    return results


def _order_request(ctx, stored: WebhookEvent, stores: dict) -> IntakeRequest | None:
    """The intake request when this entry is a store webhook whose only fact is an order reported; None
    for anything else (processed on its own)."""
    kind, name = stored.source.split(":", 1)
    record = stores.get(name) if kind == "store" else None
    if record is None or (stored.channel or "webhook") != "webhook" or not stored.raw_body:
        return None
    try:
        payload = json.loads(stored.raw_body)
        event = InboundEvent(event_id=stored.event_id, topic=stored.topic, payload=payload, raw_body=stored.raw_body,
                             channel="webhook")
        connector = ctx.store_connector(record)
        refunds = connector.refunds_from_event(event) if hasattr(connector, "refunds_from_event") else []
        facts = store_facts(connector.order_from_event(event), refunds)
    except Exception:  # noqa: BLE001 - on its own it fails (or is refused) the way it always has
        return None
    if len(facts) != 1 or not isinstance(facts[0], OrderReported):
        return None
    return IntakeRequest(record.name, facts[0].order, source=f"webhook:{stored.topic}",
                         correlation_id=correlation_id.get())


def _mark_many(ctx, events: dict[int, WebhookEvent], outcomes: dict[int, str]) -> None:
    """`_mark` for many processed entries, one transaction."""
    with ctx.uow() as uow:
        uow.webhook_events.mark(list(events), "processed", ctx.clock())
        for stored_id, e in events.items():
            audit(uow, ctx, "webhook.processed", f"webhook:{stored_id}", {"source": e.source, "topic": e.topic,
                                                                          "outcome": outcomes[stored_id]})
        uow.commit()


def _process(ctx, kind: str, record, raw: bytes, event_id: str, topic: str, channel: str, stored_id: int) -> str:
    # A webhook body that is not JSON: ValueError, refused for good. Files and emails are parsed from the bytes.
    payload = json.loads(raw) if channel == "webhook" and raw else None
    event = InboundEvent(event_id=event_id, topic=topic, payload=payload, raw_body=raw, channel=channel)
    if kind == "supplier":
        inbound: InboundSource = ctx.supplier_connector(record, Capability.WEBHOOKS)
        facts = inbound.facts_from_event(event)
    else:
        connector = ctx.store_connector(record)
        # A refund the platform sends on its own (not inside an order): connectors that have such events.
        refunds = connector.refunds_from_event(event) if hasattr(connector, "refunds_from_event") else []
        facts = store_facts(connector.order_from_event(event), refunds)
    outcomes = dispatch(ctx, kind, record, facts, source=f"{channel}:{topic}", event_id=stored_id)
    return "; ".join(outcomes) or "nothing to do"


def _mark(ctx, stored_id: int, status: str, outcome: str) -> None:
    with ctx.uow() as uow:
        stored = uow.get(WebhookEvent, stored_id)
        stored.status = status
        stored.processed_at = ctx.clock()
        audit(uow, ctx, f"webhook.{status}", f"webhook:{stored_id}", {"source": stored.source, "topic": stored.topic,
                                                                       "outcome": outcome})
        uow.commit()
