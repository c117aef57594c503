"""The overview: today's orders and revenue, what needs action now, open alerts, feed freshness, pushes."""

from __future__ import annotations

from datetime import timedelta

from dropbridge.domain.ledger import EntryKind

from .common import money


def overview(ctx) -> dict:
    now = ctx.clock()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with ctx.uow(read_only=True) as uow:
        d = uow.dashboard
        revenue = d.ledger_sums_since(today, [EntryKind.REVENUE, EntryKind.SHIPPING_REVENUE])
        orders_today = d.orders_since(today)
        status_counts = d.order_status_counts()
        held = d.orders_with_status("on_hold", 10)
        stores = {s.id: s.name for s in uow.stores.all()}
        suppliers = uow.suppliers.all()
        awaiting_ack = d.count_supplier_orders(["pending"], now - timedelta(minutes=15))
        failed = d.count_supplier_orders(["failed"])
        open_alerts, open_total = uow.alerts.page(state="open", limit=8)
        overdue = uow.alerts.open_counts().get("supplier_order.not_shipped", 0)
        fresh = d.feed_freshness()
        runs = d.runs_by_id([last for _, last in fresh.values() if last])
        pushes = d.pending_jobs(["push_stock", "push_fulfillment"])
        unpushed = d.unpushed_shipments()
        failed_orders = d.supplier_orders_with_status(["failed"], limit=5)
        prices_pending = uow.price_changes.count_pending()
    feeds = []
    for s in suppliers:
        applied, last_id = fresh.get(s.id, (None, None))
        last = runs.get(last_id)
        feeds.append({"supplier": s.name, "last_applied": applied,
                      "age_hours": (now - applied).total_seconds() / 3600 if applied else None,
                      "last_status": last.status if last else None, "last_run_id": last_id})
    return {
        "today": {"orders": orders_today, "revenue": [f"{money(a, c)} {c}" for c, a in revenue]},
        "status_counts": status_counts,
        "needs_action": [
            {"label": "Orders on hold", "count": status_counts.get("on_hold", 0), "href": "/orders?status=on_hold"},
            {"label": "Supplier orders failed", "count": failed, "href": "/alerts?kind=supplier_order.failed"},
            {"label": "Awaiting supplier acknowledgement", "count": awaiting_ack, "href": "/orders?status=routed"},
            {"label": "Purchase orders overdue", "count": overdue, "href": "/alerts?kind=supplier_order.not_shipped"},
            {"label": "Awaiting payment", "count": status_counts.get("awaiting_payment", 0),
             "href": "/orders?status=awaiting_payment"},
            # Approved or rejected with `dropbridge prices approve|reject` or the API; the alert says which store.
            {"label": "Prices awaiting approval", "count": prices_pending, "href": "/alerts?kind=prices.pending"},
        ],
        "held": [{"id": o.id, "external_id": o.external_id, "store": stores.get(o.store_id), "reason": o.hold_reason,
                  "created_at": o.created_at} for o in held],
        "failed_supplier_orders": [{"key": r[1], "order_id": r[3], "order": r[4], "supplier": r[5]}
                                   for r in failed_orders],
        "alerts": open_alerts,
        "alerts_open": open_total,
        "feeds": feeds,
        "pushes_pending": pushes,
        "shipments_unpushed": unpushed,
    }

