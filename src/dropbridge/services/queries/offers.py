"""Supplier offers as people read them: supplier, SKUs, cost, stock, what is reserved and available, whether the
offer is quarantined because its supplier SKU now names another item (domain/drift.py), since when its SKU is
missing from the supplier's full feeds, and the delivery window in days to a destination
(services/delivery_estimates.py)."""

from __future__ import annotations

from dropbridge.domain.drift import describe
from dropbridge.domain.money import Money

from ..delivery_estimates import measured_lead_times, supplier_window


def list_offers(ctx, *, supplier: str | None = None, sku: str | None = None, limit: int = 100,
                after_id: int = 0, country: str | None = None) -> list[dict]:
    """`country`: the destination of `delivery_days` (None: the suppliers' "*" transit)."""
    with ctx.uow(read_only=True) as uow:
        rows = uow.offers.listing(supplier=supplier, sku=sku, limit=limit, after_id=after_id)
        suppliers = {s.name: s for s in uow.suppliers.all()} if rows else {}
        measured = measured_lead_times(uow, ctx.clock()) if rows else {}
    windows = {r["id"]: supplier_window(suppliers[r["supplier"]], measured, country, r["lead_time_days"])
               for r in rows}
    return [{"id": r["id"], "supplier": r["supplier"], "supplier_sku": r["supplier_sku"],
             "variant_sku": r["variant_sku"], "cost": f"{Money(r['cost_minor'], r['currency']).to_decimal()}",
             "currency": r["currency"], "stock": r["stock"], "reserved": r["reserved"],
             "available": 0 if r["quarantined_at"] else max(0, r["stock"] - r["reserved"]),
             "lead_time_days": r["lead_time_days"], "as_of": r["as_of"].isoformat() if r["as_of"] else None,
             "gtin": r["gtin"], "quarantined": r["quarantined_at"] is not None,
             "quarantined_at": r["quarantined_at"].isoformat() if r["quarantined_at"] else None,
             "drift": describe(r["drift"]) if r["quarantined_at"] and r["drift"] else None,
             # missing from the supplier's full feeds since then (a dropped variant), None while listed
             "absent_since": r["absent_since"].isoformat() if r["absent_since"] else None,
             "delivery_days": [windows[r["id"]].earliest_days, windows[r["id"]].latest_days],
             "delivery_basis": windows[r["id"]].basis} for r in rows]
