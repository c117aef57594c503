"""Routing: which supplier offer serves an order line. A pure, explainable decision.

Per line, every candidate offer is first checked for eligibility (merchant exclusions and pins, a refusal
earlier on this line, ships-to coverage of the destination, a currency we hold a rate for, stock available
to promise after buffer and reservations, an offer not quarantined for mapping drift), then eligible offers
are ranked by:

1. the merchant's supplier priority list, when one is set;
2. fresh stock before stale stock (a feed older than the supplier's limit is trusted less);
3. score: landed cost in the order's currency (item cost x quantity + the supplier's shipping to the
   destination + its per-order fees, converted at the stored rate), plus a reliability allowance
   (landed cost x the supplier's measured failure rate: a supplier that rejects or fails one order in ten
   costs ten percent more in expectation), plus the merchant's price on lead time (per day);
4. shorter lead time, then the lower offer id, so the result is stable.

Every candidate is kept with its verdict, its score and the reason it won or lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from .money import MAX_AMOUNT_MINOR, Money, out_of_range


@dataclass(frozen=True, slots=True)
class Candidate:
    offer_id: int
    supplier_id: int
    supplier: str
    supplier_sku: str
    unit_cost: Money
    shipping: Money  # what this supplier charges to ship one order to the destination
    stock: int
    reserved: int = 0
    buffer: int = 0
    lead_time_days: int | None = None
    fees: Money | None = None  # per-order fees (drop-ship fee, handling), in the supplier's currency
    ships_to: frozenset[str] | None = None  # None: ships anywhere
    feed_age_hours: float | None = None
    stale_after_hours: float | None = None
    reliability: float | None = None  # share of orders placed that were not refused or failed (0..1)
    order_path: str | None = None  # None: the supplier takes orders; else why it cannot (a feed-only supplier)
    note: str | None = None  # how its shipping was priced, when that needs saying (a quote, or why not one)
    quarantined: str | None = None  # why the offer may not be used: its supplier SKU now names another item

    @property
    def available(self) -> int:
        return max(0, self.stock - self.buffer - self.reserved)

    @property
    def stale(self) -> bool:
        return (self.feed_age_hours is not None and self.stale_after_hours is not None
                and self.feed_age_hours > self.stale_after_hours)


@dataclass(frozen=True, slots=True)
class Rules:
    """The merchant's say: applied before cost."""

    pinned: str | None = None  # only this supplier may serve the line
    excluded: frozenset[str] = frozenset()
    priority: tuple[str, ...] = ()  # preferred suppliers, first is most preferred
    lead_time_cost_per_day: Money | None = None  # what a day of waiting is worth, in the order currency
    prefer_single_supplier: bool = False  # order level: see plan_order


@dataclass(frozen=True, slots=True)
class Verdict:
    offer_id: int
    supplier: str
    supplier_sku: str
    available: int
    landed_cost: str | None  # "12.50 USD"; None when it could not be priced
    score: str | None
    eligible: bool
    chosen: bool
    reason: str
    rate: str | None = None  # the FX rate used, when the offer is in another currency


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    offer_id: int | None
    supplier_id: int | None
    reason: str
    candidates: tuple[Verdict, ...] = field(default=())
    landed_cost: Money | None = None

    def as_dict(self) -> dict:
        return {
            "offer_id": self.offer_id,
            "supplier_id": self.supplier_id,
            "reason": self.reason,
            "landed_cost": str(self.landed_cost) if self.landed_cost else None,
            "candidates": [asdict(v) for v in self.candidates],
        }


def convert(amount: Money, currency: str, rates: Mapping[tuple[str, str], Decimal]) -> tuple[Money, Decimal] | None:
    """`amount` in `currency` at the stored rate (or its inverse), rounded half-even; None without a rate."""
    if amount.currency == currency:
        return amount, Decimal(1)
    rate = rates.get((amount.currency, currency))
    if rate is None and (inverse := rates.get((currency, amount.currency))):
        rate = 1 / inverse
    if rate is None:
        return None
    return Money.from_decimal_rounded(amount.to_decimal() * rate, currency), rate


@dataclass(frozen=True, slots=True)
class _Priced:
    candidate: Candidate
    landed: Money
    score: Money
    rate: Decimal
    rank: tuple


