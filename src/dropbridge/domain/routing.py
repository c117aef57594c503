"""Routing: which supplier offer serves an order line. A pure, explainable decision.

Rule (foundation): among offers with enough stock available to promise (stock minus buffer minus
reservations), in a currency we can price, the lowest landed cost wins (item cost times quantity plus the
supplier's shipping). Ties go to the shorter lead time, then the lower offer id, so the result is stable.
Every candidate is kept with its verdict, so the decision can be shown and audited.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .money import Money


@dataclass(frozen=True, slots=True)
class Candidate:
    offer_id: int
    supplier_id: int
    supplier: str
    supplier_sku: str
    unit_cost: Money
    shipping: Money  # what this supplier charges to ship this line
    stock: int
    reserved: int = 0
    buffer: int = 0
    lead_time_days: int | None = None

    @property
    def available(self) -> int:
        return max(0, self.stock - self.buffer - self.reserved)


@dataclass(frozen=True, slots=True)
class Verdict:
    offer_id: int
    supplier: str
    supplier_sku: str
    available: int
    landed_cost: str | None  # "12.50 USD"; None when it could not be priced
    eligible: bool
    chosen: bool
    reason: str


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    offer_id: int | None
    supplier_id: int | None
    reason: str
    candidates: tuple[Verdict, ...] = field(default=())

    def as_dict(self) -> dict:
        return {
            "offer_id": self.offer_id,
            "supplier_id": self.supplier_id,
            "reason": self.reason,
            "candidates": [asdict(v) for v in self.candidates],
        }


def route_line(
    quantity: int, currency: str, candidates: list[Candidate], *, excluded: frozenset[int] = frozenset()
) -> RoutingDecision:
    """Choose the cheapest eligible offer for `quantity` units priced in `currency`."""
    priced: list[tuple[Money, Candidate]] = []
    rejected: dict[int, str] = {}
    for c in candidates:
        if c.offer_id in excluded:
            rejected[c.offer_id] = "excluded: this supplier already refused the line"
        elif c.unit_cost.currency != currency or c.shipping.currency != currency:
            rejected[c.offer_id] = f"cannot price {c.unit_cost.currency} offer in order currency {currency}"
        elif c.available < quantity:
            rejected[c.offer_id] = f"not enough stock: {c.available} available, {quantity} needed"
        else:
            priced.append((c.unit_cost * quantity + c.shipping, c))

    priced.sort(key=lambda p: (p[0].amount, p[1].lead_time_days or 0, p[1].offer_id))
    winner = priced[0][1] if priced else None
    verdicts = []
    for c in candidates:
        landed = next((str(cost) for cost, pc in priced if pc is c), None)
        if c is winner:
            reason = "lowest landed cost" if len(priced) > 1 else "only eligible offer"
        elif c.offer_id in rejected:
            reason = rejected[c.offer_id]
        else:
            reason = f"landed cost {landed} above {priced[0][0]}"
        verdicts.append(
            Verdict(
                offer_id=c.offer_id,
                supplier=c.supplier,
                supplier_sku=c.supplier_sku,
                available=c.available,
                landed_cost=landed,
                eligible=c.offer_id not in rejected,
                chosen=c is winner,
                reason=reason,
            )
        )
    if winner is None:
        why = "no supplier offers this SKU" if not candidates else "no eligible offer"
        return RoutingDecision(None, None, why, tuple(verdicts))
    return RoutingDecision(
        winner.offer_id, winner.supplier_id, f"{winner.supplier}: lowest landed cost", tuple(verdicts)
    )
