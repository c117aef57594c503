"""Delivery estimates for the API (order detail, offers): each supplier's lead time as the vendor report
measures it (the same set-based ranks, over supplier orders placed in the last MEASURE_DAYS) or as
configured, plus its `transit_days` to the destination (domain/delivery.py)."""

from __future__ import annotations

from datetime import timedelta

from dropbridge.domain.delivery import Measured, Window, delivery_window

from .queries.vendors import median_p90

MEASURE_DAYS = 90  # recent enough to follow a supplier that got faster or slower
_NO_ESTIMATE = ("rejected", "failed", "cancelled")  # nothing of this supplier order is coming


def measured_lead_times(uow, now, supplier_ids=None) -> dict[int, Measured]:
    """Per supplier id (of `supplier_ids`, or every one): its shipped orders' lead-time figures (any count;
    the domain decides when enough)."""
    out = {}
    # From the start of that day: the same range all day long, so the storage layer can keep the answer.
    since = (now - timedelta(days=MEASURE_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    for supplier_id, ranks in uow.vendors.lead_time_ranks(since, None, supplier_ids).items():
        median, p90 = median_p90(ranks)
        out[supplier_id] = Measured(ranks[0], float(median), float(p90))
    return out


def supplier_window(supplier, measured: dict[int, Measured], country: str | None,
                    configured_days: int | None = None) -> Window:
    """`configured_days`: an offer's own stated lead time, which comes before the supplier's setting."""
    config = supplier.config or {}
    days = configured_days if configured_days is not None else config.get("lead_time_days")
    return delivery_window(configured_days=days, measured=measured.get(supplier.id),
                           transit=config.get("transit_days"), country=country)


def order_estimates(uow, now, order, supplier_orders, suppliers: dict) -> tuple[dict, dict | None]:
    """({supplier order id: estimate or None}, the whole order's estimate or None): an estimate is
    {"supplier", "earliest", "latest", "basis"} with ISO dates counted from the supplier order's placement.
    The whole order arrives with its last parcel: the latest of each bound; basis "mixed" when they differ."""
    live = [so for so in supplier_orders if so.status not in _NO_ESTIMATE]
    if not live:
        return {}, None
    measured = measured_lead_times(uow, now, {so.supplier_id for so in live})
    country = (order.ship_to or {}).get("country_code")
    per = {}
    for so in live:
        window = supplier_window(suppliers[so.supplier_id], measured, country)
        start = (so.submitted_at or so.created_at or now).date()
        earliest, latest = window.dates(start)
        per[so.id] = {"supplier": suppliers[so.supplier_id].name, "earliest": earliest.isoformat(),
                      "latest": latest.isoformat(), "basis": window.basis}
    bases = {e["basis"] for e in per.values()}
    whole = {"earliest": max(e["earliest"] for e in per.values()), "latest": max(e["latest"] for e in per.values()),
             "basis": bases.pop() if len(bases) == 1 else "mixed"}
    return per, whole
