"""One dispatch table from facts (what inbound traffic means, services/ports.py) to the use cases that act on
them. Webhooks, files and emails all end here, so a shipment reported by a Printful webhook, an EDI 856 or
a reply to a purchase-order email takes exactly the same path."""

from __future__ import annotations

from collections.abc import Callable

from dropbridge.services.ports import (
    AcknowledgementNeeded,
    Acknowledger,
    Capability,
    CostReported,
    ExternalOrder,
    Fact,
    InvoiceReported,
    OffersReported,
    OrderAcknowledged,
    OrderCancelledInStore,
    OrderFailed,
    OrderReported,
    ReceiptConfirmed,
    RefundReported,
    ShipmentReported,
    Unrecognised,
)

from .cancel_order import cancel_order
from .ingest_order import ingest_order
from .record_refund import record_refund
from .record_shipment import record_shipment
from .records import raise_alert
from .supplier_replies import (
    acknowledge_supplier_order,
    confirm_receipt,
    fail_supplier_order,
    record_invoice,
    record_supplier_cost,
)


def store_facts(order: ExternalOrder | None, refunds=()) -> list[Fact]:
    """What a store event says: an order, a cancellation, refunds (on the order or on their own), or nothing
    we act on."""
    facts: list[Fact] = []
    if order is not None:
        facts.append(OrderCancelledInStore(order.external_id) if order.cancelled else OrderReported(order))
        facts += [RefundReported(r) for r in order.refunds]
    facts += [RefundReported(r) for r in refunds]
    return facts


def _order_reported(ctx, store, fact: OrderReported, source: str) -> str:
    result = ingest_order(ctx, store.name, fact.order, source=source)
    return "order created" if result.created else "order already known"


def _order_cancelled(ctx, store, fact: OrderCancelledInStore, source: str) -> str:
    with ctx.uow(read_only=True) as uow:
        known = uow.orders.by_external_id(store.id, fact.external_id)
    return cancel_order(ctx, known.id, "cancelled in the store") if known else "cancelled before we saw it"


def _shipment(ctx, supplier, fact: ShipmentReported, source: str) -> str:
    return "shipment recorded" if record_shipment(ctx, supplier.id, fact.update) is not None else "shipment known"


def _offers(ctx, supplier, fact: OffersReported, source: str) -> str:
    from .sync_catalog import apply_offer_rows

    outcome = apply_offer_rows(ctx, supplier.name, list(fact.rows), full=fact.full, source=source)
    return f"offers {outcome.status}: {outcome.changed} changed"


def _acknowledgement_needed(ctx, supplier, fact: AcknowledgementNeeded, source: str) -> str:
    sender: Acknowledger = ctx.supplier_connector(supplier, Capability.WEBHOOKS)
    sender.send_acknowledgement(fact.document, fact.name)
    return f"acknowledgement {fact.name} sent"


def _unrecognised(ctx, kind: str, record, fact: Unrecognised, source: str, event_id: int | None) -> str:
    with ctx.uow() as uow:
        raise_alert(uow, ctx, "inbound.unrecognised",
                    f"{kind} {record.name}: {source}: {fact.reason} (kept as inbox entry {event_id})",
                    **{f"{kind}_id": record.id})
        uow.commit()
    return f"not understood: {fact.reason}"


HANDLERS: dict[type, Callable[..., str]] = {
    OrderReported: _order_reported,
    OrderCancelledInStore: _order_cancelled,
    RefundReported: lambda ctx, store, fact, source: record_refund(ctx, store, fact.refund),
    ShipmentReported: _shipment,
    OrderAcknowledged: lambda ctx, s, fact, source: acknowledge_supplier_order(ctx, s.id, fact),
    OrderFailed: lambda ctx, s, fact, source: fail_supplier_order(ctx, s.id, fact),
    ReceiptConfirmed: lambda ctx, s, fact, source: confirm_receipt(ctx, s.id, fact),
    CostReported: lambda ctx, s, fact, source: record_supplier_cost(ctx, s.id, fact),
    InvoiceReported: lambda ctx, s, fact, source: record_invoice(ctx, s.id, fact.invoice, source),
    OffersReported: _offers,
    AcknowledgementNeeded: _acknowledgement_needed,
}


def dispatch(ctx, kind: str, record, facts: list[Fact], *, source: str, event_id: int | None = None) -> list[str]:
    """Hand each fact to its use case in order; returns what each did. Every handler is idempotent, so a
    job that dies half-way and runs again repeats nothing."""
    outcomes = []
    for fact in facts:
        if isinstance(fact, Unrecognised):
            outcomes.append(_unrecognised(ctx, kind, record, fact, source, event_id))
        else:
            outcomes.append(HANDLERS[type(fact)](ctx, record, fact, source))
    return outcomes
