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


@dataclass(frozen=True, slots=True)
class PriceGuards:
    """When a re-priced variant waits for a person instead of going live (store setting `pricing`):
    a change beyond `max_change_percent` of the live price, a zero cost, or a price under the MAP or the
    margin floor."""

    max_change_percent: Decimal | None = Decimal(30)
    margin_floor_percent: Decimal | None = None  # of the price

    @classmethod
    def from_config(cls, pricing: dict | None, routing: dict | None = None) -> PriceGuards:
        pricing, routing = pricing or {}, routing or {}
        tolerance = pricing.get("max_change_percent", 30)
        floor = pricing.get("margin_floor_percent", routing.get("margin_floor_percent"))
        return cls(None if tolerance is None else Decimal(str(tolerance)),
                   None if floor is None else Decimal(str(floor)))


def hold_reason(live: Money | None, new: Money, landed_cost: Money | None, guards: PriceGuards, *,
                map_price: Money | None = None) -> str | None:
    """Why the price `new` (replacing `live`) must wait for approval, or None when it may go live."""
    if landed_cost is None or landed_cost.amount <= 0:
        return "zero or missing cost"
    if map_price is not None and map_price.currency == new.currency and new.amount < map_price.amount:
        return f"price {new.to_decimal()} under the MAP {map_price.to_decimal()}"
    if guards.margin_floor_percent is not None and landed_cost.currency == new.currency:
        margin = (new.to_decimal() - landed_cost.to_decimal()) / new.to_decimal() * 100 if new.amount else Decimal(-100)
        if margin < guards.margin_floor_percent:
            return f"margin {margin:.1f}% under the {guards.margin_floor_percent}% floor"
    if (guards.max_change_percent is not None and live is not None and live.amount > 0
            and live.currency == new.currency):
        change = Decimal(new.amount - live.amount) / live.amount * 100
        if abs(change) > guards.max_change_percent:
            return (f"price {change:+.1f}% ({live.to_decimal()} to {new.to_decimal()}), beyond the "
                    f"{guards.max_change_percent}% tolerance")
    return None
