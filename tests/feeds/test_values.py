from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dropbridge.connectors.formats.feeds.values import (
    normalize_number,
    parse_amount,
    parse_lead_time,
    parse_quantity,
    parse_weight,
    to_minor,
)


@pytest.mark.parametrize(
    "text, comma, expected",
    [
        ("12.50", False, "12.50"),
        ("12,50", False, "12.50"),  # one comma, not 3 digits after: a decimal comma whatever the mode
        ("1,234.50", False, "1234.50"),
        ("1.234,50", False, "1234.50"),
        ("1,234", False, "1234"),  # ambiguous: the mode decides
        ("1,234", True, "1.234"),
        ("1.234", False, "1.234"),
        ("1.234", True, "1234"),
        ("1,234,567", True, "1234567"),
        ("1.234.567", False, "1234567"),
        ("0,500", False, "0.500"),  # a leading 0 is never a thousands group
        ("1 234,50", True, "1234.50"),
        ("1'234.50", False, "1234.50"),
        (".5", False, ".5"),
    ],
)
def test_normalize_number(text, comma, expected):
    assert normalize_number(text, comma) == expected


@pytest.mark.parametrize("text", ["1,23,4", "12.34.5", "1.2,3.4", "abc", "1,2345.00"])
def test_normalize_number_rejects(text):
    with pytest.raises(ValueError):
        normalize_number(text, False)


@pytest.mark.parametrize(
    "text, expected",
    [("5", 5), ("", 0), ("  ", 0), ("12.0", 12), ("1,200", 1200), ("+3", 3), (" 7 ", 7), ("0", 0)],
)
def test_quantity(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text, reason",
    [("-1", "negative"), ("-1.0", "negative"), ("2.5", "whole"), ("lots", "whole"), ("1e20", "whole"),
     ("99999999999999", "implausibly")],
)
def test_quantity_rejects(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_quantity(text)


def test_quantity_decimal_comma_mode():
    assert parse_quantity("1.200", comma_decimal=True) == 1200
    with pytest.raises(ValueError):
        parse_quantity("1,5", comma_decimal=True)


@pytest.mark.parametrize(
    "text, comma, amount, code",
    [
        ("12.50", False, "12.50", None),
        ("$1,234.50", False, "1234.50", None),
        ("USD 12.50", False, "12.50", "USD"),
        ("12.50 eur", False, "12.50", "EUR"),
        ("€ 1.234,50", False, "1234.50", None),
        ("7,5 €", True, "7.5", None),
        ("£3", False, "3", None),
        ("¥500", False, "500", None),
        ("US$ 4.00", False, "4.00", None),
        ("12.3456", False, "12.3456", None),
    ],
)
def test_amount(text, comma, amount, code):
    assert parse_amount(text, comma) == (Decimal(amount), code)


@pytest.mark.parametrize(
    "text, reason",
    [("-1.00", "negative"), ("$-2", "negative"), ("ten", "not an amount"), ("NaN", "not a number"),
     ("USD 1 EUR", "two currencies"), ("XYZ 1.00", "not a currency code"), ("Infinity", "not a number")],
)
def test_amount_rejects(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_amount(text)


@pytest.mark.parametrize(
    "amount, currency, minor",
    [("12.50", "USD", 1250), ("4.9950", "USD", 500), ("4.9850", "USD", 498), ("4.98501", "USD", 499),
     ("1234", "JPY", 1234), ("1234.5", "JPY", 1234), ("1.2345", "KWD", 1234), ("0", "EUR", 0)],
)
def test_to_minor_rounds_half_even(amount, currency, minor):
    assert to_minor(Decimal(amount), currency) == minor


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_two_decimal_amounts_are_exact(d):
    assert to_minor(d, "USD") == int(d * 100)
    assert parse_amount(f"{d:,.2f}")[0] == d


@pytest.mark.parametrize(
    "text, days", [("3", 3), ("3 days", 3), ("3-5", 5), ("2 to 4 business days", 4), ("", None)])
def test_lead_time(text, days):
    assert parse_lead_time(text) == days


def test_lead_time_rejects():
    with pytest.raises(ValueError):
        parse_lead_time("soon")


def test_weight():
    assert parse_weight("1.5") == ("1.5", None)
    assert parse_weight("1,5 KG", True) == ("1.5", "kg")
    with pytest.raises(ValueError):
        parse_weight("heavy")
