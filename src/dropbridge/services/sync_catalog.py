"""An API supplier's catalog, stock and costs (Capability.CATALOG: an OfferSource) pulled page by page into
the same staged engine as feed files: the same quarantine rules, catalog import, changed rows only, and one
recorded run. The scheduler pulls each such supplier on its `catalog_interval_seconds`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from dropbridge.domain.errors import ExternalError, NotFound, ValidationError
from dropbridge.services.ports import Capability, OfferRow, OfferSource

from .feed_port import FeedBatch, FeedFormatError, ParsedRow
from .records import log
from .sync_feed import SyncOutcome, sync_feed

DEFAULT_INTERVAL_SECONDS = 3600


def catalog_source(supplier) -> str:
    return f"catalog:{supplier.name}"


def _offer_source(ctx, supplier) -> OfferSource:
    info = ctx.connectors.info("supplier", supplier.kind)
    if info.offers_by_feed:
        raise ValidationError(f"{supplier.name} ({supplier.kind}) publishes its catalog as feed files: "
                              f"use `dropbridge sync feed {supplier.name} FILE_OR_URL`", "supplier")
    if not info.has(Capability.CATALOG):
        raise ValidationError(f"{supplier.name} ({supplier.kind}) has no catalog to pull", "supplier")
    return ctx.supplier_connector(supplier, Capability.CATALOG)


def to_parsed(rows: list[OfferRow], first_line: int) -> list[ParsedRow]:
    return [ParsedRow(first_line + i, r.supplier_sku, r.stock, r.cost.amount if r.cost else None,
                      r.cost.currency if r.cost else None, r.lead_time_days, r.gtin, r.catalog)
            for i, r in enumerate(rows)]


def _pages(source: OfferSource, what: str, progress: Callable[[int], None] | None) -> Iterator[FeedBatch]:
    cursor, line = None, 1
    while True:
        try:
            page = source.fetch_offers(cursor)
        except ExternalError as exc:  # the run fails whole: a half-pulled catalog never zeroes the rest
            raise FeedFormatError(f"{what} stopped after {line - 1} offers: {exc}") from exc
        yield FeedBatch(rows=to_parsed(page.items, line))
        line += len(page.items)
        if progress:
            progress(len(page.items))
        if not page.next_cursor:
            return
        cursor = page.next_cursor


@dataclass
class CatalogPreview:
    offers: int
    new: int
    changed: int
    sample: list[dict]


def sync_catalog(ctx, supplier_name: str, *, progress: Callable[[int], None] | None = None) -> SyncOutcome:
    """Pull the supplier's whole catalog (a full snapshot: SKUs it no longer lists go to zero, unless the
    pull looks truncated) and apply what changed."""
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
    if supplier is None:
        raise NotFound(f"no supplier named {supplier_name!r}")
    source = _offer_source(ctx, supplier)
    return sync_feed(ctx, supplier_name, None, catalog_source(supplier), mode="full",
                     batches=_pages(source, f"catalog pull of {supplier_name}", progress))


def preview_catalog(ctx, supplier_name: str, *, sample: int = 5) -> CatalogPreview:
    """`sync catalog --dry-run`: pull every page, compare with the offers we hold, change nothing."""
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        known = uow.offers.costs_and_stock(supplier.id)
    source = _offer_source(ctx, supplier)
    offers = new = changed = 0
    shown: list[dict] = []
    for batch in _pages(source, f"catalog pull of {supplier_name}", None):
        for row in batch.rows:
            offers += 1
            have = known.get(row.sku)
            if have is None:
                new += 1
            elif have != (row.cost_minor, row.stock):
                changed += 1
            if len(shown) < sample:
                shown.append({"sku": row.sku, "stock": row.stock, "cost_minor": row.cost_minor,
                              "currency": row.currency, "title": (row.catalog or {}).get("title", "")})
    return CatalogPreview(offers, new, changed, shown)


def apply_offer_rows(ctx, supplier_name: str, rows: list[OfferRow], *, full: bool, source: str) -> SyncOutcome:
    """Offers a supplier reported by event (a stock webhook, a file): applied as a delta unless full."""
    return sync_feed(ctx, supplier_name, None, source, mode="full" if full else "delta",
                     batches=[FeedBatch(rows=to_parsed(rows, 1))])


def pull_due_catalogs(ctx) -> dict[str, str]:
    """Pull every API supplier whose `catalog_interval_seconds` has passed since its last pull; one
    supplier's failure does not stop the others."""
    now = ctx.clock()
    due = []
    with ctx.uow(read_only=True) as uow:
        for supplier in uow.suppliers.all():
            info = ctx.connectors.info("supplier", supplier.kind)
            if info.offers_by_feed or not info.has(Capability.CATALOG):
                continue
            interval = float((supplier.config or {}).get("catalog_interval_seconds") or DEFAULT_INTERVAL_SECONDS)
            last = uow.sync_runs.last_started(supplier.id, catalog_source(supplier))
            if last is None or now - last.started_at >= timedelta(seconds=interval):
                due.append(supplier.name)
    out = {}
    for name in due:
        try:
            out[name] = sync_catalog(ctx, name).status
        except Exception as exc:  # noqa: BLE001 - reported, tried again on the next interval
            out[name] = f"failed: {exc}"
            log.warning("catalog pull failed", supplier=name, error=str(exc))
    return out
