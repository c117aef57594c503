"""Periodic checks that raise alerts for conditions no single event announces (low stock, a feed gone
quiet, an order a supplier sits on) and resolve them once the condition has cleared. The scheduler runs
`run_checks` every DROPBRIDGE_ALERT_CHECK_SECONDS; raising is idempotent (one open alert per condition)."""

from __future__ import annotations

from datetime import timedelta

from dropbridge.domain.delivery import DEFAULT_LEAD_TIME_DAYS
from dropbridge.domain.model import Alert
from dropbridge.domain.states import OrderStatus

from .alert_delivery import retry_stalled_deliveries, schedule_digests
from .connections import supplier_setting
from .publish_listings import available_to_promise
from .records import log, raise_alert

DEFAULT_ACK_HOURS = 24.0
DEFAULT_PO_HOURS = 24.0
SHIP_GRACE_DAYS = 2


def _setting(ctx, name: str, default):
    return getattr(ctx.settings, name, default) if ctx.settings is not None else default


def _settle(uow, ctx, prefix: str, current: dict[str, dict]) -> None:
    """Raise an alert for each current condition (dedupe key -> raise_alert kwargs); resolve open alerts of
    this kind whose condition is gone."""
    for key, args in current.items():
        raise_alert(uow, ctx, dedupe_key=key, **args)
    gone = [alert_id for key, alert_id in uow.alerts.open_keys(prefix).items() if key not in current]
    uow.alerts.resolve(gone, ctx.clock(), "system", "condition cleared")


def check_low_stock(ctx) -> int:
    default = int(_setting(ctx, "low_stock_threshold", 5))
    with ctx.uow() as uow:
        candidates = uow.dashboard.low_stock_candidates()
        low: dict[str, dict] = {}
        for start in range(0, len(candidates), 1000):
            chunk = candidates[start:start + 1000]
            atp = available_to_promise(uow.listings.offers_for([c[0] for c in chunk]))
            for variant_id, sku, own in chunk:
                threshold = default if own is None else own
                units = atp.get(variant_id, 0)
                if threshold > 0 and units <= threshold:
                    low[f"stock.low:{sku}"] = {
                        "kind": "stock.low", "severity": "warning" if units else "error",
                        "message": f"{sku}: {units} unit(s) to promise, at or below the threshold of {threshold}"}
        _settle(uow, ctx, "stock.low", low)
        uow.commit()
    return len(low)


def check_feeds(ctx) -> int:
    """Stale: no applied run within the supplier's expected interval (config `feed_expected_hours`, or
    twice its feed URL's interval). Quarantined or failed feeds resolve once a later run applied."""
    now = ctx.clock()
    with ctx.uow() as uow:
        fresh = uow.dashboard.feed_freshness()
        stale: dict[str, dict] = {}
        for supplier in uow.suppliers.all():
            cfg = supplier.config or {}
            hours = cfg.get("feed_expected_hours")
            if hours is None and (cfg.get("feed_source") or {}).get("url"):
                hours = 2 * float(cfg["feed_source"].get("interval_seconds") or 3600) / 3600
            if hours is None:
                continue
            last_applied = fresh.get(supplier.id, (None, None))[0] or supplier.created_at
            if last_applied is not None and now - last_applied > timedelta(hours=float(hours)):
                stale[f"feed.stale:{supplier.id}"] = {
                    "kind": "feed.stale", "supplier_id": supplier.id,
                    "message": f"{supplier.name}: no feed applied since {last_applied:%Y-%m-%d %H:%M} UTC "
                               f"(expected every {float(hours):g} h)"}
        _settle(uow, ctx, "feed.stale", stale)
        # A quarantined or failed feed is over once a later run of that supplier applied.
        for prefix in ("feed.quarantined", "feed.failed"):
            over = []
            for key, alert_id in uow.alerts.open_keys(prefix).items():
                supplier_id = _ref(key, "supplier_id")
                last_applied = fresh.get(supplier_id, (None, None))[0] if supplier_id else None
                alert = uow.get(Alert, alert_id) if last_applied else None
                if alert is not None and last_applied > alert.last_seen_at:
                    over.append(alert_id)
            uow.alerts.resolve(over, now, "system", "a later feed applied")
        uow.commit()
    return len(stale)


def _ref(key: str, name: str) -> int | None:
    for part in key.split(":"):
        if part.startswith(f"{name}="):
            return int(part.split("=", 1)[1])
    return None


