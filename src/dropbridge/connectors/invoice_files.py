"""Supplier invoice files to SupplierInvoice facts (`dropbridge reconcile SUPPLIER FILE`): CSV or XLSX with a
column mapping (the supplier's `invoice_columns`, else the usual header names), or an EDI X12 810.

A tabular file holds one row per invoice line; rows with the same invoice number make one invoice. Columns
(header names are matched case-insensitively; the defaults in brackets):

    invoice [invoice, invoice_number, invoice_no]      reference [reference, po, po_number]  (our order key)
    order [order, order_id, external_order_id]         sku [sku, supplier_sku]
    quantity [quantity, qty]                           unit_price [unit_price, price, unit_cost]
    amount [amount, line_total, total]  (when there is no unit price)
    kind [kind, type]  (item, shipping, fee, tax, discount; default item)
    currency [currency]  date [date, invoice_date]  description [description]

A value that cannot be read is refused with its line and column; nothing of the file is applied then."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.money import Money, exponent
from dropbridge.services.ports import InvoiceLine, SupplierInvoice

from .formats.feeds.csvfeed import detect_encoding, sniff_delimiter
from .formats.x12.x12 import X12Error, parse_interchange
from .suppliers.edi_x12 import mapping as x12map

FIELDS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice", "invoice_number", "invoice_no", "invoice number"),
    "reference": ("reference", "po", "po_number", "our_reference"),
    "order": ("order", "order_id", "external_order_id", "supplier_order"),
    "sku": ("sku", "supplier_sku"),
    "quantity": ("quantity", "qty"),
    "unit_price": ("unit_price", "price", "unit_cost", "unit price"),
    "amount": ("amount", "line_total", "total"),
    "kind": ("kind", "type"),
    "currency": ("currency",),
    "date": ("date", "invoice_date"),
    "description": ("description",),
}
KINDS = ("item", "shipping", "fee", "tax", "discount")
MAX_ROWS = 100_000


def read_invoices(data: bytes, name: str, *, currency: str = "USD",
                  columns: Mapping[str, str] | None = None) -> list[SupplierInvoice]:
    """Every invoice in the file. Raises ValidationError naming the file, line and field of a bad value."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"ISA"):
        return read_810(data, name, currency)
    if data.startswith(b"PK\x03\x04"):
        rows = _xlsx_rows(data, name)
    else:
        text = data.decode(detect_encoding(data[:65536]), errors="replace").lstrip("\ufeff")
        sample = text[:65536]
        delimiter = sniff_delimiter(sample) if sample else ","
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return _from_rows(rows, name, currency.upper(), columns or {})


def _xlsx_rows(data: bytes, name: str) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise ValidationError(f"{name}: not a readable XLSX workbook ({exc.__class__.__name__})", "file") from None
    try:
        out = []
        for row in wb.worksheets[0].iter_rows(values_only=True):
            out.append(["" if v is None else (v.date().isoformat() if isinstance(v, datetime) else str(v))
                        for v in row])
            if len(out) > MAX_ROWS + 1:
                break
        return out
    finally:
        wb.close()


def _norm(text: str) -> str:
    """"Invoice No", "invoice-no" and "invoice_no" are one header."""
    return "_".join(str(text).strip().lower().replace("-", " ").replace("_", " ").split())


