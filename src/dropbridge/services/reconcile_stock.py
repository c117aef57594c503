"""Periodic stock reconciliation: whatever a crash, a lost job or an edit in the store's admin left behind,
every listing ends up showing what we promise.

A store whose stock can be read back (capability STOCK_READ) is compared as it stands; any other is compared against
what we last pushed to it. Only the differences are pushed, through the connector's own push path, which
keeps each platform's rate budget.
"""

from __future__ import annotations

from dropbridge.services.ports import Capability

from .publish_listings import PushSummary, listed_stock, push_stock, send_stock
from .records import log


def reconcile_store(ctx, store_name: str) -> PushSummary:
    store, listings, atp = listed_stock(ctx, store_name)
    if not ctx.connectors.info("store", store.platform).has(Capability.STOCK_READ):
        return push_stock(ctx, store_name)
    connector = ctx.store_connector(store, Capability.STOCK_READ)
    listed = [ls for ls in listings if ls.external_variant_id]
    shown = connector.read_stock([ls.external_variant_id for ls in listed])
    changed = []
    for ls in listed:
        promised = atp.get(ls.variant_id, 0)
        # A variant the store did not report is judged by what we last pushed, like a store we cannot read.
        current = shown.get(ls.external_variant_id, ls.pushed_stock)
        if current != promised:
            changed.append((ls, promised))
    return send_stock(ctx, store, listings, changed, action="stock.reconciled", settles=listings)


def reconcile_all(ctx) -> dict[str, str]:
    """Every store with listings; one store's failure does not stop the others (it is tried next period)."""
    with ctx.uow(read_only=True) as uow:
        names = [name for _, name in uow.listings.stores_with_listings()]
    out = {}
    for name in names:
        try:
            summary = reconcile_store(ctx, name)
            out[name] = f"{summary.changes} changes, {len(summary.failed)} failed"
        except Exception as exc:  # noqa: BLE001 - reported; the next period tries again
            out[name] = f"failed: {exc}"
            log.warning("stock reconciliation failed", store=name, error=str(exc))
    return out
