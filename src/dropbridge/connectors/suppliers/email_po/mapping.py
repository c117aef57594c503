"""Pure translation between purchase orders and email: the PO message we send, and the facts a supplier's
reply states.

A reply is matched to its PO by In-Reply-To / References (our Message-ID carries the PO number), else by the
PO number in the subject; a tracking CSV attached (any .csv file) or tracking numbers written in the text
(on a line naming "tracking") report a shipment; words of confirmation report the order acknowledged.
Anything else (a question, a refusal, an out-of-office) is not guessed at: it is Unrecognised, which keeps
the message and alerts a person."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage, Message

from dropbridge.connectors.kit.documents import lines_of
from dropbridge.services.ports import (
    Fact,
    OrderAcknowledged,
    ShipmentReported,
    SupplierOrderRequest,
    TrackingUpdate,
    Unrecognised,
)
from dropbridge.services.shipment_files import parcels, read_shipment_csv

REFERENCE = re.compile(r"\bdb-\d+-\d+-\d+\b", re.I)  # our supplier-order keys (services/route_order.py)
MESSAGE_ID = re.compile(r"<po\.(db-\d+-\d+-\d+)@[^>]+>", re.I)
REFERENCE_HEADER = "X-Dropbridge-Reference"
CONFIRMED = re.compile(r"\b(confirm(?:s|ed|ing|ation)?|accept(?:s|ed)?|acknowledg(?:e|ed|ement)|received your "
                       r"(?:purchase )?order|order (?:is )?received|(?:is|are) being processed|will ship)\b", re.I)
DOUBTFUL = re.compile(r"\b(cancel(?:l?ed|lation)?|reject(?:s|ed)?|declin(?:e|ed)|unable|cannot|can't|can ?not|"
                      r"out of stock|unavailable|discontinued|no longer|backorder(?:ed)?|question|clarif(?:y|ication))"
                      r"\b", re.I)
AUTO_SUBJECT = re.compile(r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|abwesenheit)", re.I)
TRACKING_LINE = re.compile(r"track(?:ing)?|sendungsnummer|awb|waybill", re.I)
NUMBER = re.compile(r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z]|\d{10,})[A-Z0-9]{8,35}\b")
SUPPLIER_ORDER = re.compile(r"\b(?:order|confirmation|sales order)\s*(?:number|no\.?|#|id)\s*[:#]?\s*"
                            r"([A-Z0-9][A-Z0-9-]{2,40})\b", re.I)
REPLY_CUT = re.compile(r"^(-{2,}\s*original message\s*-{2,}|on .{4,200} wrote:|from:\s|-----\s*forwarded)", re.I)
CARRIERS = (("royal mail", "Royal Mail"), ("china post", "China Post"), ("canada post", "Canada Post"),
            ("australia post", "Australia Post"), ("deutsche post", "Deutsche Post"), ("la poste", "La Poste"),
            ("fedex", "FedEx"), ("usps", "USPS"), ("ups", "UPS"), ("dhl", "DHL"), ("ems", "EMS"),
            ("postnl", "PostNL"), ("dpd", "DPD"), ("gls", "GLS"), ("evri", "Evri"), ("hermes", "Hermes"),
            ("yunexpress", "YunExpress"), ("4px", "4PX"), ("yanwen", "Yanwen"), ("cainiao", "Cainiao"))
S10_COUNTRY = {"CN": "China Post", "GB": "Royal Mail", "US": "USPS", "DE": "Deutsche Post", "CA": "Canada Post",
               "AU": "Australia Post", "FR": "La Poste", "NL": "PostNL", "HK": "Hongkong Post"}


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip(">").lower() or "dropbridge.invalid"


def message_id(reference: str, from_email: str) -> str:
    """Our Message-ID for a PO: derived from its reference, so a reply names the PO in In-Reply-To."""
    return f"<po.{reference}@{domain_of(from_email)}>"


def _money(amount) -> str:
    return str(amount) if amount is not None else "-"


def po_body(request: SupplierOrderRequest, buyer: str) -> str:
    a = request.ship_to
    lines = [f"Purchase order {request.reference} from {buyer}", "",
             "Please ship the following to:", ""]
    lines += [f"  {p}" for p in (a.name, a.company, a.address1, a.address2,
                                 " ".join(x for x in (a.postal_code, a.city) if x), a.province_code, a.country_code,
                                 f"phone {a.phone}" if a.phone else "") if p]
    lines += [""]
    if request.shipping_method:
        lines += [f"Shipping method: {request.shipping_method}", ""]
    lines += ["Items:"]
    for line in lines_of(request):
        title = f" - {line.title}" if line.title else ""
        lines.append(f"  {line.quantity} x {line.supplier_sku}{title} @ {_money(line.unit_cost)}")
    if request.branding is not None:
        lines += ["", "Ship under our name: enclose the attached packing slip, and no invoice or price."]
    lines += ["", "Please reply to this email to confirm the order, and again when it ships with the tracking",
              "numbers: attach a CSV (po_number, carrier, tracking_number, sku, quantity), or write one line",
              "per parcel: \"Tracking: <carrier> <tracking number>\". Keep the PO number in the subject.",
              "", "The order is attached as CSV and PDF."]
    return "\n".join(lines) + "\n"


def po_message(request: SupplierOrderRequest, *, from_email: str, to: str, cc: Sequence[str] = (),
               reply_to: str | None = None, buyer: str, sent_at: datetime,
               attachments: Sequence[tuple[str, str, bytes]]) -> EmailMessage:
    """The PO email: plain text, with attachments (filename, MIME type, bytes)."""
    msg = EmailMessage()
    msg["Message-ID"] = message_id(request.reference, from_email)
    msg["Date"] = email.utils.format_datetime(sent_at.astimezone(UTC))
    msg["From"] = email.utils.formataddr((buyer, from_email))
    msg["To"] = to
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = f"Purchase order {request.reference} from {buyer}"
    msg[REFERENCE_HEADER] = request.reference
    msg.set_content(po_body(request, buyer))
    for filename, mime, data in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


# ---- replies ----------------------------------------------------------------------------------------------


def parse_message(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.default)


def reference_of(msg: Message) -> str:
    """The PO a reply is about: In-Reply-To / References first (our Message-ID), then the subject."""
    for header in ("In-Reply-To", "References"):
        found = MESSAGE_ID.findall(str(msg.get(header, "")))
        if found:
            return (found[-1] if header == "In-Reply-To" else found[0]).lower()
    match = REFERENCE.search(str(msg.get("Subject", "")))
    return match.group(0).lower() if match else ""


def _text(msg: Message) -> str:
    part = msg.get_body(preferencelist=("plain", "html")) if hasattr(msg, "get_body") else None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"<br\s*/?>|</p>|</div>|</tr>", "\n", content, flags=re.I)
        content = re.sub(r"<[^>]+>", " ", content)
    return content


def own_words(text: str) -> list[str]:
    """The reply's own lines: quoted text (lines starting with '>') and what follows a reply header are the
    PO we sent, not the supplier's answer."""
    out = []
    for line in text.splitlines():
        if REPLY_CUT.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        out.append(line)
    return out


