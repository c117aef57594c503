"""Currency conversion rates: ECB reference rates imported from their CSV, stored with their source."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from dropbridge.domain.errors import ValidationError

from .records import audit


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
        try:
            rate = Decimal(value)
        except InvalidOperation:
            raise ValidationError(f"line 2: rate for {code} is not a number: {value!r}", code) from None
        if rate <= 0:
            raise ValidationError(f"line 2: rate for {code} must be positive", code)
        rates[code] = str(rate)
    with ctx.uow() as uow:
        added = uow.fx.add_rates("EUR", rates, f"{source} {as_of.date()}", as_of)
        audit(uow, ctx, "fx.imported", f"fx:{as_of.date()}", {"currencies": len(rates), "added": added})
        uow.commit()
    return added


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
