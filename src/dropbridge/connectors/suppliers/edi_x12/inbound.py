"""EDI 846 Inventory Inquiry/Advice as a supplier feed: one ParsedRow per LIN loop.

The envelope is checked strictly while streaming; a bad envelope raises FeedFormatError with the
segment position as the line. Because checks on a trailer happen when it arrives, batches may have
been yielded before the error: the caller must treat the run as failed (quarantine), as for any
FeedFormatError, so a truncated 846 never zeroes a catalog.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from dropbridge.connectors.formats.feeds.types import FeedBatch, FeedFormatError, ParsedRow, RowError
from dropbridge.connectors.formats.x12.x12 import Segment, X12Error, X12Reader
from dropbridge.domain.errors import DropbridgeError
from dropbridge.domain.money import Money

from .mapping import product_ids

DEFAULT_SKU_QUALIFIERS = ("VN", "SK", "BP", "UP", "EN")
GTIN_QUALIFIERS = ("UP", "EN", "UK")
# CTP02 price identifiers that mean what we pay. RES (resale) and MSR (MSRP) are sell-side prices:
# they are kept in catalog["prices"], never taken as cost.
DEFAULT_COST_QUALIFIERS = ("UCP", "WHL", "NET", "CON")


def gs1_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the digits before it (any GTIN length)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def normalize_gtin(value: str) -> str:
    """GTIN-8/12/13/14 as 14 digits with a verified check digit; ValueError says why not."""
    digits = value.strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        raise ValueError(f"{value!r} is not an 8, 12, 13 or 14 digit GTIN")
    gtin = digits.zfill(14)
    expected = gs1_check_digit(gtin[:-1])
    if int(gtin[-1]) != expected:
        raise ValueError(f"{value!r} has check digit {gtin[-1]}, expected {expected}")
    return gtin


def _yyyymmdd(raw: str) -> date:
    return datetime.strptime(raw, "%Y%m%d").date()


def _count(raw: str) -> int:
    """A stock quantity: a non-negative whole number ("42", "42.0")."""
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"{raw!r} is not a whole number")
    if value < 0:
        raise ValueError(f"{raw!r} is negative")
    return int(value)


class _Item:
    __slots__ = ("lin", "segments")

    def __init__(self, lin: Segment):
        self.lin = lin
        self.segments: list[Segment] = []


def read_846(
    stream: BinaryIO,
    *,
    name: str,
    spec: Any,
    batch_size: int = 10_000,
    sku_qualifiers: Sequence[str] = DEFAULT_SKU_QUALIFIERS,
    cost_qualifiers: Sequence[str] = DEFAULT_COST_QUALIFIERS,
) -> Iterator[FeedBatch]:
    """Yield FeedBatches of ParsedRow and RowError; both use the LIN's segment position as the line.

    Per item: sku from the first qualifier of `sku_qualifiers` present in LIN (else the first pair);
    stock from QTY*33, or the sum of SDQ locations when QTY*33 is absent; SDQ locations in
    catalog["locations"]; cost from CTP with a `cost_qualifiers` code, in minor units; lead time from
    DTM*018 minus the BIA04 date. Optional fields that fail to parse (GTIN, CTP, DTM) are reported as
    RowError and left None, and the row is kept: the stock is still good. A bad QTY drops the row.
    """
    default_currency = getattr(spec, "currency", "USD") or "USD"
    batch = FeedBatch()
    seen_846 = False
    try:
        reader = X12Reader(stream, strict=True, keep_segments=False)
        item: _Item | None = None
        bia_date: date | None = None
        currency = default_currency
        in_846 = False
        for seg, _group, txn in reader.segments():
            tag = seg.tag
            if tag == "ST":
                in_846 = txn is not None and txn.set_id == "846"
                seen_846 = seen_846 or in_846
                bia_date, currency, item = None, default_currency, None
                continue
            if not in_846:
                continue
            if tag in ("LIN", "CTT", "SE") and item is not None:
                _emit(item, batch, sku_qualifiers, cost_qualifiers, bia_date, currency)
                item = None
                if len(batch.rows) + len(batch.errors) >= batch_size:
                    yield batch
                    batch = FeedBatch()
            if tag == "LIN":
                item = _Item(seg)
            elif tag == "SE":
                in_846 = False
            elif item is not None:
                item.segments.append(seg)
            elif tag == "BIA":
                try:
                    bia_date = _yyyymmdd(seg.get(4))
                except ValueError:
                    bia_date = None  # lead times then stay unknown rather than wrong
            elif tag == "CUR" and seg.get(2):
                currency = seg.get(2).upper()
    except X12Error as exc:
        raise FeedFormatError(f"{name}: X12 envelope: {exc.message}", exc.segment_position) from None
    if not seen_846:
        raise FeedFormatError(f"{name}: the interchange holds no 846 transaction set")
    if batch.rows or batch.errors:
        yield batch


def _raw(seg: Segment) -> str:
    return str(seg)[:200]


def _emit(
    item: _Item,
    batch: FeedBatch,
    sku_qualifiers: Sequence[str],
    cost_qualifiers: Sequence[str],
    bia_date: date | None,
    currency: str,
) -> None:
    lin = item.lin
    line = lin.position
    errors = batch.errors
    ids = product_ids(lin, 2)
    sku = next((ids[q] for q in sku_qualifiers if ids.get(q)), None) or next(iter(ids.values()), None)
    if not sku:
        errors.append(RowError(line, "LIN", "no product id in LIN", _raw(lin)))
        return

    gtin = None
    for q in GTIN_QUALIFIERS:
        if ids.get(q):
            try:
                gtin = normalize_gtin(ids[q])
            except ValueError as exc:
                errors.append(RowError(line, "gtin", f"LIN {q} {exc}; GTIN ignored, row kept", _raw(lin)))
            break

    qty33: str | None = None
    locations: dict[str, int] = {}
    cost_minor: int | None = None
    prices: dict[str, int] = {}
    lead_time: int | None = None
    title: str | None = None
    for seg in item.segments:
        tag = seg.tag
        if tag == "QTY" and seg.get(1) == "33" and qty33 is None:
            qty33 = seg.get(2)
        elif tag == "SDQ":
            # SDQ01 UOM, SDQ02 id qualifier, then up to 10 location/quantity pairs.
            for n in range(3, min(len(seg.elements), 22) + 1, 2):
                loc, raw_qty = seg.get(n), seg.get(n + 1)
                if not loc:
                    continue
                try:
                    locations[loc] = locations.get(loc, 0) + _count(raw_qty)
                except ValueError as exc:
                    reason = f"SDQ at segment {seg.position}, location {loc}: quantity {exc}"
                    errors.append(RowError(line, "SDQ", reason, _raw(seg)))
                    return
        elif tag == "CTP" and seg.get(3):
            code = seg.get(2)
            try:
                minor = Money.parse(seg.get(3), currency, field="CTP").amount
            except (DropbridgeError, ValueError) as exc:
                reason = f"CTP at segment {seg.position}: {exc}; price ignored, row kept"
                errors.append(RowError(line, "CTP", reason, _raw(seg)))
                continue
            if code in cost_qualifiers:
                cost_minor = minor if cost_minor is None else cost_minor
            elif code:
                prices.setdefault(code, minor)
        elif tag == "DTM" and seg.get(1) == "018":
            try:
                available = _yyyymmdd(seg.get(2))
            except ValueError:
                reason = f"DTM at segment {seg.position}: {seg.get(2)!r} is not CCYYMMDD; row kept"
                errors.append(RowError(line, "DTM", reason, _raw(seg)))
                continue
            if bia_date is not None:
                lead_time = max(0, (available - bia_date).days)
        elif tag == "PID" and seg.get(5) and title is None:
            title = seg.get(5)

    if qty33 is not None:
        try:
            stock = _count(qty33)
        except ValueError as exc:
            errors.append(RowError(line, "QTY", f"QTY*33 quantity {exc}", _raw(lin)))
            return
    elif locations:
        stock = sum(locations.values())
    else:
        errors.append(RowError(line, "QTY", "no QTY*33 (quantity available) and no SDQ", _raw(lin)))
        return

    catalog: dict[str, Any] = {}
    if locations:
        catalog["locations"] = locations
    if prices:
        catalog["prices"] = prices
    if title:
        catalog["title"] = title
    batch.rows.append(ParsedRow(line, sku, stock, cost_minor, currency, lead_time, gtin, catalog or None))
