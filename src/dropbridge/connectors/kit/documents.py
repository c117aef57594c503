"""Purchase-order documents for suppliers without an API: the PO as CSV (one row per line, what to order and
where to ship) and as PDF, and the branded packing slip (the merchant's name, logo and message, the
customer's order number, never a price) that the supplier puts in the parcel. One module for every path
that sends or prints POs (email, the manual export), so they all say the same thing.

PDFs use DejaVu Sans where the system has it (any script a customer's name is written in); otherwise
fpdf2's core Helvetica, which only knows Latin-1: other characters are then folded to their closest
Latin-1 form or '?' (the CSV always carries the exact text)."""

from __future__ import annotations

import csv
import functools
import io
import logging
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import structlog

from dropbridge.domain.money import Money
from dropbridge.services.ports import Address, SupplierOrderLineRequest, SupplierOrderRequest

log = structlog.get_logger("dropbridge.documents")

CSV_COLUMNS = ("po_number", "customer_order", "line", "supplier_sku", "title", "quantity", "unit_cost", "currency",
               "ship_to_name", "ship_to_company", "ship_to_address1", "ship_to_address2", "ship_to_city",
               "ship_to_province", "ship_to_postal_code", "ship_to_country", "ship_to_phone", "shipping_method")
FONT_PATHS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
              Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"))
LOGO_MAX_BYTES = 2 * 1024 * 1024


def lines_of(request: SupplierOrderRequest) -> tuple[SupplierOrderLineRequest, ...]:
    """The request's lines, or its bare items when the caller gave no richer lines."""
    if request.lines:
        return request.lines
    return tuple(SupplierOrderLineRequest(i.supplier_sku, i.quantity) for i in request.items)


def _decimal(amount: Money) -> str:
    return str(amount).split(" ")[0]  # "8.50 USD" -> "8.50", at the currency's exponent


def _cost(line: SupplierOrderLineRequest) -> tuple[str, str]:
    if line.unit_cost is None:
        return "", ""
    return _decimal(line.unit_cost), line.unit_cost.currency


