"""Currency conversion rates: ECB reference rates imported from their CSV, stored with their source."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.money import known_currency

from .records import audit, schedule_repricing

# A rate is units of the quote currency per unit of the base. Real ones span about 1e-5 (KWD per IDR) to 1e5
# (IRR per EUR); these bounds leave room either way and keep any rate's text within the rates column. An
# amount converted at such a rate is still checked against the amount bound where it is used.
MIN_RATE = Decimal("1e-9")
MAX_RATE = Decimal("1e9")
MAX_RATE_DIGITS = 15  # significant digits; the ECB publishes 4 to 6


def import_ecb_csv(ctx, text: str, source: str = "ECB reference rates") -> int:
    """The ECB's eurofxref.csv: a header `Date, USD, JPY, ...` and one row of EUR->X rates."""
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise ValidationError("an ECB rates file has a header line and a rates line", "line 2")
    header, values = [c.strip() for c in rows[0]], [c.strip() for c in rows[1]]
    if not header or header[0] != "Date":
        raise ValidationError(f"line 1: expected 'Date' first, found {header[:1]}", "Date")
    try:
        as_of = datetime.strptime(values[0], "%d %B %Y").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError(f"line 2: unreadable date {values[0]!r}", "Date") from None
    rates = {}
    for code, value in zip(header[1:], values[1:], strict=False):
        if not code or value in ("", "N/A"):
            continue
        if not known_currency(code):
            raise ValidationError(f"line 1: {code[:10]!r} is not an ISO 4217 currency code we know", code[:10])
        rates[code] = str(check_rate(value, code))
    with ctx.uow() as uow:
        added = uow.fx.add_rates("EUR", rates, f"{source} {as_of.date()}", as_of)
        audit(uow, ctx, "fx.imported", f"fx:{as_of.date()}", {"currencies": len(rates), "added": added})
        if added:  # landed costs in other currencies moved: prices are re-applied after this commit
            schedule_repricing(uow, ctx, f"fx:{as_of.date()}:{ctx.clock().isoformat()}")
        uow.commit()
    return added


def check_rate(value: str, field: str) -> Decimal:
    """`value` as a rate within MIN_RATE..MAX_RATE, else ValidationError naming `field`."""
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ValidationError(f"line 2: rate for {field} is not a number: {value[:40]!r}", field) from None
    if not rate.is_finite() or rate <= 0:
        raise ValidationError(f"line 2: rate for {field} must be a positive number, not {value[:40]!r}", field)
    if not MIN_RATE <= rate <= MAX_RATE or len(rate.normalize().as_tuple().digits) > MAX_RATE_DIGITS \
            or len(str(rate)) > 40:
        raise ValidationError(f"line 2: rate for {field} is out of range: rates lie between {MIN_RATE} and "
                              f"{MAX_RATE:f} with at most {MAX_RATE_DIGITS} significant digits", field)
    return rate


def rate_table(uow) -> tuple[dict[tuple[str, str], Decimal], dict[tuple[str, str], str]]:
    """Every convertible pair from the stored rates (EUR-based rates give cross rates), with sources."""
    rates: dict[tuple[str, str], Decimal] = {}
    sources: dict[tuple[str, str], str] = {}
    latest = uow.fx.latest()
    by_base: dict[str, dict[str, tuple[Decimal, str]]] = {}
    for base, quote, rate, source, _ in latest:
        by_base.setdefault(base, {})[quote] = (Decimal(rate), source)
        rates[(base, quote)] = Decimal(rate)
        sources[(base, quote)] = source
    for base, quotes in by_base.items():
        for a, (ra, src) in quotes.items():
            rates.setdefault((a, base), 1 / ra)
            sources.setdefault((a, base), src)
            for b, (rb, _) in quotes.items():
                if a != b:
                    rates.setdefault((a, b), rb / ra)
                    sources.setdefault((a, b), f"{src} (cross via {base})")
    return rates, sources
