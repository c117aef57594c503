"""Pure builders and parsers for the dropship documents (X12 004010): 850 out; 855, 856, 810 in.

Layouts follow ../shared/contracts/suppliers.md section 5. Partners vary in qualifier choices; the
parsers read what that section shows and ignore segments they do not know.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from dropbridge.connectors.formats.x12.x12 import Segment, Transaction, X12Error
from dropbridge.domain.money import MAX_AMOUNT_MINOR


class ShipTo(NamedTuple):
    name: str
    address1: str
    address2: str | None
    city: str
    state: str
    postal: str
    country: str


class PoItem(NamedTuple):
    line_no: int
    qty: int
    unit_price: Decimal
    vendor_sku: str
    upc: str | None = None
    description: str | None = None


def _price(value: Decimal) -> str:
    # X12 R type; keep cents visible ("9.50") as partners' guides show, never exponent notation.
    if not isinstance(value, Decimal):
        raise TypeError(f"unit price must be Decimal, not {type(value).__name__}")
    if value.as_tuple().exponent > -2:  # type: ignore[operator]
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"


def build_850(
    po_number: str,
    order_date: date,
    ship_to: Sequence[str | None],
    items: Sequence[Sequence[Any]],
    *,
    consumer_order: str | None = None,
    requested_ship_date: date | None = None,
    ship_service: str | None = None,
    ship_to_phone: str | None = None,
    purpose: str = "00",
    order_type: str = "DS",
) -> list[list[Any]]:
    """An 850 drop-ship PO as a segment list (ST first, no SE: the writer adds it and ST02).

    ship_to: (name, address1, address2, city, state, postal, country).
    items: (line_no, qty, unit_price Decimal, vendor_sku, upc or None[, description]).
    ship_service goes to TD505 with TD504 "ZZ" (mutually defined), as the section 5.3 example does.
    BEG03 (the PO number) is the external reference the supplier echoes in 855/856/810.
    """
    st = ShipTo(*ship_to)
    lines = [PoItem(*item) for item in items]
    if not lines:
        raise ValueError("an 850 needs at least one PO1 line")
    segs: list[list[Any]] = [
        ["ST", "850"],
        ["BEG", purpose, order_type, po_number, None, order_date.strftime("%Y%m%d")],
    ]
    if consumer_order:
        segs.append(["REF", "CO", consumer_order])
    if requested_ship_date:
        segs.append(["DTM", "010", requested_ship_date.strftime("%Y%m%d")])
    if ship_service:
        segs.append(["TD5", None, None, None, "ZZ", ship_service])
    segs.append(["N1", "ST", st.name])
    segs.append(["N3", st.address1, st.address2 or None])
    segs.append(["N4", st.city, st.state, st.postal, st.country])
    if ship_to_phone:
        segs.append(["PER", "IC", st.name, "TE", ship_to_phone])
    total_qty = 0
    for item in lines:
        if not isinstance(item.qty, int) or item.qty <= 0:
            raise ValueError(f"PO1 line {item.line_no}: quantity must be a positive int, not {item.qty!r}")
        total_qty += item.qty
        po1: list[Any] = [
            "PO1",
            item.line_no,
            item.qty,
            "EA",
            _price(item.unit_price),
            None,
            "VN",
            item.vendor_sku,
        ]
        if item.upc:
            po1 += ["UP", item.upc]
        segs.append(po1)
        if item.description:
            segs.append(["PID", "F", None, None, None, item.description])
    segs.append(["CTT", len(lines), total_qty])  # CTT02 hash total: the sum of PO1 quantities
    return segs


# -- shared helpers ----------------------------------------------------------------------------------


def product_ids(seg: Segment, start: int) -> dict[str, str]:
    """Qualifier/id pairs from element `start` on (LIN02, PO106, IT106, ...); first of each wins."""
    ids: dict[str, str] = {}
    n = start
    while n + 1 <= len(seg.elements):
        qualifier, value = seg.get(n), seg.get(n + 1)
        if qualifier and value and qualifier not in ids:
            ids[qualifier] = value
        n += 2
    return ids


def _vendor_sku(ids: dict[str, str]) -> str | None:
    return ids.get("VN") or next(iter(ids.values()), None)


def _decimal(seg: Segment, n: int) -> Decimal | None:
    raw = seg.get(n)
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise X12Error(f"{seg.tag}{n:02d} {raw!r} is not a number", seg.position, seg.tag) from None
    if not value.is_finite():
        raise X12Error(f"{seg.tag}{n:02d} {raw!r} is not a number", seg.position, seg.tag)
    if value and value.adjusted() >= 15:  # no amount or quantity we record is that large (MAX_AMOUNT_MINOR)
        raise X12Error(f"{seg.tag}{n:02d} {raw[:40]!r} is out of range", seg.position, seg.tag)
    return value


def _qty(seg: Segment, n: int) -> int | Decimal | None:
    value = _decimal(seg, n)
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else value


def _implied2(seg: Segment, n: int) -> int | None:
    """An N2 element (2 implied decimals) as hundredths: "2380" -> 2380, "-480" -> -480."""
    raw = seg.get(n)
    if not raw:
        return None
    body = raw[1:] if raw[:1] in "+-" else raw
    if not body.isdigit():
        raise X12Error(f"{seg.tag}{n:02d} {raw!r} is not an N2 number", seg.position, seg.tag)
    if len(body.lstrip("0")) > 15 or int(body) > MAX_AMOUNT_MINOR:
        raise X12Error(f"{seg.tag}{n:02d} {raw[:40]!r} is out of range", seg.position, seg.tag)
    return -int(body) if raw.startswith("-") else int(body)


def _require(txn: Transaction, set_id: str) -> list[Segment]:
    if txn.set_id != set_id:
        raise X12Error(f"expected a {set_id} transaction set, got {txn.set_id}", txn.position, "ST")
    if not txn.segments:
        raise X12Error("transaction was read without its segments (keep_segments=False)", txn.position, "ST")
    return txn.body


# -- 855 ---------------------------------------------------------------------------------------------


def parse_855(transaction: Transaction) -> dict[str, Any]:
    """{po_number, purpose, ack_type, date, lines: [{line_no, qty, unit_price, vendor_sku, upc,
    acks: [{status, qty, uom, date_qualifier, date}]}]}. ack_type is BAK02 (AC/AD/AK/RD/RJ);
    ACK01 statuses are IA accepted, IB backordered, IR rejected, IQ/IP quantity/price changed."""
    result: dict[str, Any] = {"po_number": None, "purpose": None, "ack_type": None, "date": None, "lines": []}
    line: dict[str, Any] | None = None
    for seg in _require(transaction, "855"):
        if seg.tag == "BAK":
            result.update(purpose=seg.get(1), ack_type=seg.get(2), po_number=seg.get(3), date=seg.get(4))
        elif seg.tag == "PO1":
            ids = product_ids(seg, 6)
            line = {
                "line_no": seg.get(1),
                "qty": _qty(seg, 2),
                "unit_price": _decimal(seg, 4),
                "vendor_sku": _vendor_sku(ids),
                "upc": ids.get("UP"),
                "acks": [],
            }
            result["lines"].append(line)
        elif seg.tag == "ACK":
            if line is None:
                raise X12Error("ACK before any PO1", seg.position, seg.tag)
            line["acks"].append(
                {
                    "status": seg.get(1),
                    "qty": _qty(seg, 2),
                    "uom": seg.get(3) or None,
                    "date_qualifier": seg.get(4) or None,
                    "date": seg.get(5) or None,
                }
            )
    if not result["po_number"]:
        raise X12Error("855 has no BAK03 (PO number)", transaction.position, "BAK")
    return result


# -- 856 ---------------------------------------------------------------------------------------------


def parse_856(transaction: Transaction) -> list[dict[str, Any]]:
    """One entry per order (HL level O) in the ship notice:
    {shipment_id, ship_date, po_number, consumer_order, carrier_scac, service, tracking_numbers, items}.

    Tracking numbers are the shipment's REF*CN plus MAN*CP from packs under that order, de-duplicated
    in order of appearance. items are (vendor_sku, qty) from LIN + SN1 under that order.
    """
    segs = _require(transaction, "856")
    shipment: dict[str, Any] = {"shipment_id": None, "ship_date": None, "carrier_scac": None, "service": None}
    shipment_tracking: list[str] = []
    levels: dict[str, tuple[str, str]] = {}  # HL id -> (level code, parent id)
    orders: dict[str, dict[str, Any]] = {}  # HL id of the order -> entry
    current: str | None = None
    pending_sku: str | None = None

    def order_of(hl_id: str | None) -> dict[str, Any] | None:
        seen = set()
        while hl_id and hl_id in levels and hl_id not in seen:
            seen.add(hl_id)
            level, parent = levels[hl_id]
            if level == "O":
                return orders.get(hl_id)
            hl_id = parent
        return None

    def level_of(hl_id: str | None) -> str | None:
        return levels[hl_id][0] if hl_id in levels else None

    for seg in segs:
        tag = seg.tag
        if tag == "BSN":
            shipment["shipment_id"] = seg.get(2)
            shipment["ship_date"] = seg.get(3) or None
        elif tag == "HL":
            current = seg.get(1)
            levels[current] = (seg.get(3), seg.get(2))
            pending_sku = None
            if seg.get(3) == "O":
                orders[current] = {
                    "po_number": None,
                    "consumer_order": None,
                    "tracking_numbers": [],
                    "items": [],
                }
        elif tag == "TD5" and level_of(current) == "S":
            if seg.get(3):
                shipment["carrier_scac"] = seg.get(3)  # TD502 "2" says TD503 is a SCAC
            shipment["service"] = seg.get(5) or shipment["service"]
        elif tag == "REF" and seg.get(1) == "CN" and level_of(current) == "S":
            shipment_tracking.append(seg.get(2))
        elif tag == "REF" and seg.get(1) == "CO" and (entry := order_of(current)) is not None:
            entry["consumer_order"] = seg.get(2)
        elif tag == "PRF" and (entry := order_of(current)) is not None:
            entry["po_number"] = seg.get(1)
        elif tag == "MAN" and seg.get(1) == "CP" and seg.get(2):
            entry = order_of(current)
            target = entry["tracking_numbers"] if entry is not None else shipment_tracking
            target.append(seg.get(2))
        elif tag == "LIN":
            pending_sku = _vendor_sku(product_ids(seg, 2))
        elif tag == "SN1":
            entry = order_of(current)
            if entry is None:
                raise X12Error("SN1 outside an order (HL level O)", seg.position, tag)
            if pending_sku is None:
                raise X12Error("SN1 without a LIN item id", seg.position, tag)
            entry["items"].append((pending_sku, _qty(seg, 2)))
    if not orders:
        raise X12Error("856 has no order level (HL ... O)", transaction.position, "HL")
    result = []
    for entry in orders.values():
        tracking = list(dict.fromkeys(shipment_tracking + entry["tracking_numbers"]))
        result.append({**shipment, **entry, "tracking_numbers": tracking})
    return result


# -- 810 ---------------------------------------------------------------------------------------------


def parse_810(transaction: Transaction) -> dict[str, Any]:
    """{invoice_no, invoice_date, po_number, po_date, currency, lines: [(vendor_sku, qty, unit_price)],
    total_minor, charges: [(code, amount_minor)]}.

    TDS01 and SAC05 are N2 (2 implied decimals), so amounts are hundredths of the invoice currency
    whatever its exponent. Allowances (SAC01 "A") are negative so charges and lines sum to the total.
    """
    result: dict[str, Any] = {
        "invoice_no": None,
        "invoice_date": None,
        "po_number": None,
        "po_date": None,
        "currency": None,
        "lines": [],
        "total_minor": None,
        "charges": [],
    }
    for seg in _require(transaction, "810"):
        tag = seg.tag
        if tag == "BIG":
            result.update(
                invoice_date=seg.get(1),
                invoice_no=seg.get(2),
                po_date=seg.get(3) or None,
                po_number=seg.get(4) or None,
            )
        elif tag == "CUR":
            result["currency"] = seg.get(2) or None
        elif tag == "IT1":
            sku = _vendor_sku(product_ids(seg, 6))
            if sku is None:
                raise X12Error("IT1 has no product id", seg.position, tag)
            result["lines"].append((sku, _qty(seg, 2), _decimal(seg, 4)))
        elif tag == "TDS":
            result["total_minor"] = _implied2(seg, 1)
        elif tag == "SAC":
            amount = _implied2(seg, 5)
            if amount is None:
                continue
            result["charges"].append((seg.get(2), -amount if seg.get(1) == "A" else amount))
    if not result["invoice_no"]:
        raise X12Error("810 has no BIG02 (invoice number)", transaction.position, "BIG")
    if result["total_minor"] is None:
        raise X12Error("810 has no TDS (total)", transaction.position, "TDS")
    return result


# -- our vocabulary <-> X12 (the connector speaks only these) ------------------------------------------------

# ACK01 line statuses (suppliers.md 5.4) and what each means for us.
ACK_REJECTED = {"IR", "ID", "R1", "R2", "R3", "R4"}  # rejected; deleted
ACK_BACKORDERED = {"IB", "BP", "IW"}  # backordered; partial backorder; on hold at the warehouse
# BAK02: the whole PO refused, with or without line detail.
BAK_REJECTED = {"RJ", "RD"}
# TD503 SCACs partners send for the carriers customers know (the rest pass through as written).
SCAC_NAMES = {"UPSN": "UPS", "UPSS": "UPS", "USPS": "USPS", "FDEG": "FedEx", "FDE": "FedEx", "FXFE": "FedEx",
              "FDEN": "FedEx", "DHLC": "DHL Express", "DHL": "DHL Express", "RMLU": "Royal Mail",
              "CHPO": "China Post"}
# SAC02 charge codes: what an 810 charge is for.
SAC_KINDS = {"G830": "shipping", "D240": "shipping", "H090": "fee", "H850": "tax"}
PO_NUMBER_MAX = 22  # BEG03 is AN 1-22


def clean_text(value: str | None, forbidden: str, limit: int = 60) -> str | None:
    """Free text (names, street lines) with the partner's delimiters and line breaks replaced by spaces, so a
    customer's "Apt *2" cannot break the interchange."""
    if not value:
        return None
    for ch in forbidden + "\r\n":
        value = value.replace(ch, " ")
    value = " ".join(value.split())[:limit]
    return value or None