def check_supplier_orders(ctx) -> int:
    """Failed; not acknowledged within the supplier's `ack_hours` (never accepted by its API, or sent to a
    supplier that confirms later, by EDI 855 or email, and not confirmed); a manual supplier's purchase order
    not placed by a person within its `po_overdue_hours`; not shipped within its
    `lead_time_days` (plus a grace of two days); tracking not carried to the store within the hour."""
    now = ctx.clock()
    raised = 0
    with ctx.uow() as uow:
        suppliers = {s.id: s for s in uow.suppliers.all()}
        failed = {}
        for _so_id, key, supplier_id, order_id in uow.alerts.failed_submissions():
            failed[f"supplier_order.failed:{key}"] = {
                "kind": "supplier_order.failed", "severity": "error", "order_id": order_id,
                "supplier_id": supplier_id,
                "message": f"supplier order {key} to {suppliers[supplier_id].name} failed: retry or re-route it"}
        _settle(uow, ctx, "supplier_order.failed", failed)
        ack, ship = {}, {}
        ack_hours = {sid: float(supplier_setting(ctx, s, "ack_hours") or DEFAULT_ACK_HOURS)
                     for sid, s in suppliers.items()}
        shortest_ack = min(ack_hours.values(), default=DEFAULT_ACK_HOURS)
        waiting = uow.dashboard.supplier_orders_overdue(["pending"], now - timedelta(hours=shortest_ack)) \
            + uow.dashboard.awaiting_acknowledgement(now - timedelta(hours=shortest_ack))
        for _so_id, key, supplier_id, order_id, _, since in waiting:
            hours = ack_hours[supplier_id]
            if f"supplier_order.failed:{key}" not in failed and now - since > timedelta(hours=hours):
                ack[f"supplier_order.not_acknowledged:{key}"] = {
                    "kind": "supplier_order.not_acknowledged", "order_id": order_id, "supplier_id": supplier_id,
                    "message": f"{suppliers[supplier_id].name} has not acknowledged {key} within {hours:g} h"}
        _settle(uow, ctx, "supplier_order.not_acknowledged", ack)
        late_pos = {}
        for so in uow.supplier_orders.waiting(["awaiting_person"]):  # manual suppliers: a person orders it
            supplier = suppliers[so.supplier_id]
            hours = float(supplier_setting(ctx, supplier, "po_overdue_hours") or DEFAULT_PO_HOURS)
            since = so.submitted_at or so.created_at
            if since is not None and now - since > timedelta(hours=hours):
                late_pos[f"purchase_order.overdue:{so.idempotency_key}"] = {
                    "kind": "purchase_order.overdue", "order_id": so.order_id, "supplier_id": so.supplier_id,
                    "message": f"{so.idempotency_key} at {supplier.name} has waited {hours:g} h for a person to "
                               "order it (`dropbridge po placed`)"}
        _settle(uow, ctx, "purchase_order.overdue", late_pos)
        shortest_lead = min([int((s.config or {}).get("lead_time_days", DEFAULT_LEAD_TIME_DAYS))
                             for s in suppliers.values()] or [DEFAULT_LEAD_TIME_DAYS])
        for _so_id, key, supplier_id, order_id, _, submitted in uow.dashboard.supplier_orders_overdue(
                ["submitted"], now - timedelta(days=shortest_lead + SHIP_GRACE_DAYS), column="submitted_at"):
            days = int((suppliers[supplier_id].config or {}).get("lead_time_days", DEFAULT_LEAD_TIME_DAYS))
            if now - submitted > timedelta(days=days + SHIP_GRACE_DAYS):
                ship[f"supplier_order.not_shipped:{key}"] = {
                    "kind": "supplier_order.not_shipped", "order_id": order_id, "supplier_id": supplier_id,
                    "message": f"{suppliers[supplier_id].name} has not shipped {key} within {days} day(s) "
                               f"(+{SHIP_GRACE_DAYS} grace)"}
        _settle(uow, ctx, "supplier_order.not_shipped", ship)
        late_minutes = float(_setting(ctx, "tracking_late_minutes", 60))
        late = {}
        for shipment_id, number, order_id, store_id, supplier_id, _ in uow.dashboard.shipments_unpushed_before(
                now - timedelta(minutes=late_minutes)):
            late[f"tracking.late:{shipment_id}"] = {
                "kind": "tracking.late", "order_id": order_id, "store_id": store_id, "supplier_id": supplier_id,
                "message": f"tracking {number} has not reached the store after {late_minutes:g} min"}
        _settle(uow, ctx, "tracking.late", late)
        # Held or unroutable orders: over once the order is no longer on hold.
        over = [alert_id for alert_id, _, status in uow.alerts.open_for_orders(
            ["order.unroutable", "order.margin_below_floor", "fx.stale"]) if status != OrderStatus.ON_HOLD]
        uow.alerts.resolve(over, now, "system", "the order is no longer on hold")
        raised = len(failed) + len(ack) + len(late_pos) + len(ship) + len(late)
        uow.commit()
    return raised


CHECKS = (check_low_stock, check_feeds, check_supplier_orders)


def run_checks(ctx) -> dict[str, int]:
    """Every check, then digests that are due and deliveries to retry. One check's failure is logged and
    does not stop the others."""
    out = {}
    for check in (*CHECKS, schedule_digests, retry_stalled_deliveries):
        try:
            out[check.__name__] = check(ctx)
        except Exception as exc:
            log.warning("alert check failed", check=check.__name__, error=str(exc))
    return out
