"""Feed sync: a supplier file becomes changed SupplierOffers, or a quarantine report. Never a damaged
catalog: a full feed that is much shorter than the last good one, or full of errors, changes nothing."""

from __future__ import annotations

import contextlib
import gc
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO

from dropbridge.domain.errors import ConfigurationError, NotFound, ValidationError
from dropbridge.domain.model import SyncRun
from dropbridge.domain.money import exponent

from .feed_port import FeedBatch, FeedFormatError, RowError
from .offer_drift import quarantine_changes
from .records import audit, log, raise_alert, schedule, schedule_delivery, schedule_repricing

# Every rejected row of a run is stored (line, field, reason, raw) up to this many; the run keeps the total
# count either way. A feed with more rejects than this is quarantined long before (error-rate threshold).
MAX_STORED_REJECTS = 100_000
MODES = ("full", "delta")
FOLLOW_PRODUCTS_MAX = 20_000  # product ids a follow_variants job carries; beyond, it looks at every listed product


@dataclass
class SyncOutcome:
    run_id: int
    status: str  # applied | quarantined | failed
    rows_read: int
    changed: int
    unchanged: int
    zeroed: int
    rejected: int
    inserted: int
    reason: str = ""
    rejects: list | None = None  # the first few (line, field, reason)

    @property
    def pushes_owed(self) -> int:
        """Offers whose stock or price changed: what stores will be sent."""
        return self.changed + self.zeroed


def feed_spec_for(ctx, supplier, overrides: dict | None = None):
    """The supplier's feed spec; a config that cannot be one is a ConfigurationError naming the key."""
    raw = (supplier.config or {}).get("feed", {})
    if not isinstance(raw, dict):
        raise ConfigurationError(f"supplier {supplier.name!r}: config key 'feed' must be a JSON object, "
                                 f"not {type(raw).__name__}")
    cfg = dict(raw)
    cfg.setdefault("currency", (supplier.config or {}).get("currency", "USD"))
    cfg.update(overrides or {})
    try:
        return ctx.feeds.spec(cfg)
    except (ValueError, TypeError, LookupError) as exc:
        raise ConfigurationError(f"supplier {supplier.name!r}: config key 'feed': {exc}") from None


def sync_feed(ctx, supplier_name: str, stream: BinaryIO | None, name: str, *, mode: str = "full",
              spec_overrides: dict | None = None, progress: Callable[[int], None] | None = None,
              on_stage: Callable[[str], None] | None = None, remote: bool = False,
              batches: Iterable[FeedBatch] | None = None) -> SyncOutcome:
    """Sync one feed file, or `batches` already parsed from another source (an API supplier's catalog
    pages), through the same staged engine: quarantine rules, catalog import, changed rows only, one recorded
    run. `progress(n)` is told of rows read; `on_stage(name)` of each stage as it starts: "parse", "stage"
    (duplicates and indexes), "catalog" (products and variants, for a feed with catalog columns), "images"
    (their pictures handed to background jobs), "apply" (the one transaction that writes the changes and
    records the run).
    `remote`: the file came from a URL, so failure reasons do not quote its content."""
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(MODES)}, not {mode!r}", field="mode")
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        supplier_id, cfg = supplier.id, dict(supplier.config or {})
    # Before any run exists: a config that cannot be read leaves nothing behind, least of all a run `running`.
    if batches is None:
        spec = feed_spec_for(ctx, supplier, spec_overrides)
        batches = ctx.feeds.read(stream, name, spec, max_bytes=getattr(ctx.settings, "feed_max_bytes", None))
    stage = ctx.uow.feed_stage()
    run_id = None
    try:
        with ctx.uow() as uow:
            run = uow.add(SyncRun(supplier_id=supplier_id, source=name, mode=mode, started_at=ctx.clock(),
                                  report={"owner": stage.owner}))
            uow.commit()
            run_id = run.id
        stage.hold_run(run_id)
        return _run(ctx, stage, run_id, supplier_id, supplier_name, cfg, batches, mode, progress, on_stage,
                    remote)
    except BaseException as exc:
        if run_id is not None:
            _fail_if_running(ctx, run_id, supplier_id, exc)
        raise
    finally:
        stage.close()


