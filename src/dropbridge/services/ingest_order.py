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

import structlog

from dropbridge.domain import limits as lim
from dropbridge.domain.errors import Conflict, DuplicateKey, NotFound, StorageError, ValidationError
from dropbridge.domain.ledger import FeeTerms, SaleLine, sale_entries
from dropbridge.domain.model import Order
from dropbridge.domain.money import MAX_AMOUNT_MINOR, Money, known_currency, out_of_range
from dropbridge.services.ports import ExternalOrder

from .records import audit_row, correlation_id, job_row, scrub

log = structlog.get_logger("dropbridge.intake")


@dataclass(frozen=True)
class IngestResult:
    order_id: int
    created: bool
    response: dict


def ingest_order(ctx, store_name: str, ext: ExternalOrder, *, idempotency_key: str | None = None,
                 request_hash: str | None = None, source: str = "api", checked: bool = False) -> IngestResult:
    """`checked`: the caller already applied `check_order`'s limits (the API's schema takes them from the same
    definitions in domain/limits.py), so the busiest path does not pay for them twice."""
    if not checked:
        check_order(ext)
    try:
        return _ingest(ctx, store_name, ext, idempotency_key, request_hash, source)
    except DuplicateKey:
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
        values, stored = _order_row(store_name, ext, idempotency_key, request_hash, now)
        added = uow.intake.add_order_if_new_for_store(store_name, values)
        if added is None:
            raise NotFound(f"no store named {store_name!r}")
        store_id, config, order_id = added
        if order_id is not None:
            # Checked after the insert so that a stored order still answers first, as it always has.
            if problem := _currency_problem(ext):
                raise problem
            lines = _line_rows(ext)
            # A brand-new order id: no route job can exist for it yet, so no lookup (the unique key still guards).
            job_id = uow.intake.add_order_details(
                order_id, lines, _revenue_rows(store_id, config, ext, values["currency"], now),
                job_row(ctx, "route_order", f"route:{order_id}", {"order_id": order_id}),
                audit_row(ctx, "order.received", f"order:{order_id}", _audit_detail(ext, source), store_id=store_id))
            uow.after_commit(lambda: ctx.enqueue(job_id))
            uow.commit()
            return IngestResult(order_id, True, _response(order_id, stored))
        uow.rollback()  # the order is already stored (or being stored): nothing was written
    return _existing(ctx, store_name, ext, idempotency_key, request_hash)


@dataclass(frozen=True)
class IntakeRequest:
    """One order to take in, as `ingest_orders` receives it."""

    store: str
    order: ExternalOrder
    idempotency_key: str | None = None
    request_hash: str | None = None
    source: str = "api"
    correlation_id: str | None = None
    checked: bool = False  # see ingest_order


def ingest_orders(ctx, requests: list[IntakeRequest]) -> list[IngestResult | Exception]:
    """`ingest_order` for many requests in one transaction (group commit, for the API under load): each
    request gets what `ingest_order` would have answered, an IngestResult or the error it would have raised.

    New, valid orders for known stores are written together. Every other request (a replay, a second
    request for an order already in the batch, an invalid order, an unknown store), and every request of a
    batch whose transaction failed, goes one by one through `ingest_order`, which answers as it always has."""
    try:
        added = _ingest_batch(ctx, requests)
    except StorageError as exc:
        log.warning("intake batch failed; taking its orders one by one", error=str(exc), size=len(requests))
        added = {}
    results: list[IngestResult | Exception] = []
    for i, req in enumerate(requests):
        if i in added:
            results.append(added[i])
            continue
        correlation_id.set(req.correlation_id)
        try:
            results.append(ingest_order(ctx, req.store, req.order, idempotency_key=req.idempotency_key,
                                        request_hash=req.request_hash, source=req.source, checked=req.checked))
        except Exception as exc:  # noqa: BLE001 - the request it belongs to raises it
            results.append(exc)
    return results


