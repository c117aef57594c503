"""Margins over time and by store, supplier and product, from ledger entries only (never a stored total).
One grouped read per range serves the time series and the store and supplier tables."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.ledger import margin
from dropbridge.domain.money import Money

from .common import money

RANGES = (7, 30, 90, 365)
BREAKDOWNS = ("day", "store", "supplier", "product")


def _rows(grouped: dict) -> list[dict]:
    out = []
    for (key, currency), entries in grouped.items():
        t = margin(entries, currency)
        rev, m = t["revenue_total"], t["margin"]
        out.append({"key": key, "currency": currency, "revenue": money(rev.amount, currency),
                    "costs": money(t["cost_total"].amount, currency), "margin": money(m.amount, currency),
                    "margin_pct": f"{m.amount / rev.amount * 100:.1f}" if rev.amount else "",
                    "revenue_minor": rev.amount, "margin_minor": m.amount})
    return out


def margins(ctx, days: int = 30, by: tuple[str, ...] = BREAKDOWNS, store: str | None = None) -> dict:
    if days not in RANGES:
        raise ValidationError(f"days is one of {', '.join(map(str, RANGES))}", "days")
    since = (ctx.clock() - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with ctx.uow(read_only=True) as uow:
        stores = {s.id: s.name for s in uow.stores.all()}
        suppliers = {s.id: s.name for s in uow.suppliers.all()}
        store_id = next((i for i, n in stores.items() if n == store), None) if store else None
        rollup = uow.dashboard.ledger_rollup(since, store_id) if {"day", "store", "supplier"} & set(by) else []
        products = uow.dashboard.ledger_by_product(since) if "product" in by else []
    groups = {name: defaultdict(list) for name in BREAKDOWNS}
    for day, sid, supid, kind, currency, amount in rollup:
        entry = (kind, Money(int(amount or 0), currency))
        groups["day"][(day, currency)].append(entry)
        groups["store"][(stores.get(sid, str(sid)), currency)].append(entry)
        if supid is not None:
            groups["supplier"][(suppliers.get(supid, str(supid)), currency)].append(entry)
    for sku, kind, currency, amount in products:
        groups["product"][(sku, currency)].append((kind, Money(int(amount or 0), currency)))
    tables = {name: _rows(groups[name]) for name in by}
    if "day" in tables:
        tables["day"].sort(key=lambda r: r["key"])
    for name in ("store", "supplier", "product"):
        if name in tables:
            tables[name].sort(key=lambda r: -r["revenue_minor"])
    return {"days": days, "since": since, "tables": tables, "store": store, "stores": sorted(stores.values())}
