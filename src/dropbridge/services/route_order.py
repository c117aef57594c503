"""Route an order's pending lines to supplier offers, reserve stock atomically, and write the supplier
orders with their idempotency keys and the jobs that send them, all in one transaction.

The decision itself is `domain.routing.plan_order`; this module gathers its inputs (offers, supplier
terms, measured reliability and lead times, FX rates, the merchant's rules) and acts on its result.
Suppliers that price shipping (Capability.SHIPPING_QUOTE) are asked first, outside the transaction (no
network call while holding the write lock): their quote replaces the configured shipping in the landed
cost, and the method it names travels on the supplier order. A quote that fails leaves the configured
terms in force, and the candidate's reason says so."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from statistics import median

from dropbridge.domain.drift import describe
from dropbridge.domain.ledger import EntryKind, FeeTerms, margin, signed
from dropbridge.domain.model import LedgerEntry, Order, Reservation, Store, SupplierOrder, SupplierOrderLine
from dropbridge.domain.money import Money
from dropbridge.domain.routing import Candidate, LineRequest, Rules, convert, plan_order
from dropbridge.domain.states import LineStatus, OrderStatus, advance
from dropbridge.services.ports import (
    Capability,
    ShippingOption,
    ShippingQuoter,
    ShippingQuoteRequest,
    SupplierOrderItem,
)

from .fx import rate_table, stale_rates
from .ingest_order import fee_terms
from .records import audit, log, raise_alert, schedule

ROUTABLE = {OrderStatus.ACCEPTED, OrderStatus.ON_HOLD, OrderStatus.ROUTED, OrderStatus.SUBMITTED,
            OrderStatus.PARTIALLY_SHIPPED}
STATS_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class SupplierTerms:
    """What a supplier's configuration says about serving an order (see README, supplier --config)."""

    buffer: int
    shipping: Money
    fees: Money | None
    ships_to: frozenset[str] | None
    stale_after_hours: float | None
    lead_time_days: int | None
    shipping_method: str | None = None  # the quoted method behind `shipping`, when a quote priced it
    note: str | None = None  # how shipping was priced, for the candidate's reason
    handling_per_unit: Money | None = None
    commission: FeeTerms | None = None  # an agent's cut of this supplier's goods


def supplier_terms(supplier, destination: str | None, currency: str) -> SupplierTerms:
    cfg = supplier.config or {}
    cur = cfg.get("currency", currency)
    rates = cfg.get("shipping_rates") or {}  # {"US": "4.00", "*": "9.00"}
    ship = rates.get(destination) or rates.get("*") or cfg.get("shipping_per_order", "0")
    ships_to = cfg.get("ships_to")
    return SupplierTerms(
        buffer=int(cfg.get("buffer", 0)),
        shipping=Money.parse(str(ship), cur),
        fees=Money.parse(str(cfg["order_fee"]), cur) if cfg.get("order_fee") else None,
        ships_to=frozenset(ships_to) if ships_to else None,
        stale_after_hours=float(cfg["stale_after_hours"]) if cfg.get("stale_after_hours") else None,
        lead_time_days=int(cfg["lead_time_days"]) if cfg.get("lead_time_days") is not None else None,
        handling_per_unit=Money.parse(str(cfg["handling_fee_per_unit"]), cur)
        if cfg.get("handling_fee_per_unit") else None,
        commission=fee_terms(cfg, "commission", cur),
    )


def merchant_rules(store) -> tuple[Rules, dict[str, str], Decimal | None]:
    """(rules, per-SKU pins, margin floor percent) from the store's `routing` configuration."""
    cfg = (store.config or {}).get("routing") or {}
    per_day = cfg.get("lead_time_cost_per_day")
    rules = Rules(
        excluded=frozenset(cfg.get("exclude", [])),
        priority=tuple(cfg.get("priority", [])),
        prefer_single_supplier=bool(cfg.get("prefer_single_supplier", False)),
        lead_time_cost_per_day=Money.parse(str(per_day), cfg.get("currency", "USD")) if per_day else None,
    )
    floor = cfg.get("margin_floor_percent")
    return rules, dict(cfg.get("pins", {})), Decimal(str(floor)) if floor is not None else None


