"""Order intake: store the order, its lines and the revenue it brings, once; routing follows in a job.

The same order arriving again (a replayed API call with one Idempotency-Key, a re-delivered webhook,
the periodic pull) returns the order already stored and changes nothing.

This is the busiest write path, so it inserts first and asks later: one statement per table in a single
transaction (order, lines, ledger entries, the route job, the audit event), and the unique constraints on
(store, external id) and (store, idempotency key) decide whether the order is new, also under races. Only
when the order row is refused does intake look up the stored order to answer with."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError

from dropbridge.connectors.base import ExternalOrder
from dropbridge.domain.errors import Conflict, NotFound, ValidationError
from dropbridge.domain.ledger import EntryKind, signed
from dropbridge.domain.model import Order
from dropbridge.domain.money import Money

from .records import audit_row, job_row


@dataclass(frozen=True)
class IngestResult:
    order_id: int
    created: bool
    response: dict


def ingest_order(ctx, store_name: str, ext: ExternalOrder, *, idempotency_key: str | None = None,
                 request_hash: str | None = None, source: str = "api") -> IngestResult:
    try:
        return _ingest(ctx, store_name, ext, idempotency_key, request_hash, source)
    except IntegrityError:
        # A concurrent request with the same key or external id won the race: answer with its order.
        return _existing(ctx, store_name, ext, idempotency_key, request_hash)


def _existing(ctx, store_name, ext, idempotency_key, request_hash) -> IngestResult:
    with ctx.uow(read_only=True) as uow:
        store = uow.stores.by_name(store_name)
        found = _find(uow, store, ext, idempotency_key, request_hash) if store is not None else None
        if found is None:
            raise Conflict("order could not be stored and no earlier copy exists")
        return IngestResult(found.id, False, _response(found.id, found.intake_response))


def _find(uow, store, ext, idempotency_key, request_hash) -> Order | None:
    if idempotency_key:
        found = uow.orders.by_idempotency_key(store.id, idempotency_key)
        if found is not None:
            if request_hash and found.request_hash and found.request_hash != request_hash:
                raise Conflict("Idempotency-Key was already used with a different request body")
            return found
    return uow.orders.by_external_id(store.id, ext.external_id)


def _response(order_id: int, stored: dict) -> dict:
    """The acknowledgement, from what intake stored. The order row is written before its id exists, so
    the stored copy leaves out the id and the link made from it (rows from before this carry both)."""
    return {"id": order_id, **stored, "links": stored.get("links") or {"self": f"/api/v1/orders/{order_id}"}}


def _ingest(ctx, store_name, ext: ExternalOrder, idempotency_key, request_hash, source) -> IngestResult:
    if not ext.lines:
        raise ValidationError("an order needs at least one line", "lines")
    with ctx.uow.lean() as uow:
        now = ctx.clock()
        currency = ext.currency.upper()
        line_nos = list(enumerate(ext.lines, start=1))
        stored = {
            "store": store_name,
            "external_id": ext.external_id,
            "currency": currency,
            "status": "accepted",
            "lines": [{"line_no": no, "sku": line.sku, "quantity": line.quantity} for no, line in line_nos],
        }
        added = uow.intake.add_order_if_new_for_store(store_name, {
            "external_id": ext.external_id,
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "intake_response": stored,
            "currency": currency,
            "status": "accepted",
            "email": ext.email,
            "ship_to": _address_dict(ext.ship_to),
            "shipping_price_minor": ext.shipping_price.amount if ext.shipping_price else 0,
            "hold_reason": None,
            "flags": {},
            "fx": {},
            "created_at": now,
            "updated_at": now,
        })
        if added is None:
            raise NotFound(f"no store named {store_name!r}")
        store_id, config, order_id = added
        if order_id is not None:
            # Checked after the insert so that a stored order still answers first, as it always has.
            for no, line in line_nos:
                if line.unit_price.currency != currency:
                    raise ValidationError(f"line price in {line.unit_price.currency}, order in {currency}",
                                          f"lines[{no - 1}].unit_price")
            lines = [{"line_no": no, "external_id": line.external_id or str(no), "sku": line.sku,
                      "quantity": line.quantity, "unit_price_minor": line.unit_price.amount, "status": "pending"}
                     for no, line in line_nos]
            # A brand-new order id: no route job can exist for it yet, so no lookup (the unique key still guards).
            job_id = uow.intake.add_order_details(
                order_id, lines, _revenue_rows(store_id, config, ext, currency, now),
                job_row(ctx, "route_order", f"route:{order_id}", {"order_id": order_id}),
                audit_row(ctx, "order.received", f"order:{order_id}",
                          {"external_id": ext.external_id, "source": source, "lines": len(lines)}, store_id=store_id))
            uow.after_commit(lambda: ctx.enqueue(job_id))
            uow.commit()
            return IngestResult(order_id, True, _response(order_id, stored))
        uow.rollback()  # the order is already stored (or being stored): nothing was written
    return _existing(ctx, store_name, ext, idempotency_key, request_hash)


def _revenue_rows(store_id: int, config: dict, ext: ExternalOrder, cur: str, now) -> list[dict]:
    """The revenue side of the ledger at intake; each entry names its line by `line_no` (None: the order)."""
    rows: list[dict] = []

    def entry(kind: EntryKind, amount: Money, line_no=None, memo=""):
        if amount.amount:
            rows.append({"line_no": line_no, "store_id": store_id, "supplier_id": None, "kind": kind.value,
                         "amount_minor": signed(kind, amount).amount, "currency": cur, "memo": memo,
                         "created_at": now})

    gross = Money.zero(cur)
    for no, ext_line in enumerate(ext.lines, start=1):
        revenue = Money(ext_line.unit_price.amount, cur) * ext_line.quantity
        if ext_line.discount:
            revenue = revenue - ext_line.discount
        entry(EntryKind.REVENUE, revenue, no, f"{ext_line.quantity} x {ext_line.sku}")
        gross = gross + revenue
    if ext.shipping_price:
        entry(EntryKind.SHIPPING_REVENUE, ext.shipping_price, memo="shipping charged to the customer")
        gross = gross + ext.shipping_price
    # Payment processing fee as the store configures it, e.g. 2.9% + 0.30.
    pct = Decimal(str(config.get("payment_fee_percent", "0")))
    fixed = Money.parse(str(config.get("payment_fee_fixed", "0")), cur)
    fee = gross.percent(pct) + fixed
    entry(EntryKind.PAYMENT_FEE, fee, memo=f"{pct}% + {fixed}")
    return rows


def _address_dict(address) -> dict:
    if address is None:
        return {}
    return {f: getattr(address, f) for f in address.__dataclass_fields__}
