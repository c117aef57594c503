"""The periodic pull: recent orders read from each store's API, so an order whose webhook never came
(WooCommerce never retries; any platform can drop one) is still taken in, exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta

from .cancel_order import cancel_order
from .ingest_order import ingest_order
from .record_refund import record_refund
from .records import audit, log

OVERLAP = timedelta(minutes=10)  # re-read a little of the last window: clocks and indexing lag differ
FIRST_LOOKBACK = timedelta(days=2)
MAX_PAGES = 50


def pull_orders(ctx, store_name: str) -> dict[str, int]:
    """Returns counts: seen, created, cancelled."""
    with ctx.uow(read_only=True) as uow:
        store = uow.stores.by_name(store_name)
    started = ctx.clock()
    last = (store.config or {}).get("last_order_pull_at")
    since = (datetime.fromisoformat(last) - OVERLAP) if last else started - FIRST_LOOKBACK
    connector = ctx.store_connector(store)
    counts = {"seen": 0, "created": 0, "cancelled": 0}
    cursor = None
    for _ in range(MAX_PAGES):
        page = connector.fetch_orders(cursor=cursor, since=since)
        for order in page.items:
            counts["seen"] += 1
            if order.cancelled:
                known = _known(ctx, store.id, order.external_id)
                if known and cancel_order(ctx, known, "cancelled in the store (found by the periodic pull)") \
                        == "cancelled":
                    counts["cancelled"] += 1
                continue
            if ingest_order(ctx, store.name, order, source="pull").created:
                counts["created"] += 1
            for refund in order.refunds:  # recorded once each, however often the pull sees them
                record_refund(ctx, store, refund)
        cursor = page.next_cursor
        if not cursor:
            break
    with ctx.uow() as uow:
        fresh = uow.stores.by_name(store_name)
        fresh.config = {**(fresh.config or {}), "last_order_pull_at": started.isoformat()}
        audit(uow, ctx, "orders.pulled", f"store:{store.name}", {**counts, "since": since.isoformat()},
              store_id=store.id)
        uow.commit()
    if counts["created"]:
        log.warning("orders found by pull that no webhook delivered", store=store.name, created=counts["created"])
    return counts


def _known(ctx, store_id: int, external_id: str) -> int | None:
    with ctx.uow(read_only=True) as uow:
        found = uow.orders.by_external_id(store_id, external_id)
        return found.id if found else None


def pull_all(ctx) -> dict[str, dict[str, int]]:
    """Every store that can be asked for its orders; one store's failure does not stop the others."""
    with ctx.uow(read_only=True) as uow:
        names = [s.name for s in uow.stores.all() if s.platform != "headless" or (s.config or {}).get("orders_url")]
    out = {}
    for name in names:
        try:
            out[name] = pull_orders(ctx, name)
        except Exception as exc:  # noqa: BLE001 - reported, retried next period
            log.warning("order pull failed", store=name, error=str(exc))
    return out
