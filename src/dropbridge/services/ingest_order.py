"""Order intake: store the order, its lines and the revenue it brings, once; routing follows in a job.

The same order arriving again (a replayed API call with one Idempotency-Key, a re-delivered webhook,
the periodic pull) returns the order already stored and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError

from dropbridge.connectors.base import ExternalOrder
from dropbridge.domain.errors import Conflict, NotFound, ValidationError
from dropbridge.domain.ledger import EntryKind, signed
from dropbridge.domain.model import LedgerEntry, Order, OrderLine
from dropbridge.domain.money import Money

from .records import audit, schedule


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
        found = _find(uow, store, ext, idempotency_key, request_hash)
        if found is None:
            raise Conflict("order could not be stored and no earlier copy exists")
        return IngestResult(found.id, False, found.intake_response)


def _find(uow, store, ext, idempotency_key, request_hash) -> Order | None:
    if idempotency_key:
        found = uow.orders.by_idempotency_key(store.id, idempotency_key)
        if found is not None:
            if request_hash and found.request_hash and found.request_hash != request_hash:
                raise Conflict("Idempotency-Key was already used with a different request body")
            return found
    return uow.orders.by_external_id(store.id, ext.external_id)


def _ingest(ctx, store_name, ext: ExternalOrder, idempotency_key, request_hash, source) -> IngestResult:
    if not ext.lines:
        raise ValidationError("an order needs at least one line", "lines")
    with ctx.uow() as uow:
        store = uow.stores.by_name(store_name)
        if store is None:
            raise NotFound(f"no store named {store_name!r}")
        found = _find(uow, store, ext, idempotency_key, request_hash)
        if found is not None:
            return IngestResult(found.id, False, found.intake_response)

        now = ctx.clock()
        currency = ext.currency.upper()
        variants = uow.catalog.variant_ids_by_sku([line.sku for line in ext.lines])
        order = Order(
            store_id=store.id,
            external_id=ext.external_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            currency=currency,
            email=ext.email,
            ship_to=_address_dict(ext.ship_to),
            shipping_price_minor=ext.shipping_price.amount if ext.shipping_price else 0,
            created_at=now,
            updated_at=now,
        )
        for no, line in enumerate(ext.lines, start=1):
            if line.unit_price.currency != currency:
                raise ValidationError(f"line price in {line.unit_price.currency}, order in {currency}",
                                      f"lines[{no - 1}].unit_price")
            order.lines.append(
                OrderLine(
                    line_no=no,
                    external_id=line.external_id or str(no),
                    sku=line.sku,
                    variant_id=variants.get(line.sku),
                    quantity=line.quantity,
                    unit_price_minor=line.unit_price.amount,
                )
            )
        uow.add(order)
        uow.flush()
        _record_revenue(uow, store, order, ext, now)
        order.intake_response = {
            "id": order.id,
            "store": store.name,
            "external_id": order.external_id,
            "currency": currency,
            "status": order.status,
            "lines": [{"line_no": ln.line_no, "sku": ln.sku, "quantity": ln.quantity} for ln in order.lines],
            "links": {"self": f"/api/v1/orders/{order.id}"},
        }
        schedule(uow, ctx, "route_order", f"route:{order.id}", {"order_id": order.id})
        audit(uow, ctx, "order.received", f"order:{order.id}",
              {"external_id": ext.external_id, "source": source, "lines": len(order.lines)}, store_id=store.id)
        uow.commit()
        return IngestResult(order.id, True, order.intake_response)


def _record_revenue(uow, store, order: Order, ext: ExternalOrder, now) -> None:
    cur = order.currency

    def entry(kind: EntryKind, amount: Money, line_id=None, memo=""):
        if amount.amount:
            uow.add(LedgerEntry(order_id=order.id, order_line_id=line_id, store_id=store.id, kind=kind,
                                amount_minor=signed(kind, amount).amount, currency=cur, memo=memo,
                                created_at=now))

    gross = Money.zero(cur)
    for line, ext_line in zip(order.lines, ext.lines, strict=True):
        revenue = Money(line.unit_price_minor, cur) * line.quantity
        if ext_line.discount:
            revenue = revenue - ext_line.discount
        entry(EntryKind.REVENUE, revenue, line.id, f"{line.quantity} x {line.sku}")
        gross = gross + revenue
    if ext.shipping_price:
        entry(EntryKind.SHIPPING_REVENUE, ext.shipping_price, memo="shipping charged to the customer")
        gross = gross + ext.shipping_price
    # Payment processing fee as the store configures it, e.g. 2.9% + 0.30.
    pct = Decimal(str(store.config.get("payment_fee_percent", "0")))
    fixed = Money.parse(str(store.config.get("payment_fee_fixed", "0")), cur)
    fee = gross.percent(pct) + fixed
    entry(EntryKind.PAYMENT_FEE, fee, memo=f"{pct}% + {fixed}")


def _address_dict(address) -> dict:
    if address is None:
        return {}
    return {f: getattr(address, f) for f in address.__dataclass_fields__}
