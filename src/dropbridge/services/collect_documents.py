"""Documents suppliers leave for us (EDI files in an SFTP or VAN folder, and any other Mailbox): collected by
the scheduler, each stored raw in the inbox before anything parses it, then archived on the supplier's side.
A crash between storing and archiving only means the file is collected again: the inbox de-duplicates it on
its name and content."""

from __future__ import annotations

import hashlib

from dropbridge.services.ports import Mailbox

from .inbound_events import receive_document
from .records import log


def document_event_id(name: str, body: bytes) -> str:
    """The inbox key of a collected file: its name and content (a re-sent file with new content is new)."""
    return f"{name[:150]}#{hashlib.sha256(body).hexdigest()[:32]}"


def collect_documents(ctx, supplier_name: str | None = None, limit: int = 100) -> int:
    """Collect what every mailbox supplier (or one) has waiting; returns the documents newly stored."""
    with ctx.uow(read_only=True) as uow:
        suppliers = [s for s in uow.suppliers.all() if supplier_name in (None, s.name)]
    stored = 0
    for supplier in suppliers:
        if not ctx.connectors.info("supplier", supplier.kind).mailbox:
            continue
        try:
            stored += _collect(ctx, supplier, limit)
        except Exception as exc:  # one partner's server being down must not stop the others
            if supplier_name is not None:
                raise
            log.warning("document collection failed", supplier=supplier.name, error=str(exc))
    return stored


def _collect(ctx, supplier, limit: int) -> int:
    mailbox: Mailbox = ctx.supplier_connector(supplier)
    stored = 0
    for name in mailbox.pending_documents(limit):
        body = mailbox.fetch_document(name)
        outcome = receive_document(ctx, supplier.name, document_event_id(name, body), name, body, channel="file")
        stored += outcome == "accepted"
        mailbox.archive_document(name)  # only once it is safely in the inbox
    return stored
