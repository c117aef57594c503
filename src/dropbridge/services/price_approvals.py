"""The approval queue of price changes the guards stopped: list, approve (the price goes live by a push job
scheduled in the same transaction), reject (the store keeps its price; the same move is not asked again).
Every decision is audited with who took it."""

from __future__ import annotations

from dropbridge.domain.errors import NotFound, ValidationError
from dropbridge.domain.money import Money

from .records import audit, schedule_repricing


def _money(minor, currency) -> str | None:
    return None if minor is None else str(Money(minor, currency).to_decimal())


def describe_change(change, store: str, sku: str) -> dict:
    return {"id": change.id, "store": store, "sku": sku, "currency": change.currency,
            "old_price": _money(change.old_price_minor, change.currency),
            "new_price": _money(change.new_price_minor, change.currency),
            "old_compare_at": _money(change.old_compare_minor, change.currency),
            "new_compare_at": _money(change.new_compare_minor, change.currency),
            "landed_cost": _money(change.cost_minor, change.currency), "reason": change.reason,
            "created_at": change.created_at.isoformat() if change.created_at else None}


def pending_prices(ctx, store_name: str | None = None) -> list[dict]:
    with ctx.uow(read_only=True) as uow:
        store_id = None
        if store_name is not None:
            store = uow.stores.by_name(store_name)
            if store is None:
                raise NotFound(f"no store named {store_name!r}")
            store_id = store.id
        return [describe_change(c, store, sku) for c, store, sku in uow.price_changes.pending(store_id)]


def decide_prices(ctx, ids: list[int] | None, *, approve: bool, store_name: str | None = None,
                  allowed_store=None) -> list[dict]:
    """Approve or reject pending changes: the given ids, or every pending one (ids None), optionally of one
    store. `allowed_store(name)` may refuse a store (an API token limited to others). Returns what was decided."""
    if ids is not None and not ids:
        raise ValidationError("name at least one price change id, or all of them", "id")
    with ctx.uow() as uow:
        store_id = None
        if store_name is not None:
            store = uow.stores.by_name(store_name)
            if store is None:
                raise NotFound(f"no store named {store_name!r}")
            store_id = store.id
        rows = uow.price_changes.pending(store_id, ids)
        if ids is not None:
            missing = sorted(set(ids) - {c.id for c, _, _ in rows})
            if missing:
                raise NotFound(f"no pending price change {', '.join(map(str, missing))}")
        if allowed_store is not None:
            for _, store, _ in rows:
                allowed_store(store)
        now = ctx.clock()
        verb = "approved" if approve else "rejected"
        stores: dict[int, str] = {}
        decided = []
        for change, store, sku in rows:
            change.status, change.decided_at, change.decided_by = verb, now, ctx.actor[:100]
            stores[change.store_id] = store
            detail = describe_change(change, store, sku)
            decided.append(detail)
            audit(uow, ctx, f"price.{verb}", f"price_change:{change.id}",
                  {k: detail[k] for k in ("store", "sku", "old_price", "new_price", "new_compare_at", "reason")},
                  store_id=change.store_id)
        if approve and rows:
            last = max(c.id for c, _, _ in rows)
            schedule_repricing(uow, ctx, f"approved:{last}", sorted(stores.items()))
        uow.commit()
    return decided
