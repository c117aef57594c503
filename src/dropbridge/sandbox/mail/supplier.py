"""The supplier at the other end of the emulated mail: it answers each purchase order that reaches its address
as a wholesaler does, by replying to it (In-Reply-To and References name the PO's Message-ID, the subject is
"Re: ..." of the PO's): first a confirmation with its own order number, later a shipment notice with the
tracking numbers as an attached CSV (po_number, carrier, tracking_number, sku, quantity) or, when set, written
in the text. Replies are filed in the mailbox dropbridge reads, as delivery to that address would."""

from __future__ import annotations

import csv
import email
import email.policy
import email.utils
import io
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage

from .store import MailStore

PO_NUMBER = re.compile(r"\bdb-\d+-\d+-\d+\b", re.I)


def ups_number(shipper: str, serial: int) -> str:
    """A UPS 1Z number (1Z + 6-digit shipper + 2-digit service + 7-digit package + check digit) with a valid
    check digit: digits weighted 1, 2 alternately, the check digit brings the sum to a multiple of 10."""
    body = f"{shipper[:6]:0>6}03{serial % 10**7:07d}"
    total = sum(int(ch) * (2 if i % 2 else 1) for i, ch in enumerate(body))
    return f"1Z{body}{(10 - total % 10) % 10}"


@dataclass
class PurchaseOrder:
    reference: str
    message_id: str
    subject: str
    reply_to: str
    lines: list[tuple[str, int]]  # (sku, quantity) from the PO's CSV, when it has one
    received: float  # monotonic seconds
    order_number: str
    confirmed: bool = False
    shipped: bool = False
    tracking: list[str] = field(default_factory=list)


def _po_lines(msg) -> list[tuple[str, int]]:
    for part in msg.iter_attachments():
        if (part.get_filename() or "").lower().endswith(".csv"):
            text = (part.get_payload(decode=True) or b"").decode("utf-8-sig", "replace")
            rows = csv.DictReader(io.StringIO(text))
            out = []
            for row in rows:
                sku, qty = (row.get("supplier_sku") or "").strip(), (row.get("quantity") or "").strip()
                if sku and qty.isdigit():
                    out.append((sku, int(qty)))
            return out
    return []


class Supplier:
    def __init__(self, store: MailStore, address: str, *, confirm_after: float | None, ship_after: float | None,
                 carrier: str = "UPS", tracking_in_body: bool = False, name: str = "Supplier"):
        self.store = store
        self.address = address
        self.confirm_after = confirm_after
        self.ship_after = ship_after
        self.carrier = carrier
        self.tracking_in_body = tracking_in_body
        self.name = name
        self.lock = threading.Lock()
        self.orders: dict[str, PurchaseOrder] = {}
        self._serial = 0
        self._replies = 0

    def receive(self, raw: bytes, rcpt_tos: list[str], now: float) -> None:
        """A message reached the SMTP server: if it is a PO for this supplier, remember it."""
        if self.address.lower() not in (r.lower() for r in rcpt_tos):
            return
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        reference = str(msg.get("X-Dropbridge-Reference", "")).strip()
        if not reference:
            found = PO_NUMBER.search(str(msg.get("Subject", "")))
            reference = found.group(0) if found else ""
        if not reference:
            return
        reply_to = email.utils.parseaddr(str(msg.get("Reply-To") or msg.get("From") or ""))[1]
        with self.lock:
            if reference in self.orders:
                return  # a second copy of the same PO: one order here
            self._serial += 1
            self.orders[reference] = PurchaseOrder(reference, str(msg.get("Message-ID", "")).strip(),
                                                   str(msg.get("Subject", "")), reply_to, _po_lines(msg), now,
                                                   f"SO-{self._serial:05d}")

    def due(self, now: float) -> None:
        """File the replies whose time has come."""
        with self.lock:
            orders = list(self.orders.values())
        for po in orders:
            if self.confirm_after is not None and not po.confirmed and now - po.received >= self.confirm_after:
                self.confirm(po.reference)
            if self.ship_after is not None and not po.shipped and now - po.received >= self.ship_after:
                self.ship(po.reference)

    # ---- replies ---------------------------------------------------------------------------------------

    def _reply(self, po: PurchaseOrder, body: str) -> EmailMessage:
        with self.lock:
            self._replies += 1
            n = self._replies
        msg = EmailMessage()
        msg["Message-ID"] = f"<reply.{n}.{po.reference}@{self.address.rsplit('@', 1)[-1]}>"
        msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
        msg["From"] = email.utils.formataddr((self.name, self.address))
        msg["To"] = po.reply_to
        msg["Subject"] = po.subject if po.subject.lower().startswith("re:") else f"Re: {po.subject}"
        if po.message_id:
            msg["In-Reply-To"] = po.message_id
            msg["References"] = po.message_id
        msg.set_content(body)
        return msg

    def confirm(self, reference: str) -> bytes:
        po = self.orders[reference]
        msg = self._reply(po, f"Hello,\n\nthank you for purchase order {reference}. We confirm it and will ship "
                              f"within two days.\nOur order number: {po.order_number}\n\nBest regards,\n{self.name}\n\n"
                              f"> Purchase order {reference}\n")
        po.confirmed = True
        return self._file(msg)

    def ship(self, reference: str, carrier: str | None = None) -> bytes:
        po = self.orders[reference]
        carrier = carrier or self.carrier
        with self.lock:
            self._serial += 1
            number = ups_number("482910", self._serial)
        po.tracking.append(number)
        if self.tracking_in_body:
            msg = self._reply(po, f"Hello,\n\npurchase order {reference} ({po.order_number}) has shipped.\n"
                                  f"Tracking: {carrier} {number}\n\nBest regards,\n{self.name}\n")
        else:
            msg = self._reply(po, f"Hello,\n\npurchase order {reference} ({po.order_number}) has shipped. The "
                                  f"tracking numbers are attached.\n\nBest regards,\n{self.name}\n")
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(["po_number", "carrier", "tracking_number", "sku", "quantity"])
            for sku, qty in po.lines or [("", 0)]:
                writer.writerow([reference, carrier, number, sku, qty or ""])
            msg.add_attachment(out.getvalue().encode(), maintype="text", subtype="csv",
                               filename=f"tracking-{reference}.csv")
        po.shipped = True
        return self._file(msg)

    def say(self, reference: str, text: str) -> bytes:
        """Any other reply (a question, a refusal): what dropbridge cannot act on by itself."""
        return self._file(self._reply(self.orders[reference], text))

    def _file(self, msg: EmailMessage) -> bytes:
        raw = msg.as_bytes(policy=email.policy.SMTP)
        self.store.append("INBOX", raw)
        return raw

    def reset(self) -> None:
        with self.lock:
            self.orders.clear()
