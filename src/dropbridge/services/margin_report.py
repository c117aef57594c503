"""The margin report (`report margin`, GET /api/v1/reports/margin): sums of ledger entries only, grouped by
order, product, supplier, store, day, week or month, over a date range of the entries, each row on one basis:

- realised: orders shipped (or delivered, or refunded after shipping): what was earned, net of refunds;
  of a partly shipped order, the shipped lines (their revenue, their costs, refunds on them) and the
  costs of supplier orders that shipped;
- expected: orders routed to suppliers and not yet shipped, and the rest of partly shipped ones;
- held, unroutable, cancelled, pending (not routed yet): reported apart, never counted as margin earned.

Tax collected is its own column, never revenue. The supplier view shows what each supplier costs (goods,
shipping, fees, commission, variance), not a margin: its entries are costs only."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.ledger import COSTS, PASS_THROUGH, EntryKind
from dropbridge.domain.money import Money

GROUPS = ("order", "product", "supplier", "store", "day", "week", "month")
BASES = ("realised", "expected", "held", "unroutable", "cancelled", "pending")
TOTAL = "TOTAL"

# Column names and what a header says of them, per view.
MARGIN_COLUMNS = {"revenue": "revenue (net of tax)", "tax_collected": "tax collected", "costs": "costs",
                  "margin": "margin", "margin_pct": "margin %"}
SUPPLIER_COLUMNS = {"goods_cost": "goods cost", "shipping_cost": "shipping cost",
                    "fees": "fees and commission", "cost_variance": "variance (stated - estimate)",
                    "total_cost": "total cost"}
_SUPPLIER_KINDS = {EntryKind.SUPPLIER_COST: "goods_cost", EntryKind.SUPPLIER_SHIPPING: "shipping_cost",
                   EntryKind.SUPPLIER_FEE: "fees", EntryKind.COMMISSION: "fees",
                   EntryKind.COST_VARIANCE: "cost_variance"}


def date_range(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Inclusive UTC days as [since, until)."""
    if start and end and end < start:
        raise ValidationError("--to is before --from", "to")
    since = datetime.combine(start, time(), UTC) if start else None
    # The last day there is has no next day to stop before: it bounds nothing.
    until = datetime.combine(end + timedelta(days=1), time(), UTC) if end and end < date.max else None
    return since, until


def columns(by: str) -> dict[str, str]:
    """{column: header}: the key, its basis and currency, then the view's figures."""
    figures = SUPPLIER_COLUMNS if by == "supplier" else MARGIN_COLUMNS
    return {by: by, "basis": "basis", "currency": "currency", **figures}


def margin_summary(ctx, by: str = "order", start: date | None = None, end: date | None = None) -> dict:
    """{"by", "from", "to", "columns", "rows", "totals"}; totals: one row per basis and currency."""
    if by not in GROUPS:
        raise ValidationError(f"by is one of {', '.join(GROUPS)}", "by")
    since, until = date_range(start, end)
    with ctx.uow(read_only=True) as uow:
        raw = uow.ledger.report("day" if by in ("day", "week", "month") else by, since, until)
    sums: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, basis, kind, currency, amount in raw:
        if key is None:  # by product or supplier: entries of the whole order have neither
            continue
        sums[(_period(by, key), basis, currency)][kind] += int(amount or 0)
    totals: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (_, basis, currency), kinds in sums.items():
        for kind, amount in kinds.items():
            totals[(TOTAL, basis, currency)][kind] += amount
    order = {b: i for i, b in enumerate(BASES)}

    def rows(groups):
        return [_row(by, key, basis, currency, kinds)
                for (key, basis, currency), kinds in sorted(groups.items(),
                                                            key=lambda kv: (kv[0][0], order[kv[0][1]], kv[0][2]))]
    return {"by": by, "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
            "columns": columns(by), "rows": rows(sums), "totals": rows(totals)}


def _period(by: str, key: str) -> str:
    if by == "week":
        year, week, _ = date.fromisoformat(key).isocalendar()
        return f"{year}-W{week:02d}"
    if by == "month":
        return key[:7]
    return key


def _row(by: str, key: str, basis: str, currency: str, kinds: dict[str, int]) -> dict:
    def fmt(minor: int) -> str:
        return str(Money(minor, currency).to_decimal())

    row = {by: key, "basis": basis, "currency": currency}
    if by == "supplier":
        # Costs shown as what is paid (positive); a reversal or a lower stated cost reduces them.
        figures = dict.fromkeys(SUPPLIER_COLUMNS, 0)
        for kind, amount in kinds.items():
            if kind in _SUPPLIER_KINDS:
                figures[_SUPPLIER_KINDS[kind]] -= amount
            elif kind in COSTS:
                figures["fees"] -= amount
        figures["total_cost"] = sum(v for k, v in figures.items() if k != "total_cost")
        return {**row, **{k: fmt(v) for k, v in figures.items()}}
    revenue = sum(a for k, a in kinds.items() if k not in COSTS and k not in PASS_THROUGH)
    costs = -sum(a for k, a in kinds.items() if k in COSTS)
    tax = sum(a for k, a in kinds.items() if k in PASS_THROUGH)
    margin = revenue - costs
    return {**row, "revenue": fmt(revenue), "tax_collected": fmt(tax), "costs": fmt(costs), "margin": fmt(margin),
            "margin_pct": f"{margin / revenue * 100:.1f}" if revenue else ""}