def route_order(ctx, order_id: int) -> str:
    quotes = shipping_quotes(ctx, order_id)  # before the transaction: suppliers are asked over the network
    with ctx.uow() as uow:
        order: Order = uow.get_for_update(Order, order_id)
        outcome = _route_locked(ctx, uow, order, quotes, _RoutingInputs(ctx, uow))
        uow.commit()
        return outcome


def route_orders(ctx, order_ids: list[int]) -> dict[int, str | Exception]:
    """`route_order` for many orders in one transaction (job kind route_order, run in batches): {order id:
    what `route_order` returns, or the exception it would raise}. The orders and every offer they may take
    are row-locked first, each in id order, so concurrent batches queue on the offers they share instead of
    deadlocking, and stock is reserved by the same conditional update as one order at a time. Each order
    is routed in a savepoint: one that fails leaves the others' routing standing."""
    ids = sorted(set(order_ids))
    quotes = shipping_quotes_many(ctx, ids)
    results: dict[int, str | Exception] = {}
    with ctx.uow() as uow:
        orders = {o.id: o for o in uow.orders.lock_many(ids)}
        pending = [ln for o in orders.values() if o.status in ROUTABLE
                   for ln in o.lines if ln.status == LineStatus.PENDING]
        variants = uow.catalog.variant_ids_by_sku(sorted({ln.sku for ln in pending if ln.variant_id is None}))
        for line in pending:
            if line.variant_id is None and line.sku in variants:
                line.variant_id = variants[line.sku]
        uow.offers.lock(uow.offers.ids_for_variants(sorted({ln.variant_id for ln in pending if ln.variant_id})))
        inputs = _RoutingInputs(ctx, uow)
        inputs.count_orders(sorted(orders))
        for order_id in ids:
            try:
                with uow.savepoint():
                    results[order_id] = _route_locked(ctx, uow, orders.get(order_id), quotes.get(order_id, {}), inputs)
            except Exception as exc:  # noqa: BLE001 - this order's job retries or fails with it, alone
                results[order_id] = exc
        uow.commit()
    return results


class _RoutingInputs:
    """What every decision of a transaction shares, read once when first needed: FX rates, the suppliers'
    measured reliability and lead times, each variant's offers (row-locked by a batch, so they hold still),
    and how many supplier orders each order has per supplier (the next one's key counts on)."""

    def __init__(self, ctx, uow):
        self._ctx, self._uow, self._values = ctx, uow, None
        self._candidates: dict[int, list] = {}
        self._counts: dict[tuple[int, int], int] = {}
        self._counted: set[int] = set()  # orders whose counts are all in _counts

    def candidates(self, variant_id: int) -> list:
        if variant_id not in self._candidates:
            self._candidates[variant_id] = self._uow.offers.candidates(variant_id)
        return self._candidates[variant_id]

    def count_orders(self, order_ids: list[int]) -> None:
        """Read the supplier order counts of these orders in one query."""
        self._counts.update(self._uow.supplier_orders.counts_for(order_ids))
        self._counted.update(order_ids)

    def next_seq(self, order_id: int, supplier_id: int) -> int:
        key = (order_id, supplier_id)
        if key not in self._counts:
            self._counts[key] = 0 if order_id in self._counted else \
                self._uow.supplier_orders.count_for(order_id, supplier_id)
        self._counts[key] += 1
        return self._counts[key]

    def get(self):
        if self._values is None:
            uow, now = self._uow, self._ctx.clock()
            rates, sources = rate_table(uow)
            self._values = (rates, sources, uow.supplier_stats.outcomes(now - STATS_WINDOW),
                            uow.supplier_stats.shipping_days(now - STATS_WINDOW))
        return self._values


