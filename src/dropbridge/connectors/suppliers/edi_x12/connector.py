"""`EdiX12Supplier`: an ANSI X12 004010 trading partner reached through files (SFTP or a VAN folder).

Out: one 850 per supplier order, named after its PO number (our reference), uploaded under a temporary
name and renamed (a rename that never overwrites), after checking the final name is not already there;
a 997 for every functional group received. In (collected by the scheduler as a Mailbox): 855, 856, 810,
846 and 997, parsed into facts. A file with any syntax or element error is refused whole: a rejecting 997
naming the segment and element goes back, and nothing in it is applied.

Exactly once: control numbers are allocated (committed) before a file is written. `find_order` looks for
the 850 under its final name in the outbox (and where the partner moves collected files, when it says);
a temporary upload without its final file means an interrupted upload that the partner never saw.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import posixpath
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from dropbridge.connectors.formats.feeds.types import FeedFormatError
from dropbridge.connectors.formats.x12.ack import AckError, ack_997
from dropbridge.connectors.formats.x12.x12 import Interchange, X12Error, X12Writer, parse_interchange
from dropbridge.connectors.kit.file_exchange import FileTransport, is_temp, temp_of
from dropbridge.domain.errors import ConfigurationError, WebhookRejected
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    CANNOT_KNOW,
    AcknowledgementNeeded,
    CannotKnow,
    CollectedDocument,
    Collection,
    ConnectorServices,
    ControlNumbers,
    Fact,
    InboundEvent,
    InvoiceLine,
    InvoiceReported,
    LineDecision,
    OfferRow,
    OffersReported,
    OrderAcknowledged,
    OrderFailed,
    PlacedOrder,
    Placement,
    ReceiptConfirmed,
    ShipmentReported,
    SupplierInvoice,
    SupplierOrderItem,
    SupplierOrderRequest,
    TrackingUpdate,
    Unrecognised,
)

from . import mapping
from .client import transport_for
from .config import EdiConfig
from .inbound import read_846
from .validation import validate

# GS01 functional identifier of each transaction set (suppliers.md 5.1).
FUNCTIONAL_IDS = {"846": "IB", "850": "PO", "855": "PR", "856": "SH", "810": "IN", "997": "FA"}
READ_SETS = ("846", "855", "856", "810", "997")  # what a partner sends us
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class MemoryControlNumbers:
    """Control numbers held in memory: only for a connector built outside dropbridge's database (the contract
    suite builds connectors straight from the registry); dropbridge itself always lends its persisted ones."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rows: list[tuple[str, str, int, str]] = []

    def allocate(self, owner: str, kind: str, reference: str = "", *, start: int = 1,
                 maximum: int = 999_999_999) -> int:
        with self._lock:
            used = [n for o, k, n, _ in self._rows if (o, k) == (owner, kind)]
            number = max([start - 1, *used]) + 1
            if number > maximum:
                raise ConfigurationError(f"{kind} control numbers are used up")
            self._rows.append((owner, kind, number, reference))
            return number

    def reference_of(self, owner: str, kind: str, number: int) -> str | None:
        with self._lock:
            return next((r for o, k, n, r in self._rows if (o, k, n) == (owner, kind, number)), None)

    def numbers_for(self, owner: str, reference: str) -> list[tuple[str, int]]:
        with self._lock:
            return [(k, n) for o, k, n, r in self._rows if o == owner and r == reference]


def po_file_name(reference: str) -> str:
    return f"850_{_SAFE.sub('_', reference)}.edi"