def segments_850(request: Any, order_date: date, forbidden: str) -> list[list[Any]]:
    """An 850 for a SupplierOrderRequest: BEG03 is our reference (the partner echoes it in 855/856/810 as the
    PO number), PO101 our order-line ref (echoed in the 855, so a rejected line is named exactly), PO104 the
    unit cost we expect, REF*CO the customer's order number, TD5 the shipping method a quote named."""
    if len(request.reference) > PO_NUMBER_MAX:
        raise ValueError(f"reference {request.reference!r} is longer than BEG03 allows ({PO_NUMBER_MAX})")
    a = request.ship_to

    def t(value, limit=60):
        return clean_text(value, forbidden, limit)

    ship_to = (t(a.name) or "Customer", t(a.address1, 55) or "", t(a.address2, 55), t(a.city, 30) or "",
               t(a.province_code, 2) or "", t(a.postal_code, 15) or "", a.country_code)
    lines = request.lines or tuple(_Line(i.supplier_sku, i.quantity) for i in request.items)
    items = []
    for n, line in enumerate(lines, start=1):
        cost = getattr(line, "unit_cost", None)
        price = cost.to_decimal() if cost is not None else Decimal("0")
        ref = t(getattr(line, "line_ref", ""), 20) or str(n)
        items.append((ref, line.quantity, price, t(line.supplier_sku, 48), None, t(getattr(line, "title", ""), 80)))
    branding = getattr(request, "branding", None)
    return build_850(request.reference, order_date, ship_to, items,
                     consumer_order=t(branding.customer_order_number, 30) if branding else None,
                     ship_service=t(request.shipping_method, 35), ship_to_phone=t(a.phone, 30))