def _route_locked(ctx, uow, order: Order | None, quotes, inputs: _RoutingInputs) -> str:
    """Route `order` (row-locked by the caller) inside the caller's transaction; the caller commits."""
    if order is None or order.status not in ROUTABLE:
        return "nothing to route"
    pending = [ln for ln in order.lines if ln.status == LineStatus.PENDING]
    if not pending:
        return "nothing to route"
    store = uow.get(Store, order.store_id)
    rules, pins, floor = merchant_rules(store)
    destination = (order.ship_to or {}).get("country_code")
    rates, sources, outcomes, measured = inputs.get()
    now = ctx.clock()

    for line in pending:
        if line.variant_id is None:
            variant = uow.catalog.variant_by_sku(line.sku)
            line.variant_id = variant.id if variant else None

    unroutable, routed = [], []
    assigned: dict[int, tuple] = {}  # line id -> (offer, supplier, terms) reserved for it
    excluded_now: dict[int, set[int]] = defaultdict(set)  # offers another order took meanwhile
    for _attempt in range(5):
        requests, context = [], {}
        for line in pending:
            if line in routed:
                continue
            cands, ctx_rows = _candidates(ctx, inputs, order, line, destination, outcomes, measured, now, quotes)
            context[line.id] = ctx_rows
            excluded = frozenset((line.routing or {}).get("excluded", [])) | excluded_now[line.id]
            requests.append(LineRequest(line.id, line.quantity, cands, excluded, pins.get(line.sku)))
        if not requests:
            break
        plan = plan_order(requests, order.currency, destination=destination, rates=rates, rules=rules)
        if floor is not None and not (order.flags or {}).get("accept_low_margin"):
            held = _margin_hold(uow, order, plan, floor)
            if held:
                for line in pending:
                    line.routing = {**(plan[line.id].as_dict() if line.id in plan else {}),
                                    "excluded": (line.routing or {}).get("excluded", [])}
                order.hold_reason = held
                order.status = advance("order", order.status, OrderStatus.ON_HOLD)
                order.updated_at = now
                raise_alert(uow, ctx, "order.margin_below_floor", f"order {order.external_id}: {held}",
                            order_id=order.id, store_id=order.store_id)
                audit(uow, ctx, "order.held", f"order:{order.id}", {"reason": held}, store_id=order.store_id)
                return "on hold: margin"
        stale = _stale_conversions(ctx, uow, order, plan, context, now)
        if stale:
            return _hold_for_fx(ctx, uow, order, pending, plan, stale, now)
        raced = False
        for req in requests:
            line = next(ln for ln in pending if ln.id == req.line_id)
            decision = plan[line.id]
            previous = line.routing or {}
            line.routing = {**decision.as_dict(), "excluded": sorted(req.excluded - excluded_now[line.id]),
                            "attempt": previous.get("attempt", 0) + 1,
                            **({"rejected_by": previous["rejected_by"]} if "rejected_by" in previous else {})}
            if decision.offer_id is None:
                line.status = LineStatus.UNROUTABLE
                line.offer_id = None
                unroutable.append(line)
                routed.append(line)
                continue
            offer, supplier, terms = context[line.id][decision.offer_id]
            if not uow.offers.try_reserve(offer.id, line.quantity, terms.buffer):
                excluded_now[line.id].add(offer.id)  # taken by a concurrent order: decide again
                raced = True
                continue
            uow.add(Reservation(offer_id=offer.id, order_line_id=line.id, quantity=line.quantity,
                                created_at=now))
            line.status = LineStatus.ROUTED
            line.offer_id = offer.id
            assigned[line.id] = (offer, supplier, terms)
            _note_fx(order, offer.currency, rates, sources)
            routed.append(line)
        if not raced:
            break
        uow.flush()  # keep what this pass decided, then re-read stock that other orders changed
        uow.session.expire_all()

    by_supplier: dict[int, list] = defaultdict(list)
    for line in pending:
        if line.id in assigned:
            offer, supplier, terms = assigned[line.id]
            by_supplier[supplier.id].append((line, offer, supplier, terms))
    for items in by_supplier.values():
        _, _, supplier, terms = items[0]
        _write_supplier_order(ctx, uow, order, supplier, terms, [(ln, of) for ln, of, _, _ in items], rates,
                              inputs.next_seq(order.id, supplier.id))

    still_pending = [ln for ln in pending if ln.status == LineStatus.PENDING]
    for line in still_pending:  # lost every race for stock: nothing left to take
        line.status = LineStatus.UNROUTABLE
        line.routing = {**(line.routing or {}), "reason": "stock taken by concurrent orders"}
        unroutable.append(line)
    if unroutable:
        order.hold_reason = "lines without an eligible supplier"
        order.status = advance("order", order.status, OrderStatus.ON_HOLD)
        for line in unroutable:
            raise_alert(uow, ctx, "order.unroutable",
                        f"order {order.external_id} line {line.line_no} ({line.sku} x{line.quantity}): "
                        f"{line.routing['reason']}", severity="error", order_id=order.id,
                        store_id=order.store_id, dedupe_key=f"order.unroutable:{order.id}:{line.line_no}")
    elif order.status != OrderStatus.ROUTED and all(ln.status != LineStatus.PENDING for ln in order.lines):
        order.hold_reason = None
        order.status = advance("order", order.status, OrderStatus.ROUTED)
    order.updated_at = now
    audit(uow, ctx, "order.routed", f"order:{order.id}",
          {"lines": {ln.line_no: (ln.routing or {}).get("reason") for ln in pending},
           "unroutable": [ln.line_no for ln in unroutable]}, store_id=order.store_id)
    return "routed" if not unroutable else "on hold"


