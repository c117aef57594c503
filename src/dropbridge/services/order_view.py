"""Read models: one order in full (as the API and CLI show it) and margin reports from the ledger."""

from __future__ import annotations

from collections.abc import Collection

from dropbridge.domain.errors import NotFound
from dropbridge.domain.ledger import margin
from dropbridge.domain.model import Order, Store, Supplier, SyncRun
from dropbridge.domain.money import Money

from .delivery_estimates import order_estimates
from .margin_report import margin_summary


def _money(amount: int, currency: str) -> str:
    return str(Money(amount, currency).to_decimal())


def order_detail(ctx, order_id: int) -> dict:
    with ctx.uow(read_only=True) as uow:
        order = uow.get(Order, order_id)
        if order is None:
            raise NotFound(f"no order {order_id}")
        store = uow.get(Store, order.store_id)
        records = {s.id: s for s in uow.suppliers.all()}
        suppliers = {i: s.name for i, s in records.items()}
        entries = uow.ledger.for_order(order.id)
        cur = order.currency
        totals = margin([(e.kind, e.amount) for e in entries], cur)
        sos = uow.supplier_orders.for_order(order.id)
        shipments = uow.shipments.for_order(order.id)
        estimates, estimate = order_estimates(uow, ctx.clock(), order, sos, records)
        return {
            "id": order.id,
            "store": store.name,
            "external_id": order.external_id,
            "status": order.status,
            "hold_reason": order.hold_reason,
            "currency": cur,
            "fx": order.fx,
            "email": order.email,
            "ship_to": order.ship_to,
            "created_at": order.created_at.isoformat(),
            "delivery_estimate": estimate,  # None until routed
            "lines": [
                {
                    "line_no": ln.line_no,
                    "external_id": ln.external_id,
                    "sku": ln.sku,
                    "quantity": ln.quantity,
                    "unit_price": _money(ln.unit_price_minor, cur),
                    "status": ln.status,
                    "routing": ln.routing,
                }
                for ln in order.lines
            ],
            "supplier_orders": [
                {
                    "id": so.id,
                    "supplier": suppliers.get(so.supplier_id),
                    "reference": so.idempotency_key,
                    "external_id": so.external_id,
                    "status": so.status,
                    "last_error": so.last_error,
                    "submitted_at": so.submitted_at.isoformat() if so.submitted_at else None,
                    "shipping_method": so.shipping_method,
                    "stated_cost": _money(so.stated_cost_minor, so.stated_currency)
                    if so.stated_cost_minor is not None else None,
                    "stated_shipping": _money(so.stated_shipping_minor, so.stated_currency)
                    if so.stated_shipping_minor is not None else None,
                    "lines": [{"line_no": next((ln.line_no for ln in order.lines if ln.id == sl.order_line_id),
                                               None),
                               "supplier_sku": sl.supplier_sku, "quantity": sl.quantity,
                               "unit_cost": _money(sl.unit_cost_minor, sl.currency)} for sl in so.lines],
                    "delivery_estimate": estimates.get(so.id),
                }
                for so in sos
            ],
            "shipments": [
                {
                    "supplier_order_id": sh.supplier_order_id,
                    "carrier": sh.carrier,
                    "tracking_number": sh.tracking_number,
                    "tracking_url": sh.tracking_url,
                    "pushed_to_store": sh.pushed_at is not None,
                    "held": sh.hold_reason,  # why it was not sent to the store (a failed tracking check)
                }
                for sh in shipments
            ],
            "margin": {k: str(v.to_decimal()) for k, v in totals.items()},
            "ledger": [
                {"kind": e.kind, "amount": _money(e.amount_minor, e.currency), "line_id": e.order_line_id,
                 "supplier": suppliers.get(e.supplier_id), "memo": e.memo}
                for e in entries
            ],
        }


def list_orders(ctx, limit: int = 50, status: str | None = None, stores: Collection[str] | None = None) -> list[dict]:
    """The latest orders; `stores`: only those of the stores named (None: every store)."""
    with ctx.uow(read_only=True) as uow:
        names = {s.id: s.name for s in uow.stores.all()}
        only = None if stores is None else [i for i, name in names.items() if name in stores]
        return [{"id": o.id, "store": names[o.store_id], "external_id": o.external_id, "status": o.status,
                 "lines": len(o.lines), "currency": o.currency, "created_at": o.created_at.isoformat()}
                for o in uow.orders.recent(limit, status, store_ids=only)]


def margin_report(ctx, by: str = "order", start=None, end=None) -> list[dict]:
    """The margin report's rows (services/margin_report.py): one per key and basis, from ledger entries only.

    By supplier or product, only entries tied to that supplier or line count (order-level fees and
    shipping revenue have no supplier or product)."""
    return margin_summary(ctx, by, start, end)["rows"]


def list_alerts(ctx, limit: int = 50) -> list[dict]:
    with ctx.uow(read_only=True) as uow:
        return [{"id": a.id, "kind": a.kind, "severity": a.severity, "message": a.message, "order_id": a.order_id,
                 "supplier_id": a.supplier_id, "store_id": a.store_id, "created_at": a.created_at.isoformat(),
                 "resolved": a.resolved_at is not None, "occurrences": a.occurrences}
                for a in uow.alerts.recent(limit)]


def list_audit(ctx, limit: int = 100) -> list[dict]:
    with ctx.uow(read_only=True) as uow:
        return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "subject": e.subject,
                 "detail": e.detail, "correlation_id": e.correlation_id} for e in uow.audit.recent(limit)]


def sync_run_supplier(ctx, run_id: int) -> str:
    """The name of the supplier a sync run read (NotFound when there is no such run)."""
    with ctx.uow(read_only=True) as uow:
        run = uow.get(SyncRun, run_id)
        if run is None:
            raise NotFound(f"no sync run {run_id}")
        return uow.get(Supplier, run.supplier_id).name


def sync_run_detail(ctx, run_id: int, rejects: int = 100) -> dict:
    with ctx.uow(read_only=True) as uow:
        run = uow.get(SyncRun, run_id)
        if run is None:
            raise NotFound(f"no sync run {run_id}")
        return {
            "id": run.id, "supplier_id": run.supplier_id, "source": run.source, "mode": run.mode,
            "status": run.status, "rows_read": run.rows_read, "changed": run.changed, "unchanged": run.unchanged,
            "zeroed": run.zeroed, "rejected": run.rejected, "report": run.report,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "rejects": [{"line": r.line, "field": r.field, "reason": r.reason, "raw": r.raw}
                        for r in uow.sync_runs.rejects(run_id, rejects)],
        }