def _run(ctx, stage, run_id, supplier_id, supplier_name, cfg, batches, mode, progress, on_stage,
         remote) -> SyncOutcome:
    errors = []
    rejected = 0  # rows dropped; a kept row's lesser problems (a bad GTIN, say) are stored but not counted
    catalog = _CatalogSpill()
    try:
        if on_stage:
            on_stage("parse")
        try:
            with _gc_paused():
                for batch in batches:
                    stage.add(batch.rows)
                    if not batch.plain:  # plain lines carry no catalog data
                        catalog.add(batch.rows)
                    rejected += len({e.line for e in batch.errors if ctx.feeds.is_fatal(e)})
                    if len(errors) < MAX_STORED_REJECTS:
                        errors.extend(batch.errors[: MAX_STORED_REJECTS - len(errors)])
                    if progress:
                        progress(len(batch.rows) + len(batch.errors))
        except FeedFormatError as exc:
            reason = exc.message if remote else str(exc)  # a remote file's content is never quoted
            return _finish(ctx, run_id, supplier_id, "failed", f"unreadable feed: {reason}", errors, rejected,
                           read=stage.count + rejected)
        if on_stage:
            on_stage("stage")
        # The reader leaves duplicate SKUs of plain lines to the stage, which finds them all in one pass and
        # hands back the first few: a file of millions of copies of one line is counted, not held.
        dups, dup_total = stage.duplicates(limit=max(0, MAX_STORED_REJECTS - len(errors)))
        for line, sku, qty, cost, first in dups:
            amount = "" if cost is None else Decimal(cost).scaleb(-exponent(stage.currency or "USD"))
            raw = f"{sku},{qty},{amount}"  # rebuilt from the staged values: the line itself is not kept
            errors.append(RowError(line, "sku", f"duplicate sku, first seen on line {first}", raw))
        rejected += dup_total
        if dups:
            errors.sort(key=lambda e: e.line)
        for sku in stage.unknown_without_cost(supplier_id):
            if len(errors) < MAX_STORED_REJECTS:
                errors.append(RowError(0, "cost", f"new SKU {sku} has no cost in this feed; not added", sku))
            rejected += 1
        good = stage.count
        read = good + rejected

        reason = _quarantine_reason(ctx, supplier_id, mode, good, rejected, cfg)
        # SKUs that now name another item (or are quarantined for it): their catalog rows are not imported
        drifting = stage.conflicting_skus(supplier_id)
        reason = reason or _mass_drift_reason(sum(drifting.values()), good, cfg)
        if reason:
            return _finish(ctx, run_id, supplier_id, "quarantined", reason, errors, rejected, read=read)
        catalog_changed: set[int] = set()
        if catalog.count:
            # Before the offers: new offers then attach to the variants the catalog created or matched by GTIN.
            # Pictures are fetched by background jobs afterwards: the run never waits on image hosts.
            from .import_catalog import import_catalog

            if on_stage:
                on_stage("catalog")
            report = import_catalog(ctx, supplier_name, catalog.rows(), skip_skus=drifting, fetch_images=False,
                                    queue_images=f"catalog_images:run:{run_id}")
            errors.extend(RowError(p.line, p.field, p.reason, p.url or "") for p in report.problems[:1000])
            catalog_changed = report.changed_product_ids
            if on_stage and report.images_queued:
                on_stage("images")
        if on_stage:
            on_stage("apply")
        outcome: list[SyncOutcome] = []

        def finish(uow, counts):  # inside the transaction that writes the offers
            quarantine_changes(uow, ctx, supplier_id, supplier_name, stage.identity_changes)
            changed = counts["updated"] + counts["inserted"]
            # Prices follow costs: a run that moved no cost, added no offer and changed no identity owes none.
            reprice = bool(counts.get("cost_changed", 1) or counts["inserted"] or stage.identity_changes)
            outcome.append(_record(uow, ctx, run_id, supplier_id, "applied", "", errors, rejected, read=read,
                                   changed=changed, unchanged=good - changed, zeroed=counts["zeroed"],
                                   inserted=counts["inserted"], reprice=reprice))
            # Published products follow their variants (after commit): those the catalog import changed, and
            # listed ones with a SKU gone from this full feed (dropped) or back in it.
            follow = catalog_changed.union(stage.absence_changed)
            if follow:
                # The products to look at, unless too many for a job's payload: then every listed one.
                products = sorted(follow) if len(follow) <= FOLLOW_PRODUCTS_MAX else None
                for store_id, store_name in uow.listings.stores_with_listings():
                    schedule(uow, ctx, "follow_variants", f"variants:{store_id}:run:{run_id}",
                             {"store": store_name, "products": products})

        stage.apply(supplier_id, ctx.clock(), full=(mode == "full"), finish=finish)
        return outcome[0]
    finally:
        catalog.close()