class _Line(NamedTuple):
    supplier_sku: str
    quantity: int


def _line_status(acks: list[dict[str, Any]]) -> str:
    codes = {a["status"] for a in acks}
    if codes & ACK_REJECTED:
        return "rejected"
    if codes & ACK_BACKORDERED:
        return "backordered"
    return "accepted"


def acknowledgement_from_855(doc: dict[str, Any], currency: str) -> dict[str, Any]:
    """{"reference", "rejected_whole": bool, "reason", "lines": [(line_ref, sku, qty, status, reason)],
    "cost": minor units or None} from parse_855's result."""
    lines = []
    for line in doc["lines"]:
        status = _line_status(line["acks"])
        qty = line["qty"] if isinstance(line["qty"], int) else 0
        codes = ",".join(a["status"] for a in line["acks"] if a["status"])
        lines.append((str(line["line_no"] or ""), line["vendor_sku"] or "", qty, status,
                      f"855 ACK {codes}" if status != "accepted" else ""))
    rejected_whole = doc["ack_type"] in BAK_REJECTED and (
        not lines or all(status == "rejected" for *_, status, _ in lines))
    cost = None
    accepted = [ln for ln in doc["lines"] if _line_status(ln["acks"]) == "accepted"]
    if accepted and all(ln["unit_price"] is not None and isinstance(ln["qty"], int) for ln in accepted):
        total = sum((ln["unit_price"] * ln["qty"] for ln in accepted), Decimal(0))
        cost = total
    return {"reference": doc["po_number"], "rejected_whole": rejected_whole, "lines": lines, "cost": cost,
            "reason": f"855 BAK02 {doc['ack_type']}: purchase order rejected" if rejected_whole else ""}