def po_csv(requests: Sequence[SupplierOrderRequest]) -> bytes:
    """One row per PO line, with the PO number and the address to ship to (UTF-8 with a BOM, so
    spreadsheet programs open it in the right encoding)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for request in requests:
        a = request.ship_to
        customer = request.branding.customer_order_number if request.branding else ""
        for n, line in enumerate(lines_of(request), 1):
            cost, currency = _cost(line)
            writer.writerow([request.reference, customer, n, line.supplier_sku, line.title, line.quantity, cost,
                             currency, a.name, a.company, a.address1, a.address2, a.city, a.province_code,
                             a.postal_code, a.country_code, a.phone, request.shipping_method or ""])
    return ("\ufeff" + out.getvalue()).encode()


# ---- PDF ---------------------------------------------------------------------------------------------------


@functools.cache
def _font_file() -> Path | None:
    return next((p for p in FONT_PATHS if p.is_file()), None)


class _Pdf:
    """fpdf2 with one font, and text made printable in it."""

    def __init__(self):
        from fpdf import FPDF

        logging.getLogger("fontTools").setLevel(logging.ERROR)  # its font-subsetting notes are not ours to print
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(True, margin=15)
        self.pdf.set_creator("dropbridge")
        font = _font_file()
        self.unicode = font is not None
        if font is not None:
            self.pdf.add_font("body", "", str(font))
            bold = font.with_name("DejaVuSans-Bold.ttf")
            self.pdf.add_font("body", "B", str(bold if bold.is_file() else font))
            self.family = "body"
        else:
            self.family = "helvetica"

    def text(self, value: object) -> str:
        text = "" if value is None else str(value)
        if self.unicode:
            return text
        folded = unicodedata.normalize("NFKD", text)
        return "".join(ch for ch in folded if not unicodedata.combining(ch)).encode("latin-1", "replace").decode(
            "latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)

    def line(self, value: object, size: float = 10, bold: bool = False, height: float = 5.5) -> None:
        from fpdf.enums import XPos, YPos

        self.font(size, bold)
        self.pdf.multi_cell(0, height, self.text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def gap(self, mm: float = 4) -> None:
        self.pdf.ln(mm)

    def row(self, cells: Sequence[tuple[object, float, str]], bold: bool = False) -> None:
        """One table row: (text, width mm, align L/R/C); long text is cut to fit its cell."""
        from fpdf.enums import XPos, YPos

        self.font(9, bold)
        cells = list(cells)
        for i, (value, width, align) in enumerate(cells):
            text = self.text(value)
            while text and self.pdf.get_string_width(text) > width - 2:
                text = text[:-1]
            last = i == len(cells) - 1
            self.pdf.cell(width, 6, text, border="B", align=align,
                          new_x=XPos.LMARGIN if last else XPos.RIGHT, new_y=YPos.NEXT if last else YPos.TOP)

    def image(self, png: bytes, width: float) -> None:
        self.pdf.image(io.BytesIO(png), w=width)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _address_lines(a: Address) -> list[str]:
    city = " ".join(p for p in (a.postal_code, a.city) if p)
    return [p for p in (a.name, a.company, a.address1, a.address2, city, a.province_code, a.country_code,
                        f"phone {a.phone}" if a.phone else "") if p]


def _po_page(doc: _Pdf, request: SupplierOrderRequest, buyer: str, issued: datetime) -> None:
    doc.pdf.add_page()
    doc.line(f"Purchase order {request.reference}", 16, bold=True, height=8)
    doc.line(f"From {buyer}, {issued:%Y-%m-%d}")
    doc.line("Please quote the PO number in every reply, confirmation and shipment.")
    doc.gap()
    doc.line("Ship to", 11, bold=True)
    for text in _address_lines(request.ship_to):
        doc.line(text)
    if request.shipping_method:
        doc.line(f"Shipping method: {request.shipping_method}")
    doc.gap()
    widths = (12, 42, 72, 16, 24, 24)
    doc.row(zip(("#", "SKU", "Item", "Qty", "Unit cost", "Total"), widths, "LLLRRR", strict=True), bold=True)
    total = None
    for n, line in enumerate(lines_of(request), 1):
        cost, currency = _cost(line)
        amount = line.unit_cost * line.quantity if line.unit_cost is not None else None
        if amount is not None:
            total = amount if total is None else total + amount
        doc.row(zip((n, line.supplier_sku, line.title, line.quantity, f"{cost} {currency}".strip(),
                     str(amount) if amount is not None else ""),
                    widths, "LLLRRR", strict=True))
    if total is not None:
        doc.gap(2)
        doc.line(f"Expected goods total: {total}", bold=True)
    if request.branding is not None:
        doc.gap()
        doc.line("Ship under our name: put the enclosed packing slip in the parcel, and no invoice or price.")


def _slip_page(doc: _Pdf, request: SupplierOrderRequest, logo: bytes | None) -> None:
    branding = request.branding
    doc.pdf.add_page()
    if logo:
        try:
            doc.image(logo, 40)
            doc.gap()
        except Exception as exc:  # noqa: BLE001 - a logo fpdf cannot read: the slip goes out without it
            log.warning("logo left off the packing slip", error=str(exc))
    doc.line(branding.store_name if branding else "", 18, bold=True, height=9)
    doc.line("Packing slip", 12)
    doc.gap()
    if branding and branding.customer_order_number:
        doc.line(f"Order {branding.customer_order_number}", 11, bold=True)
    doc.gap(2)
    doc.line("Ship to", 11, bold=True)
    for text in _address_lines(request.ship_to):
        doc.line(text)
    doc.gap()
    widths = (110, 20)
    doc.row(zip(("Item", "Qty"), widths, "LR", strict=True), bold=True)
    for line in lines_of(request):
        doc.row(zip((line.title or line.supplier_sku, line.quantity), widths, "LR", strict=True))
    if branding and branding.message:
        doc.gap(8)
        doc.line(branding.message, 11)


def purchase_order_pdf(requests: Sequence[SupplierOrderRequest], *, buyer: str | None, issued: datetime,
                       logos: dict[str, bytes] | None = None, slips: bool = True) -> bytes:
    """Each PO on its own page, followed by its packing slip when it carries branding (unless `slips` is
    False: the slip then travels as a file of its own). `buyer` None: each PO's store."""
    doc = _Pdf()
    for request in requests:
        store = request.branding.store_name if request.branding else ""
        _po_page(doc, request, buyer or store or "dropbridge", issued)
        if slips and request.branding is not None:
            _slip_page(doc, request, (logos or {}).get(request.branding.logo_url or ""))
    return doc.output()


def packing_slip_pdf(request: SupplierOrderRequest, logo: bytes | None = None) -> bytes:
    """The packing slip alone: the merchant's name, logo and message, the customer's order number, the items
    and quantities; never a price."""
    doc = _Pdf()
    _slip_page(doc, request, logo)
    return doc.output()


def load_logos(requests: Sequence[SupplierOrderRequest], *, timeout: float = 10.0, allow_private: bool = False,
               transport=None) -> dict[str, bytes]:
    """The logos the requests' packing slips name, fetched once each and re-encoded as PNG (size and pixel
    limits as for product images; public addresses only unless allowed). One that cannot be had is left out,
    with a warning: a slip without a logo is better than a PO that is never sent."""
    from .images import ImageFetcher, ImageRejected, _decode, any_address, is_public_address

    urls = {r.branding.logo_url for r in requests if r.branding and r.branding.logo_url}
    out: dict[str, bytes] = {}
    if not urls:
        return out
    allow = any_address if allow_private else is_public_address
    with ImageFetcher(timeout=timeout, transport=transport, allow_address=allow) as fetcher:
        for url in sorted(urls):
            try:
                image = _decode(fetcher.fetch(url, LOGO_MAX_BYTES), 4_000_000)
                image.thumbnail((600, 600))
                buffer = io.BytesIO()
                image.convert("RGBA").save(buffer, "PNG")
                out[url] = buffer.getvalue()
            except ImageRejected as exc:
                log.warning("packing slip logo not used", url=url, reason=str(exc))
    return out