def shipping_quotes(ctx, order_id: int) -> dict[int, ShippingOption | str]:
    """Per supplier able to quote shipping and offering some pending line of the order: the cheapest option
    it quotes for those lines to the order's address, or why there is none (then its configured terms
    apply). Asked outside any transaction; a supplier that fails does not stop the others."""
    return shipping_quotes_many(ctx, [order_id]).get(order_id, {})


def shipping_quotes_many(ctx, order_ids: list[int]) -> dict[int, dict[int, ShippingOption | str]]:
    """`shipping_quotes` for many orders ({order id: its quotes}), read in one transaction; when no supplier
    can quote shipping at all, nothing more is read."""
    asks: dict[int, tuple] = {}  # order id -> (ship_to, currency, {supplier id: (supplier, [items])})
    with ctx.uow(read_only=True) as uow:
        if not any(ctx.supplier_can(s, Capability.SHIPPING_QUOTE) for s in uow.suppliers.all()):
            return {}
        for order_id in order_ids:
            order: Order | None = uow.get(Order, order_id)
            if order is None or order.status not in ROUTABLE:
                continue
            ship_to = order.ship_to or {}
            if not ship_to.get("country_code"):
                continue
            wanted: dict[int, tuple] = {}  # supplier id -> (supplier, [items])
            for line in order.lines:
                if line.status != LineStatus.PENDING:
                    continue
                variant_id = line.variant_id
                if variant_id is None:
                    variant = uow.catalog.variant_by_sku(line.sku)
                    variant_id = variant.id if variant else None
                for offer, supplier in uow.offers.candidates(variant_id) if variant_id else []:
                    if offer.quarantined_at is None and ctx.supplier_can(supplier, Capability.SHIPPING_QUOTE):
                        wanted.setdefault(supplier.id, (supplier, []))[1].append(
                            SupplierOrderItem(offer.supplier_sku, line.quantity))
            if wanted:
                asks[order_id] = (ship_to, order.currency, wanted)
    return {order_id: _ask_quotes(ctx, order_id, *ask) for order_id, ask in asks.items()}


def _ask_quotes(ctx, order_id: int, ship_to: dict, currency: str, wanted: dict) -> dict[int, ShippingOption | str]:
    quotes: dict[int, ShippingOption | str] = {}
    for supplier_id, (supplier, items) in wanted.items():
        cur = (supplier.config or {}).get("currency", currency)  # the currency its terms are in
        request = ShippingQuoteRequest(items=tuple(items), country_code=ship_to["country_code"],
                                       postal_code=ship_to.get("postal_code") or "",
                                       province_code=ship_to.get("province_code") or "", currency=cur,
                                       city=ship_to.get("city") or "", address1=ship_to.get("address1") or "")
        try:
            quoter: ShippingQuoter = ctx.supplier_connector(supplier, Capability.SHIPPING_QUOTE)
            options = quoter.quote_shipping(request)
        except Exception as exc:  # noqa: BLE001 - routing goes on with the configured terms
            log.warning("shipping quote failed", supplier=supplier.name, order=order_id, error=str(exc))
            quotes[supplier_id] = f"shipping quote failed, configured shipping used: {str(exc)[:150]}"
            continue
        usable = [o for o in options if o.cost.currency == cur]
        if not usable:
            quotes[supplier_id] = (f"shipping quote offered no method in {cur}, configured shipping used"
                                   if options else "shipping quote offered no method, configured shipping used")
            continue
        quotes[supplier_id] = min(usable, key=lambda o: (o.cost.amount, o.max_days or 0, o.method))
    return quotes