class _CatalogSpill:
    """Rows that carry catalog data, kept on disk until the run is known to apply (a quarantined feed must
    not touch the catalog either), so a million-row catalog feed does not sit in memory."""

    def __init__(self):
        self.count = 0
        self._file = None

    def add(self, rows) -> None:
        with_catalog = [r for r in rows if r.catalog]
        if with_catalog:
            if self._file is None:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives until close(), after the run
            pickle.dump(with_catalog, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self.count += len(with_catalog)

    def rows(self):
        if self._file is None:
            return
        self._file.seek(0)
        while True:
            try:
                yield from pickle.load(self._file)
            except EOFError:
                return

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@contextlib.contextmanager
def _gc_paused():
    """The reader makes millions of short-lived tuples; the cycle collector walking them cost about a
    third of the parse. Reference counting still frees them; collection resumes afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def rejects_csv(ctx, run_id: int, chunk_rows: int = 1000) -> Iterator[str]:
    """The stored rejected rows of a run as CSV text (header, then line, field, reason, raw), in pieces
    for an HTTP response or a file. At most MAX_STORED_REJECTS rows; the run's `rejected` is the total.
    Cells are made safe for spreadsheets (services/exports.py)."""
    from .exports import csv_chunks

    with ctx.uow(read_only=True) as uow:
        if uow.get(SyncRun, run_id) is None:
            raise NotFound(f"no sync run {run_id}")
        rows = [(r.line, r.field or "", r.reason, r.raw or "") for r in uow.sync_runs.rejects(run_id)]
    yield from csv_chunks(["line", "field", "reason", "raw"], rows, chunk_rows)


def _quarantine_reason(ctx, supplier_id, mode, good, rejected, cfg) -> str:
    read = good + rejected
    max_error_rate = float(cfg.get("feed_max_error_rate", 0.05))
    min_share = float(cfg.get("feed_min_share", 0.5))
    if read and rejected / read > max_error_rate:
        return (f"{rejected} of {read} rows rejected ({rejected / read:.1%}), above the "
                f"{max_error_rate:.0%} threshold")
    if mode != "full":
        return ""
    if good == 0:
        return "the feed has no readable rows; an empty or truncated file never zeroes a catalog"
    with ctx.uow(read_only=True) as uow:
        last = uow.sync_runs.last_applied_full(supplier_id)
        baseline = (last.rows_read - last.rejected) if last else 0
    if baseline and good < baseline * min_share:
        return (f"{good} rows, below {min_share:.0%} of the last good run's {baseline}: "
                "looks truncated, so absent SKUs were not zeroed and nothing was applied")
    return ""


def _mass_drift_reason(drifting: int, good: int, cfg) -> str:
    """Many SKUs changing identity at once is a changed feed layout (a GTIN column swapped, options renamed),
    not suppliers reusing SKUs: quarantining every offer would zero the store, so the run stops instead."""
    share = float(cfg.get("feed_max_drift_share", 0.2))
    if drifting > max(20, good * share):
        return (f"{drifting} of {good} SKUs state another GTIN, parent or options than they were mapped with, "
                f"above the {share:.0%} threshold: looks like a changed feed layout, so nothing was applied")
    return ""


def _finish(ctx, run_id, supplier_id, status, reason, errors, rejected, *, read, changed=0, unchanged=0,
            zeroed=0, inserted=0) -> SyncOutcome:
    with ctx.uow() as uow:
        outcome = _record(uow, ctx, run_id, supplier_id, status, reason, errors, rejected, read=read,
                          changed=changed, unchanged=unchanged, zeroed=zeroed, inserted=inserted)
        uow.commit()
    return outcome


def _record(uow, ctx, run_id, supplier_id, status, reason, errors, rejected, *, read, changed=0, unchanged=0,
            zeroed=0, inserted=0, reprice=True) -> SyncOutcome:
    """Close the run (counts, rejects, alert or settled reservations and owed pushes, audit) in `uow`'s
    transaction, without committing it."""
    run = uow.get(SyncRun, run_id)
    run.status = status
    run.rows_read, run.changed, run.unchanged, run.zeroed, run.rejected = (
        read, changed, unchanged, zeroed, rejected)
    run.report = {"reason": reason, "inserted": inserted, "rejects_stored": len(errors)}
    run.finished_at = ctx.clock()
    if errors:
        uow.sync_runs.add_rejects(run_id, errors)
    if status != "applied":
        raise_alert(uow, ctx, f"feed.{status}", f"feed {run.source} {status}: {reason}",
                    severity="error", supplier_id=supplier_id)
    else:
        _settle_reservations(uow, supplier_id, run.started_at)
        if changed or zeroed:  # stores listing these items are owed the new stock
            stores = uow.listings.stores_with_listings()
            for store_id, store_name in stores:  # the listings the run marked (storage/feed_stage.py)
                schedule(uow, ctx, "push_stock", f"push:{store_id}:run:{run_id}", {"store": store_name, "due": True})
            if changed and reprice:  # costs moved: prices are re-applied after this commit
                schedule_repricing(uow, ctx, f"run:{run_id}", stores)
                # and which offer is cheapest, or its stated lead time: delivery windows are recomputed
                schedule_delivery(uow, ctx, f"run:{run_id}", stores)
    audit(uow, ctx, f"feed.{status}", f"sync_run:{run_id}",
          {"source": run.source, "read": read, "changed": changed, "zeroed": zeroed, "rejected": rejected,
           "reason": reason}, supplier_id=supplier_id)
    return SyncOutcome(run_id, status, read, changed, unchanged, zeroed, rejected, inserted, reason,
                       [(e.line, e.field, e.reason) for e in errors[:20]])


def _fail_if_running(ctx, run_id, supplier_id, exc: BaseException) -> None:
    """A run interrupted by an error we did not expect (a database failure, a bug, Ctrl-C) is closed as
    failed rather than left `running`; nothing of it was applied (the apply is one transaction)."""
    try:
        with ctx.uow() as uow:
            run = uow.get(SyncRun, run_id)
            if run is None or run.status != "running":
                return
            reason = f"interrupted: {type(exc).__name__}"
            run.status, run.finished_at = "failed", ctx.clock()
            run.report = {"reason": reason}
            raise_alert(uow, ctx, "feed.failed", f"feed {run.source} failed: {reason}", severity="error",
                        supplier_id=supplier_id)
            audit(uow, ctx, "feed.failed", f"sync_run:{run_id}", {"source": run.source, "reason": reason},
                  supplier_id=supplier_id)
            uow.commit()
    except Exception as err:  # noqa: BLE001 - the original error is the one to raise; recovery closes it later
        log.warning("could not close an interrupted sync run", run=run_id, error=str(err))


def _settle_reservations(uow, supplier_id, feed_time) -> None:
    """A feed produced after a supplier order landed already counts those units out of its stock, so
    the reservation no longer needs to hold them back."""
    for res in uow.offers.held_for_supplier_before(supplier_id, feed_time):
        res.status = "settled"
        uow.offers.release(res.offer_id, res.quantity)