def carrier_of(text: str, number: str) -> str:
    lowered = f" {text.lower()} "
    for word, name in CARRIERS:
        if re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", lowered):
            return name
    if number.startswith("1Z") and len(number) == 18:
        return "UPS"
    if re.fullmatch(r"[A-Z]{2}\d{9}[A-Z]{2}", number):  # UPU S10: the last two letters name the post
        return S10_COUNTRY.get(number[-2:], "")
    return ""


def tracking_in_text(lines: list[str]) -> list[tuple[str, str]]:
    """(carrier, number) written on lines that speak of tracking, in order, without repeats."""
    found: dict[str, str] = {}
    for line in lines:
        if not TRACKING_LINE.search(line):
            continue
        for number in NUMBER.findall(line.upper()):
            if REFERENCE.search(number.lower()):
                continue
            found.setdefault(number, carrier_of(line, number))
    return [(carrier, number) for number, carrier in found.items()]


def _csv_attachments(msg: Message) -> list[tuple[str, bytes]]:
    out = []
    for part in msg.iter_attachments() if hasattr(msg, "iter_attachments") else []:
        name = part.get_filename() or ""
        if name.lower().endswith(".csv") or part.get_content_type() in ("text/csv", "application/csv"):
            payload = part.get_payload(decode=True) or b""
            out.append((name or "attachment.csv", payload))
    return out


def _sent_at(msg: Message) -> datetime | None:
    try:
        value = email.utils.parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def facts_from_email(raw: bytes, *, from_email: str = "") -> list[Fact]:
    """What a reply in the mailbox says."""
    msg = parse_message(raw)
    subject = str(msg.get("Subject", ""))
    if from_email and MESSAGE_ID.fullmatch(str(msg.get("Message-ID", "")).strip()) and \
            email.utils.parseaddr(str(msg.get("From", "")))[1].lower() == from_email.lower():
        return []  # one of our own POs (a copy kept in the mailbox)
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if (auto and auto != "no") or AUTO_SUBJECT.match(subject) or msg.get("X-Autoreply"):
        return [Unrecognised(f"automatic reply {subject[:120]!r}: a person may want to read it")]
    reference = reference_of(msg)
    shipped_at = _sent_at(msg)
    facts: list[Fact] = []
    for name, data in _csv_attachments(msg):
        try:
            sheet = read_shipment_csv(data)
        except Exception as exc:  # noqa: BLE001 - a file we cannot read is reported, not guessed at
            facts.append(Unrecognised(f"attachment {name}: {exc}"))
            continue
        for line, column, reason in sheet.errors:
            facts.append(Unrecognised(f"attachment {name} line {line}: {column}: {reason}"))
        for parcel in parcels(sheet.rows, reference):
            if not parcel.reference and not parcel.order_number:
                facts.append(Unrecognised(f"attachment {name} line {parcel.lines[0]}: names no purchase order"))
                continue
            facts.append(ShipmentReported(TrackingUpdate(
                reference=parcel.reference, external_order_id=parcel.order_number, carrier=parcel.carrier,
                tracking_number=parcel.tracking_number, tracking_url=parcel.tracking_url,
                shipped_at=parcel.shipped_at or shipped_at, items=parcel.items)))
    words = own_words(_text(msg))
    if not any(isinstance(f, ShipmentReported) for f in facts):
        for carrier, number in tracking_in_text(words):
            if not reference:
                break
            facts.append(ShipmentReported(TrackingUpdate(reference=reference, external_order_id="",
                                                         carrier=carrier, tracking_number=number,
                                                         shipped_at=shipped_at)))
    if facts:
        return facts
    if not reference:
        return [Unrecognised(f"reply {subject[:120]!r} names no purchase order (In-Reply-To, References or "
                             "subject)")]
    said = "\n".join([subject, *words])
    if DOUBTFUL.search(said):
        return [Unrecognised(f"reply about {reference} may refuse or question the order: a person should read "
                             "it")]
    if CONFIRMED.search(said):
        number = ""
        for match in SUPPLIER_ORDER.finditer(said):
            if not REFERENCE.fullmatch(match.group(1).lower()):
                number = match.group(1)
                break
        return [OrderAcknowledged(reference=reference, external_id=number)]
    return [Unrecognised(f"reply about {reference} says nothing dropbridge understands (no confirmation, no "
                         "tracking)")]