def _quoted_terms(terms: SupplierTerms, quote: ShippingOption | str | None) -> SupplierTerms:
    if quote is None:
        return terms
    if isinstance(quote, str):
        return replace(terms, note=quote)
    return replace(terms, shipping=quote.cost, shipping_method=quote.method,
                   note=f"shipping quoted: {quote.name or quote.method} {quote.cost}")


def _candidates(ctx, inputs, order, line, destination, outcomes, measured, now, quotes=None):
    rows = inputs.candidates(line.variant_id) if line.variant_id else []
    cands, by_offer = [], {}
    for offer, supplier in rows:
        orderable = ctx.supplier_can(supplier, Capability.ORDERS)
        terms = _quoted_terms(supplier_terms(supplier, destination, order.currency), (quotes or {}).get(supplier.id))
        good, bad = outcomes.get(supplier.id, (0, 0))
        days = measured.get(supplier.id, [])
        lead = round(median(days)) if len(days) >= 3 else (offer.lead_time_days or terms.lead_time_days)
        age = (now - offer.as_of).total_seconds() / 3600 if offer.as_of else None
        cands.append(Candidate(
            offer_id=offer.id, supplier_id=supplier.id, supplier=supplier.name, supplier_sku=offer.supplier_sku,
            unit_cost=offer.cost, shipping=terms.shipping, stock=offer.stock, reserved=offer.reserved,
            buffer=terms.buffer, lead_time_days=lead, fees=terms.fees, ships_to=terms.ships_to,
            feed_age_hours=age, stale_after_hours=terms.stale_after_hours,
            # four notional good orders first, so one early refusal does not condemn a new supplier
            reliability=(good + 4) / (good + bad + 4), note=terms.note,
            quarantined=(f"the supplier SKU now names another item ({describe(offer.drift or {})}); "
                         f"`dropbridge offers confirm` or `remap` it" if offer.quarantined_at else None),
            order_path=None if orderable else f"{supplier.kind} supplier takes no orders (no order path)"))
        by_offer[offer.id] = (offer, supplier, terms)
    return cands, by_offer


def _margin_hold(uow, order, plan, floor: Decimal) -> str | None:
    """Expected margin of the plan (revenue and fees already in the ledger, plus the planned landed
    costs); a reason to hold when it falls below the floor."""
    if any(d.offer_id is None for d in plan.values()):
        return None  # unroutable lines hold the order anyway
    entries = [(e.kind, e.amount) for e in uow.ledger.for_order(order.id)]
    landed = sum((d.landed_cost.amount for d in plan.values() if d.landed_cost), 0)
    entries.append((EntryKind.SUPPLIER_COST, Money(-landed, order.currency)))
    totals = margin(entries, order.currency)
    revenue = totals["revenue_total"].amount
    pct = Decimal(totals["margin"].amount * 100) / revenue if revenue else Decimal(0)
    if pct < floor:
        return f"expected margin {pct:.1f}% ({totals['margin']}) is below the {floor}% floor"
    return None


def _stale_conversions(ctx, uow, order, plan, context, now) -> list[str]:
    """The conversions the plan needs (goods, shipping and fees of each chosen offer into the order's
    currency) whose newest rate is older than DROPBRIDGE_FX_MAX_AGE_HOURS."""
    pairs = set()
    for line_id, decision in plan.items():
        if decision.offer_id is None:
            continue
        offer, _, terms = context[line_id][decision.offer_id]
        pairs |= {(c, order.currency) for c in (offer.currency, terms.shipping.currency) if c != order.currency}
    return stale_rates(uow, pairs, now, ctx.settings.fx_max_age_hours) if pairs else []


