"""Send a supplier order exactly once, through the supplier's order desk (Capability.ORDERS).

The order row and its key were written with the routing decision. Before any repeat attempt we ask the
supplier whether the earlier one landed (`find_order(key)`), because a timeout or a crash after the
request left tells us nothing. A supplier that cannot be asked (email, EDI) answers CANNOT_KNOW: then we
never resend on our own; the order is marked failed with an alert, and only the merchant's `orders retry`
sends it again. Retryable failures propagate to the job runner (backoff, Retry-After); a rejection (out of
stock, refused) releases the stock and re-routes the lines to the next offer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dropbridge.domain.errors import AlreadyPlaced, AuthExpired, NotSent, PermanentError, RateLimited
from dropbridge.domain.model import Order, Store, Supplier, SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.domain.states import LineStatus, OrderStatus, SupplierOrderStatus, advance
from dropbridge.services.ports import (
    CANNOT_KNOW,
    Address,
    Branding,
    Capability,
    OrderDesk,
    PlacedOrder,
    Placement,
    SupplierOrderItem,
    SupplierOrderLineRequest,
    SupplierOrderRequest,
)
from dropbridge.services.ports import PrintFile as PrintFileSpec

from .cost_variance import record_cost_variance
from .payables import owe_at_placement
from .records import audit, raise_alert, schedule
from .supplier_replies import return_lines_to_routing

# Failures that say the supplier did not act on the request: throttled, credentials refused, or never sent.
NOT_ACTED = (RateLimited, AuthExpired, NotSent)

# The most supplier orders of one batch in flight at once (each is one HTTP request to its supplier).
SEND_THREADS = 16


@dataclass
class _Prepared:
    """What sending one supplier order needs, read before any request goes out."""

    supplier_order_id: int
    supplier: Supplier
    desk: OrderDesk
    request: SupplierOrderRequest
    key: str
    first_try: bool
    resend_allowed: bool


def place_supplier_order(ctx, supplier_order_id: int, attempt: int = 1) -> str:
    with ctx.uow(read_only=True) as uow:
        prepared = _prepare(ctx, uow, supplier_order_id, attempt)
    if isinstance(prepared, str):
        return prepared
    sent = _send(ctx, prepared)
    if isinstance(sent, str):
        return sent
    with ctx.uow() as uow:
        outcome = _record_placed(ctx, uow, supplier_order_id, prepared.supplier, *sent)
        uow.commit()
    return outcome


def place_supplier_orders(ctx, items: list[tuple[int, int]]) -> dict[int, str | Exception]:
    """`place_supplier_order` for many (job kind submit_supplier_order, run in batches; items are (supplier
    order id, attempt)): {id: what it returns, or the exception it would raise}. The orders are read in one
    transaction, sent concurrently (still one request each, keyed by our ids), and what landed is recorded
    in one transaction, each in a savepoint. Nothing here raises once a request went out: an order that
    landed but could not be recorded gets the error, so its job retries, and the retry asks the supplier
    before sending (a repeat attempt always does)."""
    results: dict[int, str | Exception] = {}
    prepared: dict[int, _Prepared] = {}
    with ctx.uow(read_only=True) as uow:
        # Read together up front; the loop below then finds them in the session.
        sos = uow.supplier_orders.by_ids([so_id for so_id, _ in items])
        uow.orders.by_ids([so.order_id for so in sos.values()])
        for so_id, attempt in items:
            if so_id in prepared or so_id in results:
                continue
            found = _prepare(ctx, uow, so_id, attempt)
            if isinstance(found, str):
                results[so_id] = found
            else:
                prepared[so_id] = found
    if not prepared:
        return results

    def send(p: _Prepared):
        try:
            return _send(ctx, p)
        except Exception as exc:  # noqa: BLE001 - this order's job retries or fails with it, alone
            return exc

    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(prepared)), thread_name_prefix="send") as pool:
        sent = dict(zip(prepared, pool.map(send, prepared.values()), strict=True))
    placed = {}
    for so_id, outcome in sent.items():
        if isinstance(outcome, (str, Exception)):
            results[so_id] = outcome
        else:
            placed[so_id] = outcome
    if placed:
        try:
            with ctx.uow() as uow:
                # Locked up front, each table in id order (as routing locks orders before offers): one
                # statement each instead of two per order.
                uow.supplier_orders.lock_many(list(placed))
                uow.orders.lock_many([uow.get(SupplierOrder, so_id).order_id for so_id in placed])
                for so_id in sorted(placed):
                    try:
                        with uow.savepoint():
                            results[so_id] = _record_placed(ctx, uow, so_id, prepared[so_id].supplier,
                                                            *placed[so_id], locked=True)
                    except Exception as exc:  # noqa: BLE001 - recorded by its retry, which looks it up first
                        results[so_id] = exc
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - as above, for every order of the failed transaction
            for so_id in placed:
                results[so_id] = exc
    return results


def _prepare(ctx, uow, supplier_order_id: int, attempt: int) -> _Prepared | str:
    so: SupplierOrder = uow.get(SupplierOrder, supplier_order_id)
    if so is None or so.status != SupplierOrderStatus.PENDING:
        return "already handled"
    supplier = uow.get(Supplier, so.supplier_id)
    order = uow.get(Order, so.order_id)
    return _Prepared(supplier_order_id, supplier, ctx.supplier_connector(supplier, Capability.ORDERS),
                     order_request(uow, so, order), so.idempotency_key,
                     first_try=attempt <= 1 and so.last_error is None, resend_allowed=bool(so.resend_allowed))


def _send(ctx, p: _Prepared) -> tuple[PlacedOrder, bool] | str:
    """Ask (on a repeat attempt) and send: (what landed, whether an earlier attempt had), or the outcome when
    nothing is to be recorded; retryable failures raise, after noting the attempt."""
    supplier_order_id, supplier, desk = p.supplier_order_id, p.supplier, p.desk
    placed = None if p.first_try else desk.find_order(p.key)
    if placed is CANNOT_KNOW:
        if not p.resend_allowed:
            _cannot_know(ctx, supplier_order_id, supplier.name)
            return "cannot know whether it landed: waiting for the merchant"
        _use_resend(ctx, supplier_order_id)  # once: a crash during this send must not allow another
        placed = None
    found_earlier = placed is not None
    if placed is None:
        try:
            placed = desk.place_order(p.request)
        except PermanentError as exc:
            _reject(ctx, supplier_order_id, str(exc))
            return "rejected"
        except AlreadyPlaced as exc:
            _already_placed(ctx, supplier_order_id, supplier.name, str(exc))
            return "already at the supplier, its id unknown: waiting for the merchant"
        except NOT_ACTED as exc:
            # Refused before it acted: nothing of this attempt landed, so the next one may send without
            # asking (what a supplier that cannot be asked needs, or every throttle would need a person).
            _note_error(ctx, supplier_order_id, exc, resend_allowed=True)
            raise
        except Exception as exc:
            _note_error(ctx, supplier_order_id, exc)
            raise
    return placed, found_earlier


def _record_placed(ctx, uow, supplier_order_id: int, supplier: Supplier, placed: PlacedOrder,
                   found_earlier: bool, *, locked: bool = False) -> str:
    """What landed at the supplier, recorded in the caller's transaction (the caller commits); `locked`: the
    caller holds the supplier order's and its order's row locks and read them inside them."""
    lock = uow.get if locked else uow.get_for_update
    so = lock(SupplierOrder, supplier_order_id)
    if so.status == SupplierOrderStatus.CANCELLED and not so.external_id:
        # The store cancelled while our request was in flight: the supplier holds an order we no
        # longer want. Remember its id and ask the supplier to cancel it.
        so.external_id = placed.external_id
        schedule(uow, ctx, "cancel_supplier_order", f"cancel:{so.idempotency_key}:late",
                 {"supplier_order_id": so.id, "late": True})
        return "landed after cancellation: cancelling at the supplier"
    if so.status != SupplierOrderStatus.PENDING:
        return "already handled"
    now = ctx.clock()
    so.status = advance("supplier order", so.status, SupplierOrderStatus.SUBMITTED)
    so.external_id = placed.external_id or None  # a PO sent by email or queued has no supplier id yet
    so.submitted_at = now
    so.updated_at = now
    so.last_error = None
    so.resend_allowed = False
    so.placement = str(placed.placement)
    record_stated_cost(so, placed.cost, placed.shipping_cost)
    order = lock(Order, so.order_id)
    record_cost_variance(uow, so, order, now)
    _maybe_mark_submitted(uow, order, now)
    owe_at_placement(uow, ctx, uow.get(Supplier, so.supplier_id), so)
    if placed.placement == Placement.AWAITING_PAYMENT:
        raise_alert(uow, ctx, "supplier_order.awaiting_payment",
                    f"{so.idempotency_key} was created at {supplier.name} ({placed.external_id}) and waits "
                    "for payment there", order_id=order.id, supplier_id=so.supplier_id)
    audit(uow, ctx, "supplier_order.submitted", f"supplier_order:{so.id}",
          {"key": so.idempotency_key, "external_id": placed.external_id, "found_earlier": found_earlier,
           "placement": str(placed.placement)},
          supplier_id=so.supplier_id, store_id=order.store_id)
    return "found earlier attempt" if found_earlier else "submitted"


def order_request(uow, so: SupplierOrder, order: Order) -> SupplierOrderRequest:
    """What the supplier is sent: the items, and what richer suppliers take (expected unit costs, titles,
    print files attached to the SKU, the store's packing-slip branding)."""
    lines_by_id = {ln.id: ln for ln in order.lines}
    files = uow.catalog.print_files([lines_by_id[sl.order_line_id].sku for sl in so.lines])
    variants = uow.catalog.variants_by_id([ln.variant_id for ln in order.lines if ln.variant_id])
    lines = []
    for sl in so.lines:
        line = lines_by_id[sl.order_line_id]
        variant = variants.get(line.variant_id)
        lines.append(SupplierOrderLineRequest(
            supplier_sku=sl.supplier_sku, quantity=sl.quantity, unit_cost=Money(sl.unit_cost_minor, sl.currency),
            line_ref=str(line.id), title=(variant.title if variant else "") or "",
            print_files=tuple(PrintFileSpec(f.placement, f.url, f.technique) for f in files.get(line.sku, []))))
    store = uow.get(Store, order.store_id)
    slip = (store.config or {}).get("packing_slip") or {}
    branding = Branding(store_name=slip.get("store_name") or store.name, logo_url=slip.get("logo_url"),
                        message=slip.get("message") or "", customer_order_number=order.external_id)
    return SupplierOrderRequest(
        reference=so.idempotency_key,
        ship_to=Address(**{k: v for k, v in order.ship_to.items() if k in Address.__dataclass_fields__}),
        items=[SupplierOrderItem(ln.supplier_sku, ln.quantity) for ln in so.lines],
        email=order.email, shipping_method=so.shipping_method, lines=tuple(lines), branding=branding,
        currency=so.currency)


def record_stated_cost(so: SupplierOrder, cost: Money | None, shipping: Money | None = None) -> None:
    """Keep what the supplier says it will charge beside our estimate (reconciled against its invoice)."""
    if cost is not None:
        so.stated_cost_minor, so.stated_currency = cost.amount, cost.currency
    if shipping is not None and (cost is None or shipping.currency == cost.currency):
        so.stated_shipping_minor = shipping.amount
        so.stated_currency = shipping.currency


def _cannot_know(ctx, supplier_order_id: int, supplier_name: str) -> None:
    """An attempt went out and the supplier cannot be asked whether it arrived: resending on our own could
    make a second order, so stop and ask a person."""
    with ctx.uow() as uow:
        so = uow.get_for_update(SupplierOrder, supplier_order_id)
        if so.status != SupplierOrderStatus.PENDING:
            return
        so.status = advance("supplier order", so.status, SupplierOrderStatus.FAILED)
        so.updated_at = ctx.clock()
        raise_alert(uow, ctx, "supplier_order.unknown_outcome",
                    f"{so.idempotency_key}: an earlier attempt to send it to {supplier_name} may have arrived and "
                    f"{supplier_name} cannot be asked; check with the supplier, then `dropbridge orders retry "
                    f"{so.order_id}` to send it again", severity="error", order_id=so.order_id,
                    supplier_id=so.supplier_id)
        audit(uow, ctx, "supplier_order.unknown_outcome", f"supplier_order:{so.id}", {"key": so.idempotency_key},
              supplier_id=so.supplier_id)
        uow.commit()


def _maybe_mark_submitted(uow, order: Order, now) -> None:
    sos = uow.supplier_orders.for_order(order.id)
    live = [s for s in sos if s.status not in (SupplierOrderStatus.REJECTED, SupplierOrderStatus.CANCELLED)]
    lines_done = all(ln.status != LineStatus.PENDING for ln in order.lines)
    if (order.status == OrderStatus.ROUTED and lines_done
            and all(s.status != SupplierOrderStatus.PENDING for s in live)):
        order.status = advance("order", order.status, OrderStatus.SUBMITTED)
        order.updated_at = now


def _note_error(ctx, supplier_order_id: int, exc: Exception, *, resend_allowed: bool = False) -> None:
    """Remember that an attempt was made, so the next one looks the order up first (`resend_allowed`: the
    supplier said it did not act, so where it cannot be asked the next attempt may send anyway)."""
    with ctx.uow() as uow:
        so = uow.get(SupplierOrder, supplier_order_id)
        so.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        so.resend_allowed = resend_allowed
        so.updated_at = ctx.clock()
        uow.commit()


def _use_resend(ctx, supplier_order_id: int) -> None:
    """A permission to send without asking is used up before the send, not after: if this attempt dies
    mid-request, the next one must not take the same permission again."""
    with ctx.uow() as uow:
        so = uow.get_for_update(SupplierOrder, supplier_order_id)
        so.resend_allowed = False
        uow.commit()


def _already_placed(ctx, supplier_order_id: int, supplier_name: str, reason: str) -> None:
    """The supplier says an earlier attempt landed but not which order it became: neither resend nor
    re-route (that would ship twice); a person finds the order at the supplier."""
    with ctx.uow() as uow:
        so = uow.get_for_update(SupplierOrder, supplier_order_id)
        if so.status != SupplierOrderStatus.PENDING:
            return
        so.status = advance("supplier order", so.status, SupplierOrderStatus.FAILED)
        so.last_error = reason[:1000]
        so.resend_allowed = False
        so.updated_at = ctx.clock()
        raise_alert(uow, ctx, "supplier_order.already_placed",
                    f"{so.idempotency_key}: {supplier_name} says it already holds this order (an earlier attempt "
                    f"landed) but not under which order id: find it in your {supplier_name} account; do not "
                    f"re-route it unless you cancel it there first ({reason[:200]})", severity="error",
                    order_id=so.order_id, supplier_id=so.supplier_id)
        audit(uow, ctx, "supplier_order.already_placed", f"supplier_order:{so.id}",
              {"key": so.idempotency_key, "reason": reason[:300]}, supplier_id=so.supplier_id)
        uow.commit()


def _reject(ctx, supplier_order_id: int, reason: str) -> None:
    """The supplier refused: release stock, reverse the expected costs, send the lines back to routing
    with this supplier's offers excluded."""
    with ctx.uow() as uow:
        so = uow.get_for_update(SupplierOrder, supplier_order_id)
        if so.status != SupplierOrderStatus.PENDING:
            return
        order = uow.get_for_update(Order, so.order_id)
        return_lines_to_routing(uow, ctx, order, so, list(so.lines), reason)
        audit(uow, ctx, "supplier_order.rejected", f"supplier_order:{so.id}", {"reason": reason[:300]},
              supplier_id=so.supplier_id, store_id=order.store_id)
        uow.commit()