def _price(c: Candidate, quantity: int, currency: str, rates, rules: Rules) -> _Priced | str:
    items = convert(c.unit_cost * quantity, currency, rates)
    ship = convert(c.shipping + (c.fees or Money.zero(c.shipping.currency)), currency, rates)
    if items is None or ship is None:
        missing = c.unit_cost.currency if items is None else c.shipping.currency
        return f"no {missing}->{currency} rate to price this offer"
    landed = items[0] + ship[0]
    if abs(landed.amount) > MAX_AMOUNT_MINOR:  # no ledger could record it (a huge quantity, cost or rate)
        return f"landed cost beyond the largest amount we record ({out_of_range(currency)})"
    score = landed
    if c.reliability is not None and c.reliability < 1:
        score = score + landed.percent(Decimal(str(round((1 - c.reliability) * 100, 4))))
    if rules.lead_time_cost_per_day and c.lead_time_days:
        score = score + rules.lead_time_cost_per_day * c.lead_time_days
    prio = rules.priority.index(c.supplier) if c.supplier in rules.priority else len(rules.priority)
    rank = (prio, c.stale, score.amount, c.lead_time_days or 0, c.offer_id)
    return _Priced(c, landed, score, items[1], rank)


def route_line(
    quantity: int,
    currency: str,
    candidates: list[Candidate],
    *,
    destination: str | None = None,
    rates: Mapping[tuple[str, str], Decimal] | None = None,
    rules: Rules = Rules(),
    excluded: frozenset[int] = frozenset(),
) -> RoutingDecision:
    """Choose the best eligible offer for `quantity` units priced in `currency`, shipped to `destination`."""
    rates = rates or {}
    priced: list[_Priced] = []
    rejected: dict[int, str] = {}
    for c in candidates:
        if c.order_path is not None:
            rejected[c.offer_id] = c.order_path
        elif c.quarantined is not None:
            rejected[c.offer_id] = f"quarantined: {c.quarantined}"
        elif c.offer_id in excluded:
            rejected[c.offer_id] = "excluded: this supplier already refused the line"
        elif c.supplier in rules.excluded:
            rejected[c.offer_id] = "excluded by the merchant's rules"
        elif rules.pinned and c.supplier != rules.pinned:
            rejected[c.offer_id] = f"line is pinned to {rules.pinned}"
        elif destination and c.ships_to is not None and destination not in c.ships_to:
            rejected[c.offer_id] = f"does not ship to {destination}"
        elif c.available < quantity:
            rejected[c.offer_id] = f"not enough stock: {c.available} available, {quantity} needed"
        else:
            p = _price(c, quantity, currency, rates, rules)
            if isinstance(p, str):
                rejected[c.offer_id] = p
            else:
                priced.append(p)

    priced.sort(key=lambda p: p.rank)
    best = priced[0] if priced else None
    by_offer = {p.candidate.offer_id: p for p in priced}
    verdicts = []
    for c in candidates:
        p = by_offer.get(c.offer_id)
        if best is not None and p is best:
            reason = _why_won(best, priced, rules)
        elif c.offer_id in rejected:
            reason = rejected[c.offer_id]
        else:
            reason = _why_lost(p, best, rules)
        if c.note:
            reason = f"{reason} ({c.note})"
        verdicts.append(Verdict(
            offer_id=c.offer_id, supplier=c.supplier, supplier_sku=c.supplier_sku, available=c.available,
            landed_cost=str(p.landed) if p else None, score=str(p.score) if p else None,
            eligible=c.offer_id not in rejected, chosen=best is not None and p is best, reason=reason,
            rate=str(p.rate) if p and p.rate != 1 else None))
    if best is None:
        why = "no supplier offers this SKU" if not candidates else "no eligible offer"
        return RoutingDecision(None, None, why, tuple(verdicts))
    w = best.candidate
    return RoutingDecision(w.offer_id, w.supplier_id, f"{w.supplier}: {_why_won(best, priced, rules)}",
                           tuple(verdicts), best.landed)


def _why_won(best: _Priced, priced: list[_Priced], rules: Rules) -> str:
    if len(priced) == 1:
        return "only eligible offer"
    if rules.priority and best.candidate.supplier in rules.priority:
        return f"merchant priority #{rules.priority.index(best.candidate.supplier) + 1}"
    if best.score != best.landed or any(p.landed.amount < best.landed.amount for p in priced):
        return "best score (landed cost with reliability and lead-time allowances)"
    return "lowest landed cost"