def _ingest_batch(ctx, requests: list[IntakeRequest]) -> dict[int, IngestResult]:
    """The new, valid orders among `requests`, stored together: {request index: result}."""
    picked, seen = [], set()
    for i, req in enumerate(requests):
        keys = {(req.store, "external_id", req.order.external_id)}
        if req.idempotency_key:
            keys.add((req.store, "idempotency_key", req.idempotency_key))
        if not req.order.lines or keys & seen or _currency_problem(req.order) \
                or (not req.checked and _order_problem(req.order)):
            continue
        seen |= keys
        picked.append(i)
    if not picked:
        return {}
    with ctx.uow.lean() as uow:
        now = ctx.clock()
        stores = uow.intake.stores_named(sorted({requests[i].store for i in picked}))
        orders, lines, ledger, stored = [], [], [], {}
        for i in picked:
            req, ext = requests[i], requests[i].order
            if req.store not in stores:
                continue
            store_id, config = stores[req.store]
            values, stored[i] = _order_row(req.store, ext, req.idempotency_key, req.request_hash, now)
            orders.append({**values, "idx": i, "store_id": store_id, "correlation_id": req.correlation_id,
                           "audit_detail": scrub(_audit_detail(ext, req.source))})
            lines += [{**row, "idx": i} for row in _line_rows(ext)]
            ledger += [{**row, "idx": i, "seq": n}
                       for n, row in enumerate(_revenue_rows(store_id, config, ext, values["currency"], now))]
        if not orders:
            return {}
        added = uow.intake.add_new_orders(orders, lines, ledger, job_row(ctx, "route_order", "route:"),
                                          audit_row(ctx, "order.received", "order:"))
        job_ids = [job_id for _, job_id in added.values()]
        uow.after_commit(lambda: ctx.enqueue_all(job_ids))
        uow.commit()
    return {i: IngestResult(order_id, True, _response(order_id, stored[i])) for i, (order_id, _) in added.items()}


def _order_row(store_name, ext: ExternalOrder, idempotency_key, request_hash, now) -> tuple[dict, dict]:
    """The order row's values and the acknowledgement stored with it."""
    currency = ext.currency.upper()
    stored = {
        "store": store_name,
        "external_id": ext.external_id,
        "currency": currency,
        "status": "accepted",
        "lines": [{"line_no": no, "sku": line.sku, "quantity": line.quantity}
                  for no, line in enumerate(ext.lines, start=1)],
    }
    return {
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
    }, stored


def check_order(ext: ExternalOrder) -> None:
    """Refuse, naming the field, an order no database could store the same way (see domain/limits.py): the
    one check every source of orders passes (API, webhooks, the periodic pull), before anything is written."""
    if problem := _order_problem(ext):
        raise problem


def _order_problem(ext: ExternalOrder) -> ValidationError | None:
    try:
        _check_order(ext)
    except ValidationError as exc:
        return exc
    return None


def _check_order(ext: ExternalOrder) -> None:
    _text(ext.external_id, "external_id", lim.EXTERNAL_ID_MAX, code=True, required=True)
    if not isinstance(ext.currency, str) or not known_currency(ext.currency.upper()):
        raise ValidationError(f"not an ISO 4217 currency code we know: {str(ext.currency)[:10]!r}", "currency")
    if ext.email is not None:
        _text(ext.email, "email", lim.EMAIL_MAX)
    _text(ext.number, "number", lim.ORDER_NUMBER_MAX)
    if ext.ship_to is not None:
        _address(ext.ship_to)
    if len(ext.lines) > lim.MAX_ORDER_LINES:
        raise ValidationError(f"an order has at most {lim.MAX_ORDER_LINES} lines", "lines")
    for name in ("shipping_price", "total_tax", "total_discounts", "total_price"):
        _amount(getattr(ext, name), name)
    for i, line in enumerate(ext.lines):
        where = f"lines.{i}"
        _text(line.external_id, f"{where}.external_id", lim.EXTERNAL_ID_MAX, code=True)
        _text(line.sku, f"{where}.sku", lim.SKU_MAX, code=True, required=True)
        _text(line.title, f"{where}.title", lim.TITLE_MAX)
        lim.check_quantity(line.quantity, f"{where}.quantity")
        for name in ("unit_price", "discount", "tax"):
            _amount(getattr(line, name), f"{where}.{name}")
        if abs(line.unit_price.amount * line.quantity) > MAX_AMOUNT_MINOR:
            raise ValidationError(out_of_range(line.unit_price.currency, f"{where}: unit_price x quantity"), where)