def _hold_for_fx(ctx, uow, order, pending, plan, stale: list[str], now) -> str:
    """Hold rather than buy at a stale rate: the lines stay pending, and a fresh import routes them again."""
    for line in pending:
        line.routing = {**(plan[line.id].as_dict() if line.id in plan else {}),
                        "excluded": (line.routing or {}).get("excluded", [])}
    reason = (f"FX rate older than {ctx.settings.fx_max_age_hours:g} h: {', '.join(stale)}; import fresh rates "
              "(`dropbridge fx fetch` or `fx import`)")
    order.hold_reason = reason[:500]
    order.status = advance("order", order.status, OrderStatus.ON_HOLD)
    order.updated_at = now
    raise_alert(uow, ctx, "fx.stale", f"order {order.external_id}: {reason}"[:1000], order_id=order.id,
                store_id=order.store_id, dedupe_key=f"fx.stale:{order.id}")
    audit(uow, ctx, "order.held", f"order:{order.id}", {"reason": reason[:300]}, store_id=order.store_id)
    return "on hold: fx"


def _note_fx(order, currency, rates, sources) -> None:
    if currency != order.currency:
        key = f"{currency}->{order.currency}"
        order.fx = {**(order.fx or {}), key: {"rate": str(rates[(currency, order.currency)]),
                                              "source": sources.get((currency, order.currency), "")}}


def _write_supplier_order(ctx, uow, order, supplier, terms, items, rates, seq: int) -> SupplierOrder:
    now = ctx.clock()
    key = f"db-{order.id}-{supplier.id}-{seq}"  # derived from our ids: the supplier's external reference
    shipping = terms.shipping + (terms.fees or Money.zero(terms.shipping.currency))
    so = SupplierOrder(supplier_id=supplier.id, order_id=order.id, idempotency_key=key,
                       currency=terms.shipping.currency, shipping_cost_minor=shipping.amount, created_at=now,
                       updated_at=now, shipping_method=terms.shipping_method)
    for line, offer in items:
        so.lines.append(SupplierOrderLine(order_line_id=line.id, supplier_sku=offer.supplier_sku,
                                          quantity=line.quantity, unit_cost_minor=offer.cost_minor,
                                          currency=offer.currency))
    uow.add(so)
    uow.flush()
    # What we expect to pay, recorded at order time in the order's currency (at the stored rate);
    # supplier invoices are reconciled against these.
    goods = Money.zero(order.currency)
    for line, offer in items:
        cost, _ = convert(offer.cost * line.quantity, order.currency, rates)
        goods = goods + cost
        uow.add(LedgerEntry(order_id=order.id, order_line_id=line.id, store_id=order.store_id,
                            supplier_id=supplier.id, kind=EntryKind.SUPPLIER_COST,
                            amount_minor=signed(EntryKind.SUPPLIER_COST, cost).amount, currency=cost.currency,
                            memo=f"{so.idempotency_key}: {line.quantity} x {offer.supplier_sku}"
                                 + (f" ({offer.cost * line.quantity})" if offer.currency != order.currency else ""),
                            created_at=now))
    # Each charge as its own kind, in the order's currency; memos start with the key, so a cancellation or
    # a refusal reverses them (supplier_replies.reverse_expected_costs).
    cur = terms.shipping.currency
    units = sum(line.quantity for line, _ in items)
    fee = (terms.fees or Money.zero(cur)) + (terms.handling_per_unit or Money.zero(cur)) * units
    commission = Money.zero(order.currency)
    if terms.commission:  # on the goods as recorded above, plus the fixed part at the order's rate
        fixed = terms.commission.fixed
        commission = goods.percent(terms.commission.percent) + (
            convert(fixed, order.currency, rates)[0] if fixed.amount else Money.zero(order.currency))
    charges = [(EntryKind.SUPPLIER_SHIPPING, terms.shipping, so.idempotency_key),
               (EntryKind.SUPPLIER_FEE, fee, f"{so.idempotency_key}: order and handling fees"),
               (EntryKind.COMMISSION, commission,
                f"{so.idempotency_key}: commission {terms.commission.describe() if terms.commission else ''}")]
    for kind, amount, memo in charges:
        if amount.amount:
            converted = amount if amount.currency == order.currency else convert(amount, order.currency, rates)[0]
            uow.add(LedgerEntry(order_id=order.id, store_id=order.store_id, supplier_id=supplier.id, kind=kind,
                                amount_minor=signed(kind, converted).amount, currency=converted.currency,
                                memo=memo, created_at=now))
    # The key is new (the supplier order's unique key was just taken), so no job can hold it yet: no look-up.
    schedule(uow, ctx, "submit_supplier_order", f"submit:{key}", {"supplier_order_id": so.id}, new=True,
             batch=True)
    return so