def _why_lost(p: _Priced, best: _Priced, rules: Rules) -> str:
    if p.rank[0] != best.rank[0]:
        return f"merchant prefers {best.candidate.supplier}"
    if p.candidate.stale and not best.candidate.stale:
        return f"stock data is stale ({p.candidate.feed_age_hours:.0f} h old)"
    if p.score.amount != best.score.amount:
        if p.score == p.landed and best.score == best.landed:
            return f"landed cost {p.landed} above {best.landed}"
        return f"score {p.score} above {best.score}"
    return "tie broken by lead time, then offer id"


@dataclass(frozen=True, slots=True)
class LineRequest:
    line_id: int
    quantity: int
    candidates: list[Candidate]
    excluded: frozenset[int] = frozenset()
    pinned: str | None = None  # the merchant pinned this SKU to a supplier


def plan_order(
    lines: list[LineRequest],
    currency: str,
    *,
    destination: str | None = None,
    rates: Mapping[tuple[str, str], Decimal] | None = None,
    rules: Rules = Rules(),
) -> dict[int, RoutingDecision]:
    """Route every line; with `prefer_single_supplier`, send the whole order to one supplier when that
    costs no more than the split (shipping is charged once per supplier order, so a split pays it twice)."""
    def line_rules(ln: LineRequest) -> Rules:
        return Rules(**{**{f: getattr(rules, f) for f in rules.__dataclass_fields__}, "pinned": ln.pinned}) \
            if ln.pinned else rules

    decisions = {ln.line_id: route_line(ln.quantity, currency, ln.candidates, destination=destination,
                                        rates=rates, rules=line_rules(ln), excluded=ln.excluded) for ln in lines}
    if not rules.prefer_single_supplier or len(lines) < 2 or any(ln.pinned for ln in lines):
        return decisions
    if any(d.offer_id is None for d in decisions.values()):
        return decisions

    def order_cost(chosen: dict[int, Candidate]) -> Money | None:
        total, shipped = Money.zero(currency), set()
        for ln in lines:
            c = chosen[ln.line_id]
            items = convert(c.unit_cost * ln.quantity, currency, rates or {})
            if items is None:
                return None
            total = total + items[0]
            if c.supplier_id not in shipped:
                shipped.add(c.supplier_id)
                ship = convert(c.shipping + (c.fees or Money.zero(c.shipping.currency)), currency, rates or {})
                if ship is None:
                    return None
                total = total + ship[0]
        return total

    split = {ln.line_id: next(c for c in ln.candidates if c.offer_id == decisions[ln.line_id].offer_id)
             for ln in lines}
    split_cost = order_cost(split)
    best_single: tuple[Money, int, dict[int, RoutingDecision]] | None = None
    for supplier_id in {c.supplier_id for ln in lines for c in ln.candidates}:
        single_rules = Rules(pinned=next(c.supplier for ln in lines for c in ln.candidates
                                         if c.supplier_id == supplier_id),
                             excluded=rules.excluded, lead_time_cost_per_day=rules.lead_time_cost_per_day)
        trial = {ln.line_id: route_line(ln.quantity, currency, ln.candidates, destination=destination,
                                        rates=rates, rules=single_rules, excluded=ln.excluded) for ln in lines}
        if any(d.offer_id is None for d in trial.values()):
            continue
        chosen = {ln.line_id: next(c for c in ln.candidates if c.offer_id == trial[ln.line_id].offer_id)
                  for ln in lines}
        cost = order_cost(chosen)
        if cost is not None and (best_single is None or cost.amount < best_single[0].amount):
            best_single = (cost, supplier_id, trial)
    if best_single is None or split_cost is None or best_single[0].amount > split_cost.amount:
        return decisions
    cost, _, trial = best_single
    note = f"one supplier for the whole order: {cost} against {split_cost} split"

    def relabel(v: Verdict) -> Verdict:
        if v.reason.startswith("line is pinned to"):
            return Verdict(**{**asdict(v), "reason": f"order kept with one supplier ({note})"})
        return v

    return {lid: RoutingDecision(d.offer_id, d.supplier_id, f"{d.reason.split(':')[0]}: {note}",
                                 tuple(relabel(v) for v in d.candidates), d.landed_cost)
            for lid, d in trial.items()}
