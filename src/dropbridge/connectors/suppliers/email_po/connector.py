"""`EmailPoSupplier`: purchase orders by email, replies read from a mailbox.

`place_order` hands one message to the SMTP server: the PO in plain text with the PO as CSV and PDF, and the
branded packing slip as a PDF of its own; its Message-ID is derived from our reference. Whether an earlier
attempt arrived cannot be asked of an inbox (`find_order` answers CANNOT_KNOW), so dropbridge never resends
on its own; the outbox sends each PO once. Replies are collected from the IMAP mailbox (Capability.INBOX),
stored raw, then read into facts (`facts_from_event`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from dropbridge.connectors.kit import documents
from dropbridge.connectors.kit.mail import ImapServer, SmtpServer
from dropbridge.domain.errors import ConfigurationError, WebhookRejected
from dropbridge.services.ports import (
    CANNOT_KNOW,
    CannotKnow,
    CollectedDocument,
    Collection,
    Fact,
    InboundEvent,
    PlacedOrder,
    Placement,
    SupplierOrderRequest,
)

from . import mapping
from .client import MailClient, event_id_of
from .config import EmailPoConfig


class EmailPoSupplier:
    kind = "email_po"

    def __init__(self, config: EmailPoConfig, client: MailClient, *, timeout: float = 30.0,
                 clock: Callable[[], datetime] | None = None):
        self.config = config
        self.client = client
        self.timeout = timeout
        self._clock = clock or (lambda: datetime.now(UTC))

    # ---- OrderDesk ------------------------------------------------------------------------------------

    def buyer(self, request: SupplierOrderRequest) -> str:
        return self.config.buyer_name or (request.branding.store_name if request.branding else "") or \
            self.config.from_email

    def message(self, request: SupplierOrderRequest, logos: dict[str, bytes] | None = None):
        now = self._clock()
        buyer = self.buyer(request)
        attachments = [(f"PO-{request.reference}.csv", "text/csv", documents.po_csv([request])),
                       (f"PO-{request.reference}.pdf", "application/pdf",
                        documents.purchase_order_pdf([request], buyer=buyer, issued=now, slips=False))]
        if request.branding is not None:
            logo = (logos or {}).get(request.branding.logo_url or "")
            attachments.append((f"packing-slip-{request.reference}.pdf", "application/pdf",
                                documents.packing_slip_pdf(request, logo)))
        return mapping.po_message(request, from_email=self.config.from_email, to=self.config.order_email,
                                  cc=self.config.cc or (), reply_to=self.config.reply_to, buyer=buyer, sent_at=now,
                                  attachments=attachments)

    def place_order(self, request: SupplierOrderRequest) -> PlacedOrder:
        """Send the PO once. NotSent / RateLimited / PermanentError when the server did not take it;
        RetryableError when it may have (the answer never came): that attempt cannot be checked."""
        message = self.message(request, documents.load_logos([request], timeout=self.timeout))
        recipients = [self.config.order_email, *(self.config.cc or [])]
        answer = self.client.send(message, self.config.from_email, recipients)
        return PlacedOrder(external_id="", reference=request.reference, status=f"emailed: {answer}"[:200],
                           placement=Placement.AWAITING_ACK)

    def find_order(self, reference: str) -> CannotKnow:
        return CANNOT_KNOW  # an email that went out cannot be looked up: a person decides

    # ---- InboundSource: replies ------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        raise WebhookRejected("an email supplier replies by email, not by webhook", status=404)

    def facts_from_event(self, event: InboundEvent) -> list[Fact]:
        return mapping.facts_from_email(event.raw_body, from_email=self.config.from_email)

    # ---- DocumentSource: the reply mailbox -------------------------------------------------------------

    def collect(self, cursor: str | None, limit: int) -> Collection:
        if self.client.imap is None:
            return Collection([], cursor)  # no mailbox configured: replies are entered by hand
        uidvalidity, last_uid = _parse_cursor(cursor)
        validity, received = self.client.fetch_after(uidvalidity, last_uid, limit)
        documents_ = []
        for item in received:
            msg = mapping.parse_message(item.raw)
            headers = {k: str(msg.get(k, ""))[:300] for k in ("From", "Subject", "Date", "In-Reply-To")
                       if msg.get(k)}
            documents_.append(CollectedDocument(event_id=event_id_of(str(msg.get("Message-ID", "")), item.raw),
                                                topic="email", raw_body=item.raw, channel="email",
                                                headers=headers, handle=str(item.uid)))
        top = max((item.uid for item in received), default=last_uid if validity == uidvalidity else 0)
        return Collection(documents_, f"{validity}:{top}")

    def collected(self, documents_: list[CollectedDocument]) -> None:
        if self.client.imap is not None and self.config.imap and self.config.imap.mark_seen:
            self.client.mark_seen([int(d.handle) for d in documents_ if d.handle.isdigit()])

    def close(self) -> None:
        pass


def _parse_cursor(cursor: str | None) -> tuple[int | None, int]:
    if not cursor:
        return None, 0
    validity, _, last = cursor.partition(":")
    try:
        return int(validity), int(last or 0)
    except ValueError:
        return None, 0


def from_config(base_url: str, credentials: dict[str, Any], config: dict[str, Any]) -> EmailPoSupplier:
    """Registry entry. credentials (all optional): smtp_username, smtp_password, imap_username, imap_password;
    config: EmailPoConfig (order_email, from_email, smtp, imap, ...), "timeout" seconds."""
    cfg = EmailPoConfig.model_validate({k: v for k, v in config.items() if k in EmailPoConfig.model_fields})
    timeout = float(config.get("timeout") or 30.0)
    smtp = SmtpServer(cfg.smtp.host, cfg.smtp.port, cfg.smtp.security, credentials.get("smtp_username"),
                      credentials.get("smtp_password"), timeout, cfg.smtp.ca_file)
    imap = None
    if cfg.imap is not None:
        user, password = credentials.get("imap_username"), credentials.get("imap_password")
        if not user or not password:
            raise ConfigurationError("email_po: imap is configured, so credentials need imap_username and "
                                     "imap_password")
        imap = ImapServer(cfg.imap.host, cfg.imap.port, user, password, cfg.imap.security, cfg.imap.folder,
                          timeout, cfg.imap.ca_file)
    return EmailPoSupplier(cfg, MailClient(smtp, imap), timeout=timeout)


__all__ = ["EmailPoSupplier", "from_config"]
