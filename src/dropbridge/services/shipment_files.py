"""Tracking as a CSV file: what `dropbridge shipments import` reads, and what a supplier may attach to an
email. One row per shipped line (or per parcel, without lines):

    reference | po_number          our supplier-order reference (the PO number we sent), or
    order_number | supplier_order  the supplier's own order number for it
    carrier, tracking_number       required
    tracking_url, shipped_at       optional (shipped_at: ISO 8601 date or time)
    sku, quantity                  optional: what the parcel holds (no sku: the whole order)

Headers are matched without regard to case, spaces, '_' or '-' ("Tracking Number", "tracking-number").
Rows of one parcel (same order and tracking number) group into one shipment. Pure parsing: which orders the
rows name is checked by the caller."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dropbridge.domain.errors import ValidationError

from .ports import SupplierOrderItem

ALIASES = {
    "reference": ("reference", "our reference", "po number", "po", "po no", "purchase order", "purchase order number",
                  "ponumber", "po_number", "customer reference"),
    "order_number": ("order number", "supplier order", "supplier order number", "external id", "order id",
                     "order", "order no"),
    "carrier": ("carrier", "shipping carrier", "courier", "shipping company", "ship via"),
    "tracking_number": ("tracking number", "tracking", "tracking no", "tracking code", "tracking id", "awb",
                        "waybill"),
    "tracking_url": ("tracking url", "tracking link"),
    "shipped_at": ("shipped at", "ship date", "shipped on", "shipping date", "date shipped"),
    "sku": ("sku", "supplier sku", "item sku", "item", "product sku", "vendor sku"),
    "quantity": ("quantity", "qty", "quantity shipped", "qty shipped", "shipped quantity"),
}
MAX_BYTES = 20 * 1024 * 1024


def _key(header: str) -> str:
    return re.sub(r"[\s_\-.#]+", " ", header.strip().lower()).strip()


_LOOKUP = {_key(alias): name for name, aliases in ALIASES.items() for alias in aliases}


@dataclass(frozen=True)
class ShipmentRow:
    line: int
    reference: str
    order_number: str
    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    shipped_at: datetime | None = None
    sku: str | None = None
    quantity: int | None = None


@dataclass
class ShipmentFile:
    rows: list[ShipmentRow] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, field, reason)


@dataclass(frozen=True)
class Parcel:
    """The rows of one parcel: one order, one tracking number."""

    reference: str
    order_number: str
    carrier: str
    tracking_number: str
    tracking_url: str | None
    shipped_at: datetime | None
    items: list[SupplierOrderItem]
    lines: list[int]  # the file lines it came from


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ValidationError(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB", "file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _shipped_at(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_shipment_csv(data: bytes) -> ShipmentFile:
    """Rows and per-row errors (line numbers count the header as line 1). Raises ValidationError when the
    file as a whole cannot be read: no header, or no tracking number / carrier column, or nothing naming
    the order."""
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise ValidationError("the file is empty: expected a header row", "file")
    columns: dict[str, int] = {}
    for i, name in enumerate(header):
        known = _LOOKUP.get(_key(name))
        if known and known not in columns:
            columns[known] = i
    for needed in ("tracking_number", "carrier"):
        if needed not in columns:
            raise ValidationError(f"no {needed} column (header: {', '.join(h.strip() for h in header)})",
                                  needed)
    out = ShipmentFile()
    for line, cells in enumerate(reader, 2):
        if not any(c.strip() for c in cells):
            continue

        def cell(name: str, cells=cells) -> str:
            i = columns.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        number = cell("tracking_number").replace(" ", "")
        if not number:
            out.errors.append((line, "tracking_number", "missing"))
            continue
        if len(number) > 100:
            out.errors.append((line, "tracking_number", "longer than 100 characters"))
            continue
        carrier = cell("carrier")
        if not carrier:
            out.errors.append((line, "carrier", "missing"))
            continue
        shipped_at = None
        if cell("shipped_at"):
            try:
                shipped_at = _shipped_at(cell("shipped_at"))
            except ValueError:
                out.errors.append((line, "shipped_at", f"{cell('shipped_at')!r} is not an ISO 8601 date or time"))
                continue
        sku, quantity = cell("sku") or None, None
        if cell("quantity"):
            raw = cell("quantity")
            if not raw.isdigit() or int(raw) <= 0:
                out.errors.append((line, "quantity", f"{raw!r} is not a positive whole number"))
                continue
            quantity = int(raw)
            if sku is None:
                out.errors.append((line, "sku", "a quantity needs the sku it counts"))
                continue
        url = cell("tracking_url") or None
        if url and not url.startswith(("http://", "https://")):
            out.errors.append((line, "tracking_url", "not an http(s) URL"))
            continue
        out.rows.append(ShipmentRow(line, cell("reference"), cell("order_number"), carrier[:100], number, url,
                                    shipped_at, sku, quantity))
    return out


def parcels(rows: list[ShipmentRow], default_reference: str = "") -> list[Parcel]:
    """Rows grouped by (order, tracking number), in file order; a row naming no order takes
    `default_reference`. A row with a sku and no quantity counts one unit."""
    grouped: dict[tuple[str, str, str], list[ShipmentRow]] = {}
    for row in rows:
        reference = row.reference or ("" if row.order_number else default_reference)
        grouped.setdefault((reference, row.order_number, row.tracking_number), []).append(row)
    out = []
    for (reference, order_number, number), group in grouped.items():
        items: dict[str, int] = {}
        for row in group:
            if row.sku:
                items[row.sku] = items.get(row.sku, 0) + (row.quantity or 1)
        first = group[0]
        out.append(Parcel(reference, order_number, first.carrier, number, first.tracking_url, first.shipped_at,
                          [SupplierOrderItem(sku, qty) for sku, qty in items.items()], [r.line for r in group]))
    return out
