"""Cell text to numbers: quantities, amounts with currency marks, lead times, weights.

Every parser takes the cell text and raises ValueError with a reason a merchant can act on.
Amounts are Decimal all the way; a float never touches a cost.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from dropbridge.domain.limits import MAX_STOCK
from dropbridge.domain.money import MAX_AMOUNT_MINOR, exponent, known_currency

SYMBOLS = "$€£¥"
# Optional code, optional sign, optional symbol (maybe "US$", "C$"), number, optional symbol, optional code.
_AMOUNT = re.compile(
    r"^(?:(?P<c1>[A-Za-z]{3})\s*)?(?P<n1>-)?\s*(?:[A-Za-z]{0,2}[$€£¥]\s*)?(?P<n2>-)?\s*"
    r"(?P<num>[\d.,'\u00a0\u202f ]*\d[\d.,'\u00a0\u202f ]*|[.,]\d+)"
    r"\s*(?:[$€£¥]\s*)?(?P<c2>[A-Za-z]{3})?$"
)
_GROUP_SPACES = str.maketrans("", "", "'\u00a0\u202f ")
_THOUSANDS_COMMA = re.compile(r"^\d{1,3}(,\d{3})+$")
_THOUSANDS_DOT = re.compile(r"^\d{1,3}(\.\d{3})+$")
MAX_QTY = MAX_STOCK  # PostgreSQL's INTEGER stock column holds it
MAX_LEAD_TIME_DAYS = 3650


def normalize_number(text: str, comma_decimal: bool) -> str:
    """Digits with '.' as the only separator: "1.234,50" -> "1234.50", "1,200" -> "1200".

    Unambiguous forms always parse the same way: both separators present (the last one is the
    decimal mark), repeated separators (thousands), or one separator not followed by exactly three
    digits (the decimal mark). Only "1,234" and "1.234" are ambiguous; `comma_decimal` decides them.
    """
    s = text.translate(_GROUP_SPACES)
    has_dot = "." in s
    has_comma = "," in s
    if has_dot and has_comma:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        grp = "." if dec == "," else ","
        whole, _, frac = s.rpartition(dec)
        if not (whole.replace(grp, "").isdigit() or whole == "") or not frac.isdigit():
            raise ValueError(f"{text!r} is not a number")
        if grp in whole and not re.match(rf"^\d{{1,3}}(\{grp}\d{{3}})+$", whole):
            raise ValueError(f"{text!r} has misplaced thousands separators")
        return whole.replace(grp, "") + "." + frac
    if has_comma or has_dot:
        sep = "," if has_comma else "."
        count = s.count(sep)
        if count > 1:
            pattern = _THOUSANDS_COMMA if sep == "," else _THOUSANDS_DOT
            if not pattern.match(s):
                raise ValueError(f"{text!r} is not a number")
            return s.replace(sep, "")
        whole, _, frac = s.partition(sep)
        if not frac.isdigit() or not (whole.isdigit() or whole == ""):
            raise ValueError(f"{text!r} is not a number")
        is_thousands = (
            len(frac) == 3 and whole[:1] not in ("", "0") and len(whole) <= 3
            and comma_decimal == (sep == ".")
        )
        return whole + frac if is_thousands else whole + "." + frac
    if not s.isdigit():
        raise ValueError(f"{text!r} is not a number")
    return s


def parse_quantity(text: str, comma_decimal: bool = False) -> int:
    """A stock count: blank is 0; "12.0" is 12; negative, fractional or non-numeric raise."""
    s = text.strip()
    if not s:
        return 0
    try:
        q = int(s)
    except ValueError:
        neg = s.startswith("-")
        body = s[1:].strip() if neg or s.startswith("+") else s
        try:
            d = Decimal(normalize_number(body, comma_decimal))
        except ValueError:
            raise ValueError(f"{s!r} is not a whole number") from None
        if d != d.to_integral_value():
            raise ValueError(f"{s!r} is not a whole number") from None
        q = -int(d) if neg else int(d)
    if q < 0:
        raise ValueError(f"{s} is negative")
    if q > MAX_QTY:
        raise ValueError(f"{s} is implausibly large")
    return q


def parse_amount(text: str, comma_decimal: bool = False) -> tuple[Decimal, str | None]:
    """An amount with optional currency symbol or code: "$1,234.50", "USD 12.50", "12,50 €".

    Returns the Decimal and the ISO code written in the cell (None when there is none). Symbols are
    stripped, not interpreted: "$" is USD, CAD, AUD and more. Negative amounts raise.
    """
    s = text.strip()
    try:
        d = Decimal(s)  # the common case: a plain "12.50"
        code = None
        if not d.is_finite():
            raise ValueError(f"{s!r} is not a number")
    except InvalidOperation:
        m = _AMOUNT.match(s)
        if not m:
            raise ValueError(f"{s!r} is not an amount") from None
        codes = {c.upper() for c in (m["c1"], m["c2"]) if c}
        if len(codes) > 1:
            raise ValueError(f"{s!r} names two currencies") from None
        code = codes.pop() if codes else None
        if code is not None and not known_currency(code):
            raise ValueError(f"{s!r}: {code} is not a currency code") from None
        d = Decimal(normalize_number(m["num"].strip(), comma_decimal))
        if m["n1"] or m["n2"]:
            d = -d
    if d < 0:
        raise ValueError(f"{s} is negative")
    return d, code


def to_minor(amount: Decimal, currency: str) -> int:
    """Round half-even to the currency's minor unit: suppliers send 4-decimal unit costs. Beyond the one
    bound every amount has (MAX_AMOUNT_MINOR) it raises, before "1e999999" can become a huge integer."""
    exp = exponent(currency)
    if amount and amount.adjusted() + exp > 15:
        raise ValueError(f"{str(amount)[:40]} is implausibly large (above {MAX_AMOUNT_MINOR} minor units)")
    scaled = amount.scaleb(exp)
    minor = int(scaled)
    if minor != scaled:
        minor = int(scaled.to_integral_value(ROUND_HALF_EVEN))
    if minor > MAX_AMOUNT_MINOR:
        raise ValueError(f"{amount} is implausibly large (above {MAX_AMOUNT_MINOR} minor units)")
    return minor


def check_currency(text: str) -> str:
    code = text.strip().upper()
    if not known_currency(code):
        raise ValueError(f"{text.strip()!r} is not an ISO 4217 currency code")
    return code


_LEAD = re.compile(r"^(\d+)(?:\s*(?:-|to|–)\s*(\d+))?\s*(?:business\s+)?(?:d|days?)?$", re.IGNORECASE)


def parse_lead_time(text: str) -> int | None:
    """Days: "3", "3 days", "3-5" (the upper bound: delivery promises should not be optimistic)."""
    s = text.strip()
    if not s:
        return None
    m = _LEAD.match(s[:40])
    if not m:
        raise ValueError(f"{s[:40]!r} is not a number of days")
    days = int(m.group(2) or m.group(1))
    if days > MAX_LEAD_TIME_DAYS:
        raise ValueError(f"{days} days is implausibly long (at most {MAX_LEAD_TIME_DAYS})")
    return days


_WEIGHT = re.compile(r"^([\d.,]+)\s*([A-Za-z]+)?$")


def parse_weight(text: str, comma_decimal: bool = False) -> tuple[str, str | None]:
    """A weight with optional unit: "1.5", "1,5 kg" -> ("1.5", "kg"). The number stays a string."""
    m = _WEIGHT.match(text.strip())
    if not m:
        raise ValueError(f"{text.strip()!r} is not a weight")
    number = Decimal(normalize_number(m.group(1), comma_decimal))
    unit = m.group(2).lower() if m.group(2) else None
    return str(number), unit
