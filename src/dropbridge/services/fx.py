"""Currency conversion rates: ECB reference rates imported from their CSV (a file, or fetched from
DROPBRIDGE_FX_URL on a schedule), stored with their source, and how old the newest rate of a pair is."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from dropbridge.domain.errors import ConfigurationError, ValidationError
from dropbridge.domain.money import known_currency

from .records import audit, log, raise_alert, schedule, schedule_repricing
from .redaction import redact_url

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
            # Orders held for want of a fresh rate are routed again (held again if this one is stale too).
            for _, order_id, status in uow.alerts.open_for_orders(["fx.stale"]):
                if status == "on_hold":
                    schedule(uow, ctx, "route_order", f"route:{order_id}:fx:{ctx.clock().isoformat()}",
                             {"order_id": order_id})
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


# What a fetched rates file may hold (the ECB's is about 1 KB); the download itself is capped by the
# feed size limit.
MAX_RATES_FILE = 1024 * 1024


def fetch_fx(ctx) -> int:
    """Import the rates at DROPBRIDGE_FX_URL now (the ECB's eurofxref.csv, or eurofxref.zip holding it), through
    the feed downloader: the address policy, timeout and size limit of feed URLs apply. Rates added."""
    url = ctx.settings.fx_url
    if not url:
        raise ConfigurationError("no DROPBRIDGE_FX_URL is set: the URL of the ECB reference rates CSV or zip")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError("DROPBRIDGE_FX_URL must be an http(s) URL")
    shown = redact_url(url)
    with tempfile.TemporaryFile() as body:
        ctx.downloads.download(url, body, what=f"FX rates {shown}")
        body.seek(0)
        raw = body.read(MAX_RATES_FILE + 1)
    if len(raw) > MAX_RATES_FILE:
        raise ValidationError(f"FX rates {shown}: larger than {MAX_RATES_FILE} bytes", "DROPBRIDGE_FX_URL")
    text = _rates_text(raw, shown)
    return import_ecb_csv(ctx, text, source=f"ECB via {shown}")


def _rates_text(raw: bytes, shown: str) -> str:
    if raw.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                member = next((i for i in archive.infolist() if i.filename.lower().endswith(".csv")), None)
                if member is None:
                    raise ValidationError(f"FX rates {shown}: the zip holds no .csv file", "DROPBRIDGE_FX_URL")
                if member.file_size > MAX_RATES_FILE:
                    raise ValidationError(f"FX rates {shown}: its CSV is larger than {MAX_RATES_FILE} bytes",
                                          "DROPBRIDGE_FX_URL")
                with archive.open(member) as f:
                    raw = f.read(MAX_RATES_FILE + 1)
        except zipfile.BadZipFile:
            raise ValidationError(f"FX rates {shown}: not a readable zip file", "DROPBRIDGE_FX_URL") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(f"FX rates {shown}: not UTF-8 text", "DROPBRIDGE_FX_URL") from None


def scheduled_fx_import(ctx) -> str:
    """The scheduler's import: nothing without DROPBRIDGE_FX_URL; a failure raises an alert (fx.fetch_failed,
    never quoting what the server answered) and waits for the next run."""
    if not ctx.settings.fx_url:
        return "no DROPBRIDGE_FX_URL"
    try:
        return f"{fetch_fx(ctx)} rates added"
    except Exception as exc:  # noqa: BLE001 - reported, tried again on the next run
        log.warning("FX import failed", error=str(exc))
        with ctx.uow() as uow:
            raise_alert(uow, ctx, "fx.fetch_failed", f"FX rates not imported: {exc}"[:1000], severity="error",
                        dedupe_key="fx.fetch_failed")
            uow.commit()
        return f"failed: {exc}"


def rate_dates(uow) -> dict[tuple[str, str], datetime]:
    """The reference date of the rate `rate_table` uses for each pair (a cross rate: its older leg)."""
    dates: dict[tuple[str, str], datetime] = {}
    by_base: dict[str, dict[str, datetime]] = {}
    for base, quote, _, _, as_of in uow.fx.latest():
        by_base.setdefault(base, {})[quote] = as_of
        dates[(base, quote)] = as_of
    for base, quotes in by_base.items():
        for a, da in quotes.items():
            dates.setdefault((a, base), da)
            for b, db in quotes.items():
                if a != b:
                    dates.setdefault((a, b), min(da, db))
    return dates


def stale_rates(uow, pairs: set[tuple[str, str]], now: datetime, max_age_hours: float) -> list[str]:
    """Of the (from, to) pairs, those whose rate is older than `max_age_hours`, as 'USD->EUR (2025-03-01)'.
    A daily reference rate stands until the next one is published, so its age counts from the end of its
    day: Friday's ECB rate is not stale on Monday morning under the default 72 hours. A pair without any rate
    is not stale (routing already refuses to price it)."""
    dates = rate_dates(uow)
    out = []
    for a, b in sorted(pairs):
        day = dates.get((a, b)) or dates.get((b, a))
        if day is not None and now - (day + timedelta(days=1)) > timedelta(hours=max_age_hours):
            out.append(f"{a}->{b} ({day.date()})")
    return out