def shipments_from_856(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One shipment per order level with a tracking number: {"reference", "carrier", "tracking_number",
    "shipped_on": date or None, "items": [(sku, qty)]}. The first tracking number carries the items (one
    Shipment per tracking number; further parcels of the same order are listed in "more_tracking")."""
    out = []
    for entry in orders:
        if not entry["po_number"] or not entry["tracking_numbers"]:
            continue
        scac = entry.get("carrier_scac") or ""
        carrier = SCAC_NAMES.get(scac.upper()) or scac or entry.get("service") or ""
        shipped = None
        if entry.get("ship_date"):
            try:
                shipped = datetime.strptime(entry["ship_date"], "%Y%m%d").date()
            except ValueError:
                shipped = None
        out.append({"reference": entry["po_number"], "carrier": carrier,
                    "tracking_number": entry["tracking_numbers"][0], "more_tracking": entry["tracking_numbers"][1:],
                    "shipped_on": shipped,
                    "items": [(sku, qty) for sku, qty in entry["items"] if isinstance(qty, int) and qty > 0]})
    return out


def invoice_from_810(doc: dict[str, Any], default_currency: str) -> dict[str, Any]:
    """{"number", "currency", "issued_on", "reference", "lines": [(kind, sku, qty, unit_price Decimal,
    description)], "total": Decimal}. TDS01/SAC05 are hundredths (N2) whatever the currency."""
    currency = (doc["currency"] or default_currency).upper()
    issued = None
    if doc["invoice_date"]:
        try:
            issued = datetime.strptime(doc["invoice_date"], "%Y%m%d").date()
        except ValueError:
            issued = None
    lines: list[tuple[str, str | None, int, Decimal, str]] = []
    for sku, qty, price in doc["lines"]:
        lines.append(("item", sku, qty if isinstance(qty, int) else 0, price or Decimal(0), ""))
    for code, hundredths in doc["charges"]:
        lines.append((SAC_KINDS.get(code or "", "fee"), None, 1, Decimal(hundredths) / 100, f"SAC {code}"))
    return {"number": doc["invoice_no"], "currency": currency, "issued_on": issued, "reference": doc["po_number"],
            "lines": lines, "total": Decimal(doc["total_minor"]) / 100}


def functional_acks(txn: Transaction) -> dict[str, Any]:
    """A received 997: {"functional_id", "group_control", "sets": [(set_id, control, status, codes)],
    "group_status"}; AK5/AK9 statuses A accepted, E accepted with errors, R rejected, P partially."""
    out: dict[str, Any] = {"functional_id": None, "group_control": None, "sets": [], "group_status": None,
                           "errors": []}
    current: list[Any] | None = None
    for seg in _require(txn, "997"):
        if seg.tag == "AK1":
            out["functional_id"], out["group_control"] = seg.get(1), seg.get(2)
        elif seg.tag == "AK2":
            current = [seg.get(1), seg.get(2), None, []]
            out["sets"].append(current)
        elif seg.tag in ("AK3", "AK4"):
            out["errors"].append(str(seg))
        elif seg.tag == "AK5" and current is not None:
            current[2] = seg.get(1)
            current[3] = [e for e in seg.elements[1:] if e]
        elif seg.tag == "AK9":
            out["group_status"] = seg.get(1)
    if out["functional_id"] is None or out["group_status"] is None:
        raise X12Error("997 without AK1 or AK9", txn.position, "AK1")
    out["sets"] = [tuple(s) for s in out["sets"]]
    return out
