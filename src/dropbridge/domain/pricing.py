"""Store prices from supplier costs: a markup on landed cost, charm rounding, and floors (MAP, minimum
margin). Pure; re-applied whenever a cost or a rule changes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from .money import Money, exponent


@dataclass(frozen=True, slots=True)
class PricingRules:
    markup_percent: Decimal = Decimal(100)  # price = landed cost x (1 + markup)
    ending: Decimal | None = Decimal("0.99")  # round up to the next price ending in .99; None: to the cent
    min_margin_percent: Decimal | None = None  # of the price: price >= cost / (1 - m)
    compare_at_percent: Decimal | None = None  # compare-at = price x (1 + p), same ending

    @classmethod
    def from_config(cls, cfg: dict | None) -> PricingRules:
        cfg = cfg or {}

        def dec(key, default):
            value = cfg.get(key, default)
            return None if value is None else Decimal(str(value))

        return cls(dec("markup_percent", 100), dec("ending", "0.99"), dec("min_margin_percent", None),
                   dec("compare_at_percent", None))


def _round_up_to_ending(amount: Decimal, ending: Decimal | None, currency: str) -> Decimal:
    quantum = Decimal(1).scaleb(-exponent(currency))
    if ending is None:
        return amount.quantize(quantum, rounding=ROUND_CEILING)
    whole = amount.to_integral_value(rounding="ROUND_FLOOR")
    candidate = whole + ending
    if candidate < amount:
        candidate += 1
    return candidate.quantize(quantum)


def price_for(landed_cost: Money, rules: PricingRules, *, map_price: Money | None = None) -> tuple[Money, Money | None]:
    """(price, compare-at price) for a variant whose cheapest landed cost is `landed_cost`."""
    cur = landed_cost.currency
    cost = landed_cost.to_decimal()
    price = cost * (1 + rules.markup_percent / 100)
    if rules.min_margin_percent is not None and rules.min_margin_percent < 100:
        price = max(price, cost / (1 - rules.min_margin_percent / 100))
    if map_price is not None and map_price.currency == cur:
        price = max(price, map_price.to_decimal())  # never advertise below the minimum advertised price
    final = _round_up_to_ending(price, rules.ending, cur)
    compare = None
    if rules.compare_at_percent:
        compare = Money.parse(_round_up_to_ending(final * (1 + rules.compare_at_percent / 100), rules.ending, cur),
                              cur)
    return Money.parse(final, cur), compare
