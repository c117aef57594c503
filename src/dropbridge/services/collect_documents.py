"""Documents suppliers leave for us (replies in a mailbox, EDI files in an SFTP or VAN folder), collected on a
schedule from every supplier whose kind is a mailbox (a DocumentSource): each is stored raw in the inbox first
(de-duplicated on its key: a Message-ID, a file's name and content), then a job reads it into facts, and only
then is it marked collected at the source (read, archived), so a crash in between only means it is collected
again. Where the next collection starts is kept in the
supplier's config (`inbox_cursor`), and only moved once what was collected is stored."""

from __future__ import annotations

from dropbridge.domain.errors import NotFound
from dropbridge.services.ports import DocumentSource

from .inbound_events import receive_document
from .records import audit, log

BATCH = 100


def collect_documents(ctx) -> dict[str, str]:
    """Collect from every supplier that leaves documents; one supplier's failure does not stop the others."""
    with ctx.uow(read_only=True) as uow:
        names = [s.name for s in uow.suppliers.all() if ctx.connectors.info("supplier", s.kind).mailbox]
    out = {}
    for name in names:
        try:
            stored, duplicates = collect_from(ctx, name)
            out[name] = f"{stored} stored, {duplicates} already had"
        except Exception as exc:  # noqa: BLE001 - reported, tried again on the next poll
            out[name] = f"failed: {exc}"
            log.warning("document collection failed", supplier=name, error=str(exc))
    return out


def collect_from(ctx, supplier_name: str, limit: int = BATCH) -> tuple[int, int]:
    """One collection from one supplier: (documents stored, documents already in the inbox)."""
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
    if supplier is None:
        raise NotFound(f"no supplier named {supplier_name!r}")
    source: DocumentSource = ctx.supplier_connector(supplier)
    cursor = (supplier.config or {}).get("inbox_cursor")
    batch = source.collect(cursor, limit)
    stored = duplicates = 0
    for doc in batch.documents:
        outcome = receive_document(ctx, supplier_name, doc.event_id, doc.topic, doc.raw_body, channel=doc.channel,
                                   headers=doc.headers)
        if outcome == "accepted":
            stored += 1
        else:
            duplicates += 1
    if batch.documents:
        try:
            source.collected(batch.documents)
        except Exception as exc:  # noqa: BLE001 - they are stored; marking them is a courtesy
            log.warning("collected documents not marked at the source", supplier=supplier_name, error=str(exc))
    with ctx.uow() as uow:
        record = uow.suppliers.by_name(supplier_name)
        if batch.cursor != (record.config or {}).get("inbox_cursor"):
            record.config = {**(record.config or {}), "inbox_cursor": batch.cursor}  # a new dict: seen as changed
        if stored:
            audit(uow, ctx, "inbox.collected", f"supplier:{supplier_name}",
                  {"stored": stored, "duplicates": duplicates}, supplier_id=record.id)
        uow.commit()
    return stored, duplicates