_ADDRESS_LIMITS = {"name": lim.NAME_MAX, "address1": lim.ADDRESS_MAX, "address2": lim.ADDRESS_MAX,
                   "city": lim.CITY_MAX, "province_code": lim.PROVINCE_MAX, "postal_code": lim.POSTAL_CODE_MAX,
                   "company": lim.NAME_MAX, "phone": lim.PHONE_MAX}


def _address(address) -> None:
    for name, max_length in _ADDRESS_LIMITS.items():
        _text(getattr(address, name), f"ship_to.{name}", max_length)
    country = address.country_code
    if country:  # a store may leave it out (pickup, digital goods); routing then knows no destination
        _text(country, "ship_to.country_code", 2, code=True)
        lim.check_country(country, "ship_to.country_code")


def _text(value, field: str, max_length: int, *, code: bool = False, required: bool = False) -> None:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text", field)
    if required and not value:
        raise ValidationError(f"{field} is required", field)
    lim.check_text(value, field, max_length, code=code)


def _amount(money: Money | None, field: str) -> None:
    if money is not None and abs(money.amount) > MAX_AMOUNT_MINOR:
        raise ValidationError(out_of_range(money.currency, field), field)


def _currency_problem(ext: ExternalOrder) -> ValidationError | None:
    """The first line priced in another currency than the order, as the error to raise."""
    currency = ext.currency.upper()
    for no, line in enumerate(ext.lines):
        if line.unit_price.currency != currency:
            return ValidationError(f"line price in {line.unit_price.currency}, order in {currency}",
                                   f"lines[{no}].unit_price")
    return None


def _line_rows(ext: ExternalOrder) -> list[dict]:
    return [{"line_no": no, "external_id": line.external_id or str(no), "sku": line.sku,
             "quantity": line.quantity, "unit_price_minor": line.unit_price.amount, "status": "pending"}
            for no, line in enumerate(ext.lines, start=1)]


def _audit_detail(ext: ExternalOrder, source: str) -> dict:
    return {"external_id": ext.external_id, "source": source, "lines": len(ext.lines)}


def _revenue_rows(store_id: int, config: dict, ext: ExternalOrder, cur: str, now) -> list[dict]:
    """The sale's side of the ledger at intake (domain.ledger.sale_entries): revenue net of discounts and
    tax, tax collected, and the store's fees; each entry names its line by `line_no` (None: the order)."""
    lines = [SaleLine(no, Money(ln.unit_price.amount, cur) * ln.quantity, _in(ln.discount, cur), _in(ln.tax, cur))
             for no, ln in enumerate(ext.lines, start=1)]
    included = ext.taxes_included if ext.taxes_included is not None else bool(config.get("taxes_included"))
    entries = sale_entries(
        lines, cur, shipping=_in(ext.shipping_price, cur), order_tax=_in(ext.total_tax, cur),
        order_discount=_in(ext.total_discounts, cur), taxes_included=included,
        payment=fee_terms(config, "payment_fee", cur), platform=fee_terms(config, "platform_fee", cur),
        commission=fee_terms(config, "commission", cur),
        memos={no: f"{ln.quantity} x {ln.sku}" for no, ln in enumerate(ext.lines, start=1)})
    return [{"line_no": e.line_no, "store_id": store_id, "supplier_id": None, "kind": e.kind.value,
             "amount_minor": e.amount.amount, "currency": cur, "memo": e.memo, "created_at": now}
            for e in entries]


def _in(amount: Money | None, cur: str) -> Money | None:
    """Amounts the connector parsed in the order's currency (one in another currency is refused by Money)."""
    return amount


def fee_terms(config: dict, prefix: str, cur: str) -> FeeTerms | None:
    """`<prefix>_percent` and `<prefix>_fixed` from a store's or supplier's configuration (None: neither set).
    The fixed part is in `cur`, rounded to its decimals: a "0.30" fee must not refuse a yen order."""
    pct, fixed = config.get(f"{prefix}_percent"), config.get(f"{prefix}_fixed")
    if pct is None and fixed is None:
        return None
    return FeeTerms(Decimal(str(pct or "0")), Money.from_decimal_rounded(Decimal(str(fixed or "0")), cur))


def _address_dict(address) -> dict:
    if address is None:
        return {}
    return {f: getattr(address, f) for f in address.__dataclass_fields__}
