"""Orders: a filtered, searchable page of them, and one order in full with its audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.states import OrderStatus
from dropbridge.services.order_view import order_detail

from .common import Paging, money

STATUSES = [s.value for s in OrderStatus]


def _date(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        from datetime import UTC

        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError(f"{field} must be a date like 2026-01-31", field) from None


def orders_page(ctx, *, status: str | None = None, store: str | None = None, supplier: str | None = None,
                since: str | None = None, until: str | None = None, q: str | None = None,
                page: int | None = 1) -> dict:
    if status and status not in STATUSES:
        raise ValidationError(f"status is one of {', '.join(STATUSES)}", "status")
    paging = Paging.of(page)
    start, end = _date(since, "from"), _date(until, "to")
    with ctx.uow(read_only=True) as uow:
        stores = {s.id: s.name for s in uow.stores.all()}
        suppliers = {s.id: s.name for s in uow.suppliers.all()}
        store_id = next((i for i, n in stores.items() if n == store), None) if store else None
        supplier_id = next((i for i, n in suppliers.items() if n == supplier), None) if supplier else None
        if (store and store_id is None) or (supplier and supplier_id is None):
            rows, total = [], 0
        else:
            rows, total = uow.dashboard.orders_page(
                status=status, store_id=store_id, supplier_id=supplier_id, since=start,
                until=end + timedelta(days=1) if end else None, q=(q or "").strip() or None,
                limit=paging.size, offset=paging.offset)
        totals = uow.dashboard.order_totals([o.id for o in rows])
    return {
        "orders": [{"id": o.id, "external_id": o.external_id, "store": stores.get(o.store_id), "status": o.status,
                    "email": o.email, "lines": len(o.lines), "hold_reason": o.hold_reason,
                    "total": f"{money(totals.get(o.id, 0) + o.shipping_price_minor, o.currency)} {o.currency}",
                    "created_at": o.created_at} for o in rows],
        "paging": paging.info(total),
        "stores": sorted(stores.values()),
        "suppliers": sorted(suppliers.values()),
        "statuses": STATUSES,
    }


def order_page(ctx, order_id: int) -> dict:
    """The API's order detail, plus what the dashboard shows beside it: audit trail, alerts, suppliers."""
    detail = order_detail(ctx, order_id)
    with ctx.uow(read_only=True) as uow:
        subjects = [f"order:{order_id}", *(f"supplier_order:{so['id']}" for so in detail["supplier_orders"]),
                    *(f"shipment:{i}" for i in uow.dashboard.shipment_ids_for_order(order_id))]
        trail = uow.dashboard.audit_for_subjects(subjects)
        alerts = uow.alerts.for_order(order_id)
        suppliers = [s.name for s in uow.suppliers.all()]
    detail["audit"] = [{"at": e.at, "actor": e.actor, "action": e.action, "subject": e.subject, "detail": e.detail}
                       for e in trail]
    detail["alerts"] = sorted(alerts, key=lambda a: a.id, reverse=True)
    detail["supplier_names"] = suppliers
    detail["margin_pct"] = _pct(detail["margin"])
    return detail


def _pct(margin: dict) -> str:
    try:
        revenue = float(margin.get("revenue_total", "0"))
        return f"{float(margin['margin']) / revenue * 100:.1f}" if revenue else ""
    except (KeyError, ValueError):
        return ""