class EdiX12Supplier:
    kind = "edi_x12"

    def __init__(self, transport: FileTransport, profile: EdiConfig, *, owner: str = "supplier:?",
                 control_numbers: ControlNumbers | None = None, clock: Callable[[], datetime] | None = None):
        self.transport = transport
        self.profile = profile
        self.owner = owner
        self.numbers = control_numbers or MemoryControlNumbers()
        self._clock = clock or (lambda: datetime.now(UTC))
        p = profile
        self._forbidden = p.element_separator + p.component_separator + p.segment_terminator

    # ---- writing ---------------------------------------------------------------------------------------

    def _writer(self, reference: str) -> X12Writer:
        p = self.profile

        def allocate(kind: str) -> int:  # committed before the document carrying it exists
            return self.numbers.allocate(self.owner, kind, reference, start=p.control_number_start)

        return X12Writer(p.sender_qualifier, p.sender_id, p.receiver_qualifier, p.receiver_id,
                         control_numbers=allocate, usage="T" if p.usage == "test" else "P",
                         element_sep=p.element_separator, component_sep=p.component_separator,
                         segment_term=p.segment_terminator, line_ending=p.line_ending,
                         ack_requested=p.ack_requested, gs_sender=p.gs_sender_id, gs_receiver=p.gs_receiver_id,
                         transaction_numbers=True)

    def _placed(self, reference: str, status: str) -> PlacedOrder:
        # The PO number is our reference: it is also the id the partner knows the order by.
        return PlacedOrder(external_id=reference, reference=reference, status=status, placement=Placement.AWAITING_ACK)

    def _landed(self, session, name: str) -> bool:
        p = self.profile
        return session.exists(posixpath.join(p.outbox, name)) or bool(
            p.outbox_archive and session.exists(posixpath.join(p.outbox_archive, name)))

    def place_order(self, request: SupplierOrderRequest) -> PlacedOrder:
        if "850" not in self.profile.documents:
            raise ConfigurationError(f"{self.profile.receiver_id} does not take 850 purchase orders")
        try:
            segments = mapping.segments_850(request, self._clock().date(), self._forbidden)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"{request.reference}: cannot be written as an 850: {exc}") from exc
        name = po_file_name(request.reference)
        with self.transport.session() as session:
            if self._landed(session, name):  # an earlier attempt got there: never a second 850
                return self._placed(request.reference, "sent earlier")
            text = self._writer(request.reference).write_interchange(
                [("PO", self.profile.version, [segments])], self._clock())
            session.put_new(self.profile.outbox, name, text.encode())
            self._clear_temps(session, name)
        return self._placed(request.reference, "sent")

    def _clear_temps(self, session, name: str) -> None:
        """Temporary uploads of an 850 now in place (left by interrupted attempts)."""
        for leftover in session.list_files(self.profile.outbox):
            if temp_of(name, leftover):
                session.remove(posixpath.join(self.profile.outbox, leftover))

    def find_order(self, reference: str) -> PlacedOrder | None | CannotKnow:
        name = po_file_name(reference)
        with self.transport.session() as session:
            if self._landed(session, name):
                return self._placed(reference, "sent")
            interrupted = any(temp_of(name, n) for n in session.list_files(self.profile.outbox))
        if interrupted or not self.numbers.numbers_for(self.owner, reference):
            return None  # only a temporary upload, or never got as far as writing: the partner never saw it
        if self.profile.outbox_archive:
            return None  # collected files stay in the archive, and it is not there either
        return CANNOT_KNOW  # written, and gone from the outbox: collected (or lost) — only the partner knows

    def send_acknowledgement(self, document: bytes, name: str) -> None:
        with self.transport.session() as session:
            if not self._landed(session, name):  # a re-run finds it there (or collected) and sends nothing
                session.put_new(self.profile.outbox, name, document)

    # ---- the mailbox -------------------------------------------------------------------------------------

    def collect(self, cursor: str | None, limit: int) -> Collection:
        """The files waiting in the inbox folder, oldest first (no cursor: what is collected is archived)."""
        documents = []
        for name in self.pending_documents(limit):
            body = self.fetch_document(name)
            # A re-sent file with new content is new; the same file collected twice is one inbox entry.
            event_id = f"{name[:150]}#{hashlib.sha256(body).hexdigest()[:32]}"
            documents.append(CollectedDocument(event_id=event_id, topic=name[:100], raw_body=body, channel="file",
                                               handle=name))
        return Collection(documents, cursor)

    def collected(self, documents: list[CollectedDocument]) -> None:
        for doc in documents:  # only once safely in our inbox
            self.archive_document(doc.handle)

    def pending_documents(self, limit: int = 100) -> list[str]:
        with self.transport.session() as session:
            return [n for n in session.list_files(self.profile.inbox) if not is_temp(n)][:limit]

    def fetch_document(self, name: str) -> bytes:
        with self.transport.session() as session:
            return session.read(posixpath.join(self.profile.inbox, name))

    def archive_document(self, name: str) -> None:
        p = self.profile
        with self.transport.session() as session:
            source = posixpath.join(p.inbox, name)
            for n in itertools.count():
                target = posixpath.join(p.inbox_archive, name if n == 0 else f"{name}.{n}")
                if session.move(source, target):
                    return
                if n > 100:
                    raise ConfigurationError(f"cannot archive {name}: {p.inbox_archive} holds it 100 times")

    # ---- reading -----------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        raise WebhookRejected("an EDI trading partner sends files to its SFTP folder, not webhooks", status=404)

    def fetch_tracking(self, external_order_id: str, reference: str) -> list[TrackingUpdate]:
        """Nothing to ask: an EDI partner reports shipments by sending 856 files, collected as they arrive."""
        return []

    def fetch_invoice(self, external_order_id: str, reference: str) -> SupplierInvoice | None:
        """Nothing to ask: invoices arrive as 810 files, collected as they arrive."""
        return None

    def facts_from_event(self, event: InboundEvent) -> list[Fact]:
        what = event.topic or event.event_id
        try:
            interchange = parse_interchange(event.raw_body, strict=False)
        except X12Error as exc:  # no readable ISA: nothing to address a 997 to
            return [Unrecognised(f"{what}: not an X12 interchange: {exc}")]
        p = self.profile
        if (interchange.receiver_id, interchange.sender_id) != (p.sender_id, p.receiver_id):
            return [Unrecognised(f"{what}: addressed from {interchange.sender_id} to {interchange.receiver_id}, "
                                 f"not from {p.receiver_id} to {p.sender_id}")]
        expected = "T" if p.usage == "test" else "P"
        if interchange.usage_indicator != expected:  # test data must never move real orders, nor the reverse
            return [Unrecognised(f"{what}: ISA15 is {interchange.usage_indicator!r} but this partner is set up for "
                                 f"{p.usage} ({expected}); nothing applied")]
        problems: list[AckError] = []
        for group, txn in interchange.transactions:
            problems += self._check_set(group.functional_id, txn)
        facts: list[Fact] = []
        if not interchange.errors and not problems:
            facts, problems = self._read(interchange, event.raw_body, what)
        if interchange.errors or problems:
            return self._refuse(interchange, problems, what)
        ack = self._ack(interchange, accepted=True, errors=[])
        return ([ack] if ack else []) + facts

    def _check_set(self, functional_id: str, txn) -> list[AckError]:
        if txn.set_id not in READ_SETS or txn.set_id not in self.profile.documents:
            txn.errors.append(X12Error(f"transaction set {txn.set_id} is not one this partner sends us",
                                       txn.position, "ST", ak5_code="1"))
            return [AckError(txn.position, "ST", "8", None, 1, "7", "143", txn.set_id)]
        if FUNCTIONAL_IDS[txn.set_id] != functional_id:
            txn.errors.append(X12Error(f"a {txn.set_id} in a {functional_id} group", txn.position, "ST",
                                       ak5_code="1"))
            return [AckError(txn.position, "ST", "8", None, 1, "7", "143", txn.set_id)]
        return validate(txn)

    def _ack(self, interchange: Interchange, *, accepted: bool, errors: list[AckError]) -> Fact | None:
        if all(g.functional_id == "FA" for g in interchange.groups):
            return None  # a 997 is never acknowledged
        name = f"997_{_SAFE.sub('_', interchange.sender_id)}_{interchange.control_number}.edi"
        writer = self._writer(f"997:{interchange.sender_id}:{interchange.control_number}")
        document = ack_997(interchange, accepted, errors, writer, self._clock())
        return AcknowledgementNeeded(document.encode(), name)

    def _refuse(self, interchange: Interchange, problems: list[AckError], what: str) -> list[Fact]:
        reasons = [str(e) for e in interchange.errors[:3]] + [
            f"segment {e.segment_position} ({e.segment_tag})"
            + (f" element {e.element_position:02d}: code {e.element_code}" if e.element_position else
               f": code {e.segment_code}") + (f" ({e.bad_value!r})" if e.bad_value else "")
            for e in problems[:3]]
        fact: Fact = Unrecognised(f"{what}: refused whole, nothing applied: {'; '.join(reasons)}")
        if not interchange.groups:
            return [fact]
        ack = self._ack(interchange, accepted=False, errors=problems)
        return ([ack] if ack else []) + [fact]

    def _read(self, interchange: Interchange, raw: bytes, what: str) -> tuple[list[Fact], list[AckError]]:
        facts: list[Fact] = []
        problems: list[AckError] = []
        currency = self.profile.currency or "USD"
        for _group, txn in interchange.transactions:
            try:
                if txn.set_id == "855":
                    facts.append(self._acknowledgement(mapping.parse_855(txn), currency))
                elif txn.set_id == "856":
                    facts += self._shipments(mapping.parse_856(txn))
                elif txn.set_id == "810":
                    facts.append(self._invoice(mapping.parse_810(txn), currency))
                elif txn.set_id == "997":
                    facts += self._receipts(mapping.functional_acks(txn))
            except X12Error as exc:
                problems.append(AckError(exc.segment_position or txn.position, exc.segment_tag or "ST", "8"))
            except (ValueError, ArithmeticError) as exc:
                problems.append(AckError(txn.position, "ST", "8"))
                facts.append(Unrecognised(f"{what}: set {txn.control_number}: {exc}"))
        if any(t.set_id == "846" for _, t in interchange.transactions) and not problems:
            facts += self._offers(raw, what, currency)
        return facts, problems

    def _acknowledgement(self, doc: dict[str, Any], currency: str) -> Fact:
        ack = mapping.acknowledgement_from_855(doc, currency)
        if ack["rejected_whole"]:
            return OrderFailed(ack["reference"], ack["reason"], external_id=ack["reference"])
        lines = tuple(LineDecision(sku, qty, status, reason, ref) for ref, sku, qty, status, reason in ack["lines"]
                      if status != "accepted")
        cost = Money.from_decimal_rounded(ack["cost"], currency) if ack["cost"] is not None else None
        return OrderAcknowledged(ack["reference"], external_id=ack["reference"], lines=lines, cost=cost)

    def _shipments(self, orders: list[dict[str, Any]]) -> list[Fact]:
        out: list[Fact] = []
        for s in mapping.shipments_from_856(orders):
            shipped = datetime(s["shipped_on"].year, s["shipped_on"].month, s["shipped_on"].day, tzinfo=UTC) \
                if s["shipped_on"] else None
            out.append(ShipmentReported(TrackingUpdate(
                reference=s["reference"], external_order_id=s["reference"], carrier=s["carrier"],
                tracking_number=s["tracking_number"], shipped_at=shipped,
                items=[SupplierOrderItem(sku, qty) for sku, qty in s["items"]])))
        return out

    def _invoice(self, doc: dict[str, Any], currency: str) -> Fact:
        inv = mapping.invoice_from_810(doc, currency)
        cur = inv["currency"]
        lines = tuple(InvoiceLine(sku, qty, Money.from_decimal_rounded(Decimal(price), cur), reference=inv["reference"],
                                  external_order_id=inv["reference"], kind=kind, description=desc)
                      for kind, sku, qty, price, desc in inv["lines"])
        issued = datetime(inv["issued_on"].year, inv["issued_on"].month, inv["issued_on"].day, tzinfo=UTC) \
            if inv["issued_on"] else None
        return InvoiceReported(SupplierInvoice(inv["number"], cur, lines, issued_at=issued,
                                               total=Money.from_decimal_rounded(inv["total"], cur)))

    def _receipts(self, ack: dict[str, Any]) -> list[Fact]:
        if ack["functional_id"] != "PO":
            return []  # we send only 850s (and 997s, which are never acknowledged)
        group = ack["group_control"]
        reference = self.numbers.reference_of(self.owner, "group", int(group)) if group.isdigit() else None
        if reference is None:
            return [Unrecognised(f"997 for purchase-order group {group}, which we never sent")]
        rejected = ack["group_status"] == "R" or any(status == "R" for _, _, status, _ in ack["sets"])
        if rejected:
            codes = "; ".join(f"set {ctl}: AK5 {status} {' '.join(c)}".strip() for _, ctl, status, c in ack["sets"])
            detail = f"; {' '.join(ack['errors'][:4])}" if ack["errors"] else ""
            return [OrderFailed(reference, f"the partner's 997 rejected our 850 (group {group}, AK9 "
                                           f"{ack['group_status']}): {codes}{detail}", external_id=reference)]
        return [ReceiptConfirmed(reference, "850", external_id=reference)]

    def _offers(self, raw: bytes, what: str, currency: str) -> list[Fact]:
        """An 846 read by the same streaming reader as `sync feed` (suppliers.md 5.2); a line that cannot be
        read is reported, the rest apply, as for any feed."""
        rows: list[OfferRow] = []
        unread: list[str] = []
        try:
            for batch in read_846(io.BytesIO(raw), name=what, spec=SimpleNamespace(currency=currency)):
                unread += [f"line {e.line} {e.field}: {e.reason}" for e in batch.errors]
                rows += [OfferRow(r.sku, r.stock, Money(r.cost_minor, r.currency) if r.cost_minor is not None
                                  else None, r.lead_time_days, r.gtin, r.catalog) for r in batch.rows]
        except FeedFormatError as exc:
            return [Unrecognised(f"{what}: {exc}")]
        facts: list[Fact] = [OffersReported(tuple(rows), full=self.profile.full_inventory)] if rows else []
        if unread:
            facts.append(Unrecognised(f"{what}: {len(unread)} inventory line(s) not applied: {'; '.join(unread[:3])}"))
        return facts

    def close(self) -> None:
        pass


def from_config(base_url: str, credentials: dict[str, Any], config: dict[str, Any], *,
                services: ConnectorServices | None = None) -> EdiX12Supplier:
    profile = EdiConfig.model_validate(config)
    transport = transport_for(base_url, credentials, profile.host_key, float(profile.timeout or 15.0))
    services = services or ConnectorServices(owner=f"edi:{profile.receiver_id}")
    return EdiX12Supplier(transport, profile, owner=services.owner, control_numbers=services.control_numbers,
                          clock=services.clock)


__all__ = ["EdiX12Supplier", "MemoryControlNumbers", "from_config", "po_file_name"]
