"""Vendor performance (`report vendors`, GET /api/v1/reports/vendors): per supplier, how its orders went.

Order figures cover the supplier orders placed (created by routing) in the date range: orders placed, fill
rate, refusals, on-time shipping, lead times, time to carry tracking to the store. Cost variance counts the
`cost_variance` ledger entries dated in the range, defects the reports made in it. Every figure is read by a
grouped query (storage/vendor_queries.py); nothing here walks orders one by one."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from dropbridge.domain.money import Money

from ..alert_checks import DEFAULT_LEAD_TIME_DAYS
from ..margin_report import date_range

COLUMNS = {
    "supplier": "supplier",
    "orders_placed": "orders placed",
    "lines_requested": "lines requested",
    "lines_accepted": "lines accepted",
    "fill_rate": "fill rate %",
    "refused_orders": "orders refused",
    "refusal_rate": "refusal rate %",
    "promised_days": "promised lead (days)",
    "on_time_rate": "shipped on time %",
    "late": "late",
    "lead_time_median_days": "lead time median (days)",
    "lead_time_p90_days": "lead time p90 (days)",
    "tracking_median_hours": "to tracking upload median (h)",
    "tracking_p90_hours": "to tracking upload p90 (h)",
    "invoice_accuracy": "invoice accuracy %",
    "invoice_lines_checked": "invoice lines checked",
    "cost_variance": "cost variance (stated - estimate)",
    "cost_variance_entries": "cost variance entries",
    "defects": "defective shipments",
}
NOTES = {"invoice_accuracy": "invoice lines matched within the supplier's tolerance, of the lines reconciled in "
                            "the range (`dropbridge reconcile`); tax and discount lines are not checked"}


def _pct(part: int, whole: int) -> str | None:
    if not whole:
        return None
    return str((Decimal(part * 100) / whole).quantize(Decimal("0.1"), ROUND_HALF_EVEN))


def _in(seconds: Decimal, unit: int) -> str:
    return str((seconds / unit).quantize(Decimal("0.01"), ROUND_HALF_EVEN))


def median_p90(ranks: dict[int, int]) -> tuple[Decimal, Decimal]:
    """Median (the mean of the two middle values for an even count) and 90th percentile (nearest rank) of the
    ranks a VendorRepo `*_ranks` query returns for one supplier."""
    n = ranks[0]
    return Decimal(ranks[(n + 1) // 2] + ranks[(n + 2) // 2]) / 2, Decimal(ranks[(n * 9 + 9) // 10])


def _median_p90(ranks: dict[int, int] | None, unit: int) -> tuple[str | None, str | None]:
    if not ranks:
        return None, None
    median, p90 = median_p90(ranks)
    return _in(median, unit), _in(p90, unit)


def vendor_performance(ctx, start: date | None = None, end: date | None = None) -> dict:
    """{"from", "to", "columns", "rows", "notes"}: one row per supplier, by name."""
    since, until = date_range(start, end)
    with ctx.uow(read_only=True) as uow:
        suppliers = sorted(uow.suppliers.all(), key=lambda s: s.name)
        promised = {s.id: int((s.config or {}).get("lead_time_days", DEFAULT_LEAD_TIME_DAYS)) for s in suppliers}
        figures = uow.vendors.order_figures(since, until, {sid: d * 86400 for sid, d in promised.items()},
                                            ctx.clock())
        lead = uow.vendors.lead_time_ranks(since, until)
        tracking = uow.vendors.tracking_ranks(since, until)
        variance = uow.vendors.cost_variance(since, until)
        defects = uow.vendors.defects(since, until)
        accuracy = uow.reconciliation.accuracy(since, until)
    rows = []
    for s in suppliers:
        f = figures.get(s.id) or dict.fromkeys(("placed", "refused_orders", "lines_accepted", "lines_refused",
                                                "lines_failed", "on_time", "late", "shipped"), 0)
        requested = f["lines_accepted"] + f["lines_refused"] + f["lines_failed"]
        lead_median, lead_p90 = _median_p90(lead.get(s.id), 86400)
        track_median, track_p90 = _median_p90(tracking.get(s.id), 3600)
        # Shown as what the supplier charges beyond our estimate (entries are recorded like costs: negative).
        mine = sorted((cur, -total, n) for sid, cur, total, n in variance if sid == s.id)
        rows.append({
            "supplier": s.name, "orders_placed": f["placed"], "lines_requested": requested,
            "lines_accepted": f["lines_accepted"], "fill_rate": _pct(f["lines_accepted"], requested),
            "refused_orders": f["refused_orders"], "refusal_rate": _pct(f["refused_orders"], f["placed"]),
            "promised_days": promised[s.id], "on_time_rate": _pct(f["on_time"], f["on_time"] + f["late"]),
            "late": f["late"], "lead_time_median_days": lead_median, "lead_time_p90_days": lead_p90,
            "tracking_median_hours": track_median, "tracking_p90_hours": track_p90,
            "invoice_accuracy": _pct(*accuracy.get(s.id, (0, 0))),
            "invoice_lines_checked": accuracy.get(s.id, (0, 0))[1],
            "cost_variance": "; ".join(f"{cur} {Money(total, cur).to_decimal()}" for cur, total, _ in mine) or None,
            "cost_variance_entries": sum(n for *_, n in mine), "defects": defects.get(s.id, 0),
        })
    return {"from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
            "columns": COLUMNS, "rows": rows, "notes": NOTES}