def _from_rows(rows: list[list[str]], name: str, currency: str, columns: Mapping[str, str]) -> list[SupplierInvoice]:
    rows = [r for r in rows if any(str(c).strip() for c in r)]
    if not rows:
        raise ValidationError(f"{name}: no rows", "file")
    if len(rows) > MAX_ROWS + 1:
        raise ValidationError(f"{name}: more than {MAX_ROWS} lines", "file")
    header = [_norm(h) for h in rows[0]]
    where: dict[str, int] = {}
    for field, names in FIELDS.items():
        wanted = [_norm(columns[field])] if field in columns else [_norm(n) for n in names]
        for n in wanted:
            if n in header:
                where[field] = header.index(n)
                break
        else:
            if field in columns:
                raise ValidationError(f"{name}: no column {columns[field]!r} (invoice_columns.{field})", field)
    for field in ("invoice", "quantity"):
        if field not in where:
            raise ValidationError(f"{name}: no {field} column (header: {', '.join(rows[0])})", field)
    if "unit_price" not in where and "amount" not in where:
        raise ValidationError(f"{name}: no unit_price or amount column", "unit_price")
    invoices: dict[str, dict[str, Any]] = {}
    for lineno, row in enumerate(rows[1:], 2):
        def cell(field: str, row=row) -> str:
            i = where.get(field)
            return str(row[i]).strip() if i is not None and i < len(row) else ""

        def bad(field: str, why: str, lineno=lineno):
            return ValidationError(f"{name} line {lineno}, {field}: {why}", field)

        number = cell("invoice")
        if not number:
            raise bad("invoice", "empty")
        cur = (cell("currency") or currency).upper()
        try:
            exponent(cur)
        except Exception:
            raise bad("currency", f"{cur!r} is not a currency code") from None
        kind = (cell("kind") or "item").lower()
        if kind not in KINDS:
            raise bad("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        try:
            qty = int(Decimal(cell("quantity") or ("1" if kind != "item" else "")))
        except (InvalidOperation, ValueError):
            raise bad("quantity", f"{cell('quantity')!r} is not a whole number") from None
        if qty < 0 or (qty == 0 and kind == "item"):
            raise bad("quantity", f"{qty} is not a positive quantity")
        try:
            if cell("unit_price"):
                unit = Money.parse(cell("unit_price").replace(",", ""), cur)
            else:
                amount = Money.parse(cell("amount").replace(",", ""), cur)
                if qty and amount.amount % qty:
                    raise ValueError(f"amount {amount} does not divide into {qty} equal unit prices")
                unit = Money(amount.amount // qty if qty else amount.amount, cur)
        except (ValueError, ArithmeticError, ValidationError) as exc:
            field = "unit_price" if cell("unit_price") else "amount"
            raise bad(field, str(exc)) from None
        sku = cell("sku") or None
        if kind == "item" and not sku:
            raise bad("sku", "an item line needs a SKU")
        issued = None
        if cell("date"):
            try:
                d = date.fromisoformat(cell("date")[:10])
            except ValueError:
                raise bad("date", f"{cell('date')!r} is not a date (YYYY-MM-DD)") from None
            issued = datetime(d.year, d.month, d.day, tzinfo=UTC)
        inv = invoices.setdefault(number, {"currency": cur, "issued": issued, "lines": []})
        if inv["currency"] != cur:
            raise bad("currency", f"invoice {number} is in {inv['currency']}, this line in {cur}")
        inv["issued"] = inv["issued"] or issued
        inv["lines"].append(InvoiceLine(sku, qty, unit, reference=cell("reference") or None,
                                        external_order_id=cell("order") or None, kind=kind,
                                        description=cell("description")[:200]))
    return [SupplierInvoice(number, inv["currency"], tuple(inv["lines"]), issued_at=inv["issued"])
            for number, inv in invoices.items()]


def read_810(data: bytes, name: str, currency: str = "USD") -> list[SupplierInvoice]:
    """The 810 transaction sets of an X12 interchange, as the EDI connector reads them."""
    try:
        interchange = parse_interchange(data, strict=True)
    except X12Error as exc:
        raise ValidationError(f"{name}: not a readable X12 interchange: {exc}", "file") from None
    out = []
    for _group, txn in interchange.transactions:
        if txn.set_id != "810":
            continue
        try:
            inv = x12map.invoice_from_810(x12map.parse_810(txn), currency)
        except (X12Error, ValueError, ArithmeticError) as exc:
            raise ValidationError(f"{name}: 810 set {txn.control_number}: {exc}", "file") from None
        cur = inv["currency"]
        lines = tuple(InvoiceLine(sku, qty, Money.from_decimal_rounded(Decimal(price), cur),
                                  reference=inv["reference"], external_order_id=inv["reference"], kind=kind,
                                  description=desc)
                      for kind, sku, qty, price, desc in inv["lines"])
        issued = datetime(inv["issued_on"].year, inv["issued_on"].month, inv["issued_on"].day, tzinfo=UTC) \
            if inv["issued_on"] else None
        out.append(SupplierInvoice(inv["number"], cur, lines, issued_at=issued,
                                   total=Money.from_decimal_rounded(inv["total"], cur)))
    if not out:
        raise ValidationError(f"{name}: no 810 invoice in the interchange", "file")
    return out
