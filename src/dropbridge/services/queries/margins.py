"""Margins over time and by store, supplier and product, from ledger entries only (never a stored total).
One grouped read per range serves the time series and the store and supplier tables."""

from __future__ import annotations

from datetime import datetime, timedelta

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.ledger import margin
from dropbridge.domain.money import Money

from .common import money

RANGES = (7, 30, 90, 365)
CLOSE_AFTER = timedelta(hours=1)  # a day's sums are final this long after it ended
BREAKDOWNS = ("day", "store", "supplier", "product")


def _rows(grouped: dict) -> list[dict]:
    """grouped: (key, currency) -> {kind: summed minor units}. Margin through the ledger's own rule."""
    out = []
    for (key, currency), by_kind in grouped.items():
        t = margin([(kind, Money(amount, currency)) for kind, amount in by_kind.items()], currency)
        rev, m = t["revenue_total"], t["margin"]
        out.append({"key": key, "currency": currency, "revenue": money(rev.amount, currency),
                    "costs": money(t["cost_total"].amount, currency), "margin": money(m.amount, currency),
                    "margin_pct": f"{m.amount / rev.amount * 100:.1f}" if rev.amount else "",
                    "revenue_minor": rev.amount, "margin_minor": m.amount})
    return out


def _daily(ctx, since: datetime, store_id: int | None) -> list[tuple]:
    """Per-day sums from `since`: closed days (ended over an hour ago, so no transaction still writes to
    them) from ledger_daily, rolled up on first need; the rest summed live from the entries."""
    now = ctx.clock()
    open_from = (now - CLOSE_AFTER).replace(hour=0, minute=0, second=0, microsecond=0)
    closed = []
    day = since
    while day < open_from:
        closed.append(day)
        day += timedelta(days=1)
    names = [d.strftime("%Y-%m-%d") for d in closed]
    with ctx.uow(read_only=True) as uow:
        done = uow.dashboard.rolled_days(names) if names else set()
    missing = [d for d, name in zip(closed, names, strict=True) if name not in done]
    if missing:
        with ctx.uow() as uow:
            for d in missing:
                uow.dashboard.roll_up_day(d.strftime("%Y-%m-%d"), d, d + timedelta(days=1), now)
            uow.commit()
    with ctx.uow(read_only=True) as uow:
        rows = uow.dashboard.ledger_days(names[0], names[-1], store_id) if names else []
        return rows + uow.dashboard.ledger_live(max(since, open_from), store_id)


def _add(groups: dict, key, kind: str, amount) -> None:
    by_kind = groups.setdefault(key, {})
    by_kind[kind] = by_kind.get(kind, 0) + int(amount or 0)


def margins(ctx, days: int = 30, by: tuple[str, ...] = ("day", "store", "supplier"), store: str | None = None) -> dict:
    """Margins over the last `days` days, broken down `by` day, store, supplier and/or product (product
    reads each line's SKU, so it is asked for on its own)."""
    if days not in RANGES:
        raise ValidationError(f"days is one of {', '.join(map(str, RANGES))}", "days")
    unknown = set(by) - set(BREAKDOWNS)
    if unknown:
        raise ValidationError(f"by is one of {', '.join(BREAKDOWNS)}", "by")
    since = (ctx.clock() - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with ctx.uow(read_only=True) as uow:
        stores = {s.id: s.name for s in uow.stores.all()}
        suppliers = {s.id: s.name for s in uow.suppliers.all()}
        store_id = next((i for i, n in stores.items() if n == store), None) if store else None
        products = uow.dashboard.ledger_by_product(since, store_id) if "product" in by else []
    rollup = _daily(ctx, since, store_id) if {"day", "store", "supplier"} & set(by) else []
    groups: dict[str, dict] = {name: {} for name in BREAKDOWNS}
    for day, sid, supid, kind, currency, amount in rollup:
        _add(groups["day"], (day, currency), kind, amount)
        _add(groups["store"], (stores.get(sid, str(sid)), currency), kind, amount)
        if supid is not None:
            _add(groups["supplier"], (suppliers.get(supid, str(supid)), currency), kind, amount)
    for sku, kind, currency, amount in products:
        _add(groups["product"], (sku, currency), kind, amount)
    tables = {name: _rows(groups[name]) for name in by}
    if "day" in tables:
        tables["day"].sort(key=lambda r: r["key"])
    for name in ("store", "supplier", "product"):
        if name in tables:
            tables[name].sort(key=lambda r: -r["revenue_minor"])
    return {"days": days, "since": since, "tables": tables, "store": store, "stores": sorted(stores.values())}
