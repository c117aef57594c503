from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dropbridge.domain.errors import CurrencyError, ValidationError
from dropbridge.domain.money import Money, exponent


def test_exponents_come_from_cldr():
    assert (exponent("USD"), exponent("JPY"), exponent("KWD"), exponent("eur")) == (2, 0, 3, 2)


def test_parse_exact_minor_units():
    assert Money.parse("19.99", "USD") == Money(1999, "USD")
    assert Money.parse("1000", "JPY") == Money(1000, "JPY")
    assert Money.parse("1.235", "KWD") == Money(1235, "KWD")
    assert Money.parse(Decimal("0.10"), "usd") == Money(10, "USD")


def test_parse_refuses_sub_minor_precision_and_garbage():
    with pytest.raises(ValidationError, match="more than 2 decimals"):
        Money.parse("1.005", "USD", field="lines.0.unit_price")
    with pytest.raises(ValidationError) as err:
        Money.parse("abc", "USD", field="price")
    assert err.value.field == "price"
    with pytest.raises(CurrencyError):
        Money.parse("1", "US")


def test_arithmetic_refuses_mixed_currencies_and_floats():
    with pytest.raises(CurrencyError):
        Money(1, "USD") + Money(1, "EUR")
    with pytest.raises(TypeError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(100, "USD") * 1.5  # type: ignore[operator]
    assert Money(250, "USD") * 3 - Money(50, "USD") == Money(700, "USD")


def test_percent_rounds_half_even():
    assert Money(1000, "USD").percent(Decimal("2.9")) == Money(29, "USD")
    assert Money(50, "USD").percent(Decimal("1")) == Money(0, "USD")  # 0.5 cent -> 0 (even)
    assert Money(150, "USD").percent(Decimal("1")) == Money(2, "USD")  # 1.5 cents -> 2 (even)


@given(st.integers(min_value=-10**12, max_value=10**12), st.sampled_from(["USD", "JPY", "KWD", "EUR"]))
def test_decimal_round_trip(amount, currency):
    m = Money(amount, currency)
    assert Money.parse(m.to_decimal(), currency) == m
    assert Money.parse(str(m).split()[0], currency) == m


def test_pricing_markup_endings_and_floors():
    from dropbridge.domain.pricing import PricingRules, price_for

    usd = lambda s: Money.parse(s, "USD")  # noqa: E731
    assert price_for(usd("8.50"), PricingRules()) == (usd("17.99"), None)
    assert price_for(usd("8.995"[:4]), PricingRules(ending=None)) == (usd("17.98"), None)
    assert price_for(usd("10.00"), PricingRules(markup_percent=Decimal(50)), map_price=usd("19.95")) == (
        usd("19.99"), None)
    assert price_for(usd("10.00"), PricingRules(markup_percent=Decimal(10), min_margin_percent=Decimal(40))) == (
        usd("16.99"), None)  # 10 / 0.6 = 16.67 -> 16.99
    assert price_for(usd("5.00"), PricingRules(compare_at_percent=Decimal(30))) == (usd("10.99"), usd("14.99"))
    assert price_for(Money.parse("1000", "JPY"), PricingRules(ending=Decimal(0))) == (Money(2000, "JPY"), None)


def test_the_currency_table_is_what_babel_says():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "gen", Path(__file__).resolve().parents[2] / "scripts" / "generate_currencies.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    from dropbridge.domain.currencies import EXPONENTS

    assert gen.table() == EXPONENTS
    assert (EXPONENTS["USD"], EXPONENTS["JPY"], EXPONENTS["KWD"]) == (2, 0, 3)


def test_an_unknown_currency_code_is_refused():
    import pytest

    from dropbridge.domain.errors import CurrencyError
    from dropbridge.domain.money import Money

    with pytest.raises(CurrencyError):
        Money.parse("1.00", "XYZ")
