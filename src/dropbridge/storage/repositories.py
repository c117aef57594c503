"""Queries and atomic updates, one repository per aggregate. Business rules live in services; these
only read and write rows, and say so exactly (rowcounts, not guesses)."""

from __future__ import annotations

import functools
import json
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, case, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dropbridge.domain import model as m

from . import tables as t


class _Repo:
    def __init__(self, session: Session):
        self.session = session


class StoreRepo(_Repo):
    def by_name(self, name: str) -> m.Store | None:
        return self.session.scalar(select(m.Store).where(t.stores.c.name == name))

    def all(self) -> list[m.Store]:
        return list(self.session.scalars(select(m.Store).order_by(t.stores.c.id)))


class SupplierRepo(_Repo):
    def by_name(self, name: str) -> m.Supplier | None:
        return self.session.scalar(select(m.Supplier).where(t.suppliers.c.name == name))

    def all(self) -> list[m.Supplier]:
        return list(self.session.scalars(select(m.Supplier).order_by(t.suppliers.c.id)))


class CatalogRepo(_Repo):
    def variant_by_sku(self, sku: str) -> m.Variant | None:
        return self.session.scalar(select(m.Variant).where(t.variants.c.sku == sku))

    def variant_ids_by_sku(self, skus: list[str]) -> dict[str, int]:
        rows = self.session.execute(
            select(t.variants.c.sku, t.variants.c.id).where(t.variants.c.sku.in_(skus))
        )
        return dict(rows.all())

    def variants_by_id(self, ids: list[int]) -> dict[int, m.Variant]:
        return {v.id: v for v in self.session.scalars(select(m.Variant).where(t.variants.c.id.in_(ids)))}


class OfferRepo(_Repo):
    def candidates(self, variant_id: int) -> list[tuple[m.SupplierOffer, m.Supplier]]:
        rows = self.session.execute(
            select(m.SupplierOffer, m.Supplier)
            .join(m.Supplier, t.suppliers.c.id == t.supplier_offers.c.supplier_id)
            .where(t.supplier_offers.c.variant_id == variant_id)
            .order_by(t.supplier_offers.c.id)
        )
        return [(o, s) for o, s in rows.all()]

    def by_supplier_sku(self, supplier_id: int, sku: str) -> m.SupplierOffer | None:
        return self.session.scalar(
            select(m.SupplierOffer).where(
                t.supplier_offers.c.supplier_id == supplier_id, t.supplier_offers.c.supplier_sku == sku
            )
        )

    def try_reserve(self, offer_id: int, quantity: int, buffer: int) -> bool:
        """Take `quantity` from what is available to promise, atomically: a conditional UPDATE, so two
        concurrent orders can never both take the last unit (row lock on PostgreSQL, the single writer
        on SQLite)."""
        result = self.session.execute(
            update(t.supplier_offers)
            .where(
                t.supplier_offers.c.id == offer_id,
                t.supplier_offers.c.stock - t.supplier_offers.c.reserved - buffer >= quantity,
            )
            .values(reserved=t.supplier_offers.c.reserved + quantity)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def release(self, offer_id: int, quantity: int) -> None:
        self.session.execute(
            update(t.supplier_offers)
            .where(t.supplier_offers.c.id == offer_id)
            .values(reserved=func.max(0, t.supplier_offers.c.reserved - quantity))
            if self.session.get_bind().dialect.name == "sqlite"
            else update(t.supplier_offers)
            .where(t.supplier_offers.c.id == offer_id)
            .values(reserved=func.greatest(0, t.supplier_offers.c.reserved - quantity))
        )

    def held_reservations(self, order_line_id: int) -> list[m.Reservation]:
        return list(
            self.session.scalars(
                select(m.Reservation).where(
                    t.reservations.c.order_line_id == order_line_id, t.reservations.c.status == "held"
                )
            )
        )

    def held_for_supplier_before(self, supplier_id: int, before: datetime) -> list[m.Reservation]:
        """Reservations whose supplier order landed before `before`: a feed as of then reflects them."""
        q = (
            select(m.Reservation)
            .join(t.supplier_offers, t.supplier_offers.c.id == t.reservations.c.offer_id)
            .join(t.supplier_order_lines, t.supplier_order_lines.c.order_line_id == t.reservations.c.order_line_id)
            .join(t.supplier_orders, t.supplier_orders.c.id == t.supplier_order_lines.c.supplier_order_id)
            .where(
                t.reservations.c.status == "held",
                t.supplier_offers.c.supplier_id == supplier_id,
                t.supplier_orders.c.supplier_id == supplier_id,
                t.supplier_orders.c.submitted_at.is_not(None),
                t.supplier_orders.c.submitted_at < before,
            )
        )
        return list(self.session.scalars(q).unique())


class OrderRepo(_Repo):
    def by_idempotency_key(self, store_id: int, key: str) -> m.Order | None:
        return self.session.scalar(
            select(m.Order).where(t.orders.c.store_id == store_id, t.orders.c.idempotency_key == key)
        )

    def by_external_id(self, store_id: int, external_id: str) -> m.Order | None:
        return self.session.scalar(
            select(m.Order).where(t.orders.c.store_id == store_id, t.orders.c.external_id == external_id)
        )

    def recent(self, limit: int = 50, status: str | None = None, store_id: int | None = None) -> list[m.Order]:
        q = select(m.Order).order_by(t.orders.c.id.desc()).limit(limit)
        if status:
            q = q.where(t.orders.c.status == status)
        if store_id:
            q = q.where(t.orders.c.store_id == store_id)
        return list(self.session.scalars(q))

    def line(self, line_id: int) -> m.OrderLine | None:
        return self.session.get(m.OrderLine, line_id)


class SupplierOrderRepo(_Repo):
    def for_order(self, order_id: int) -> list[m.SupplierOrder]:
        return list(
            self.session.scalars(
                select(m.SupplierOrder)
                .where(t.supplier_orders.c.order_id == order_id)
                .order_by(t.supplier_orders.c.id)
            )
        )

    def by_key(self, key: str) -> m.SupplierOrder | None:
        return self.session.scalar(select(m.SupplierOrder).where(t.supplier_orders.c.idempotency_key == key))

    def by_external_id(self, supplier_id: int, external_id: str) -> m.SupplierOrder | None:
        return self.session.scalar(
            select(m.SupplierOrder).where(
                t.supplier_orders.c.supplier_id == supplier_id, t.supplier_orders.c.external_id == external_id
            )
        )

    def count_for(self, order_id: int, supplier_id: int) -> int:
        return self.session.scalar(
            select(func.count()).where(
                t.supplier_orders.c.order_id == order_id, t.supplier_orders.c.supplier_id == supplier_id
            )
        )

    def awaiting_tracking(self, limit: int = 200) -> list[m.SupplierOrder]:
        return list(
            self.session.scalars(
                select(m.SupplierOrder)
                .where(t.supplier_orders.c.status.in_(["submitted", "partially_shipped"]))
                .order_by(t.supplier_orders.c.id)
                .limit(limit)
            )
        )


class ShipmentRepo(_Repo):
    def find(self, supplier_order_id: int, tracking_number: str) -> m.Shipment | None:
        return self.session.scalar(
            select(m.Shipment).where(
                t.shipments.c.supplier_order_id == supplier_order_id,
                t.shipments.c.tracking_number == tracking_number,
            )
        )

    def for_order(self, order_id: int) -> list[m.Shipment]:
        return list(
            self.session.scalars(
                select(m.Shipment)
                .join(t.supplier_orders, t.supplier_orders.c.id == t.shipments.c.supplier_order_id)
                .where(t.supplier_orders.c.order_id == order_id)
                .order_by(t.shipments.c.id)
            )
        )


class LedgerRepo(_Repo):
    def for_order(self, order_id: int) -> list[m.LedgerEntry]:
        return list(
            self.session.scalars(
                select(m.LedgerEntry).where(t.ledger_entries.c.order_id == order_id).order_by(t.ledger_entries.c.id)
            )
        )

    def totals(self, group: str, since: datetime | None = None, store_id: int | None = None):
        """Sum entries by (group key, kind, currency); group is order | supplier | store | product."""
        e = t.ledger_entries
        key = {
            "order": t.orders.c.external_id,
            "store": t.stores.c.name,
            "supplier": t.suppliers.c.name,
            "product": t.order_lines.c.sku,
        }[group]
        q = (
            select(key.label("key"), e.c.kind, e.c.currency, func.sum(e.c.amount_minor).label("amount"))
            .select_from(e)
            .join(t.orders, t.orders.c.id == e.c.order_id)
            .join(t.stores, t.stores.c.id == e.c.store_id)
            .outerjoin(t.suppliers, t.suppliers.c.id == e.c.supplier_id)
            .outerjoin(t.order_lines, t.order_lines.c.id == e.c.order_line_id)
            .group_by(key, e.c.kind, e.c.currency)
            .order_by(key)
        )
        if since is not None:
            q = q.where(e.c.created_at >= since)
        if store_id is not None:
            q = q.where(e.c.store_id == store_id)
        return self.session.execute(q).all()


class JobRepo(_Repo):
    """The transactional outbox: rows are the record of owed work; the queue only carries job ids."""

    def by_key(self, key: str) -> m.Job | None:
        return self.session.scalar(select(m.Job).where(t.jobs.c.key == key))

    def claim(self, job_id: int, now: datetime, lease_until: datetime, claim: str) -> bool:
        """pending (and due) or in_flight with an expired lease -> in_flight under our claim; atomic."""
        result = self.session.execute(
            update(t.jobs)
            .where(
                t.jobs.c.id == job_id,
                or_(
                    and_(t.jobs.c.status == "pending", t.jobs.c.available_at <= now),
                    and_(t.jobs.c.status == "in_flight", t.jobs.c.lease_until < now),
                ),
            )
            .values(
                status="in_flight",
                claim=claim,
                lease_until=lease_until,
                attempts=t.jobs.c.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def finish(self, job_id: int, claim: str, now: datetime, *, status: str, error: str | None = None,
               available_at: datetime | None = None) -> bool:
        """Close our claim: done, failed, or back to pending for a retry. False if we lost the claim."""
        values = {"status": status, "updated_at": now, "lease_until": None, "claim": None, "last_error": error}
        if available_at is not None:
            values["available_at"] = available_at
        result = self.session.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.claim == claim, t.jobs.c.status == "in_flight")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def due(self, now: datetime, limit: int = 500) -> list[int]:
        q = (
            select(t.jobs.c.id)
            .where(
                or_(
                    and_(t.jobs.c.status == "pending", t.jobs.c.available_at <= now),
                    and_(t.jobs.c.status == "in_flight", t.jobs.c.lease_until < now),
                )
            )
            .order_by(t.jobs.c.available_at)
            .limit(limit)
        )
        return list(self.session.scalars(q))

    def counts(self) -> dict[str, int]:
        rows = self.session.execute(select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status))
        return dict(rows.all())


class TokenRepo(_Repo):
    def by_hash(self, token_hash: str) -> m.ApiToken | None:
        return self.session.scalar(select(m.ApiToken).where(t.api_tokens.c.token_hash == token_hash))


class AlertRepo(_Repo):
    def recent(self, limit: int = 50, open_only: bool = False) -> list[m.Alert]:
        q = select(m.Alert).order_by(t.alerts.c.id.desc()).limit(limit)
        if open_only:
            q = q.where(t.alerts.c.resolved_at.is_(None))
        return list(self.session.scalars(q))

    def for_order(self, order_id: int) -> list[m.Alert]:
        return list(self.session.scalars(select(m.Alert).where(t.alerts.c.order_id == order_id)))


class AuditRepo(_Repo):
    def recent(self, limit: int = 100) -> list[m.AuditEvent]:
        return list(self.session.scalars(select(m.AuditEvent).order_by(t.audit_events.c.id.desc()).limit(limit)))


class SyncRunRepo(_Repo):
    def last_applied_full(self, supplier_id: int) -> m.SyncRun | None:
        return self.session.scalar(
            select(m.SyncRun)
            .where(
                t.sync_runs.c.supplier_id == supplier_id,
                t.sync_runs.c.status == "applied",
                t.sync_runs.c.mode == "full",
            )
            .order_by(t.sync_runs.c.id.desc())
            .limit(1)
        )

    def rejects(self, run_id: int, limit: int | None = None):
        q = (
            select(t.sync_run_rejects.c.line, t.sync_run_rejects.c.field, t.sync_run_rejects.c.reason,
                   t.sync_run_rejects.c.raw)
            .where(t.sync_run_rejects.c.sync_run_id == run_id)
            .order_by(t.sync_run_rejects.c.line)
        )
        if limit:
            q = q.limit(limit)
        return self.session.execute(q).all()

    def add_rejects(self, run_id: int, errors) -> None:
        self.session.execute(insert(t.sync_run_rejects), [
            {"sync_run_id": run_id, "line": e.line, "field": e.field, "reason": e.reason[:500],
             "raw": e.raw[:1000] if e.raw else None} for e in errors])


class FxRepo(_Repo):
    def add_rates(self, base: str, rates: dict[str, str], source: str, as_of: datetime) -> int:
        """Insert a day's rates; a day already loaded is left as it was."""
        existing = set(self.session.scalars(
            select(t.fx_rates.c.quote).where(t.fx_rates.c.base == base, t.fx_rates.c.as_of == as_of)))
        rows = [{"base": base, "quote": q, "rate": r, "source": source, "as_of": as_of}
                for q, r in rates.items() if q not in existing]
        if rows:
            self.session.execute(insert(t.fx_rates), rows)
        return len(rows)

    def latest(self) -> list[tuple[str, str, str, str, datetime]]:
        """The newest rate of every (base, quote) pair: (base, quote, rate, source, as_of)."""
        newest = (select(t.fx_rates.c.base, t.fx_rates.c.quote, func.max(t.fx_rates.c.as_of).label("as_of"))
                  .group_by(t.fx_rates.c.base, t.fx_rates.c.quote).subquery())
        q = select(t.fx_rates.c.base, t.fx_rates.c.quote, t.fx_rates.c.rate, t.fx_rates.c.source,
                   t.fx_rates.c.as_of).join(newest, and_(t.fx_rates.c.base == newest.c.base,
                                                         t.fx_rates.c.quote == newest.c.quote,
                                                         t.fx_rates.c.as_of == newest.c.as_of))
        return [tuple(r) for r in self.session.execute(q).all()]


class SupplierStatsRepo(_Repo):
    def outcomes(self, since: datetime) -> dict[int, tuple[int, int]]:
        """Per supplier: (orders that landed, orders refused or failed) since `since`."""
        so = t.supplier_orders
        bad = func.sum(case((so.c.status.in_(["rejected", "failed"]), 1), else_=0))
        good = func.sum(case((so.c.status.in_(["submitted", "partially_shipped", "shipped", "delivered"]), 1),
                             else_=0))
        rows = self.session.execute(select(so.c.supplier_id, good, bad).where(so.c.created_at >= since)
                                    .group_by(so.c.supplier_id))
        return {sid: (int(g or 0), int(b or 0)) for sid, g, b in rows.all()}

    def shipping_days(self, since: datetime) -> dict[int, list[float]]:
        """Per supplier: days from submission to shipment, for measured lead times."""
        so, sh = t.supplier_orders, t.shipments
        rows = self.session.execute(select(so.c.supplier_id, so.c.submitted_at, sh.c.shipped_at)
                                    .join(sh, sh.c.supplier_order_id == so.c.id)
                                    .where(so.c.submitted_at >= since, sh.c.shipped_at.is_not(None)))
        out: dict[int, list[float]] = {}
        for sid, submitted, shipped in rows.all():
            out.setdefault(sid, []).append(max(0.0, (shipped - submitted).total_seconds() / 86400))
        return out


class CatalogImportRepo(_Repo):
    """Catalog import (services/import_catalog.py): supplier SKU -> variant links, GTIN lookups, images."""

    def sources(self, supplier_id: int, skus: list[str]) -> dict[str, m.VariantSource]:
        q = select(m.VariantSource).where(t.variant_sources.c.supplier_id == supplier_id,
                                          t.variant_sources.c.supplier_sku.in_(skus))
        return {s.supplier_sku: s for s in self.session.scalars(q)}

    def variants_by_gtin(self, gtins: list[str]) -> list[m.Variant]:
        q = select(m.Variant).where(t.variants.c.gtin.in_(gtins)).order_by(t.variants.c.id)
        return list(self.session.scalars(q))

    def variants_by_sku(self, skus: list[str]) -> dict[str, m.Variant]:
        return {v.sku: v for v in self.session.scalars(select(m.Variant).where(t.variants.c.sku.in_(skus)))}

    def variants_by_id(self, ids: list[int]) -> dict[int, m.Variant]:
        return {v.id: v for v in self.session.scalars(select(m.Variant).where(t.variants.c.id.in_(ids)))}

    def products_by_sku(self, skus: list[str]) -> dict[str, m.Product]:
        return {p.sku: p for p in self.session.scalars(select(m.Product).where(t.products.c.sku.in_(skus)))}

    def products_by_id(self, ids: list[int]) -> dict[int, m.Product]:
        return {p.id: p for p in self.session.scalars(select(m.Product).where(t.products.c.id.in_(ids)))}

    def variants_of(self, product_id: int) -> list[m.Variant]:
        q = select(m.Variant).where(t.variants.c.product_id == product_id).order_by(t.variants.c.position,
                                                                                    t.variants.c.id)
        return list(self.session.scalars(q))

    def fetched_urls(self, url_hashes: list[str]) -> dict[str, str]:
        """url_sha256 -> source_sha256 of the content the URL served when it was fetched."""
        rows = self.session.execute(select(t.image_urls.c.url_sha256, t.image_urls.c.source_sha256)
                                    .where(t.image_urls.c.url_sha256.in_(url_hashes)))
        return dict(rows.all())

    def record_url(self, url: str, url_sha256: str, source_sha256: str, now: datetime) -> None:
        """Remember what a URL served; a URL already recorded (by a concurrent import) is left alone."""
        try:
            with self.session.begin_nested():
                self.session.execute(insert(t.image_urls).values(url_sha256=url_sha256, url=url,
                                                                 source_sha256=source_sha256, fetched_at=now))
        except IntegrityError:
            pass

    def images_by_source(self, source_hashes: list[str], profile: str) -> dict[str, m.CatalogImage]:
        q = select(m.CatalogImage).where(t.catalog_images.c.source_sha256.in_(source_hashes),
                                         t.catalog_images.c.profile == profile)
        return {i.source_sha256: i for i in self.session.scalars(q)}

    def add_image_if_absent(self, image: m.CatalogImage) -> tuple[m.CatalogImage, bool]:
        """(the stored row, True if this call added it). Savepoint: a concurrent import that stored the same
        (source, profile) first wins and this one reuses its row."""
        try:
            with self.session.begin_nested():
                self.session.add(image)
            return image, True
        except IntegrityError:
            existing = self.images_by_source([image.source_sha256], image.profile)
            return existing[image.source_sha256], False

    def image_links(self, product_id: int) -> list[m.ProductImage]:
        q = select(m.ProductImage).where(t.product_images.c.product_id == product_id).order_by(
            t.product_images.c.position, t.product_images.c.id)
        return list(self.session.scalars(q))

    def delete_image_links(self, product_id: int, supplier_id: int) -> int:
        result = self.session.execute(t.product_images.delete().where(
            t.product_images.c.product_id == product_id, t.product_images.c.supplier_id == supplier_id))
        return result.rowcount


class JobAdminRepo(_Repo):
    """People's actions on owed work: put failed jobs back in line."""

    def requeue(self, key: str, now: datetime) -> int | None:
        """A failed (or done) job back to pending, due now; returns its id, None if no such job."""
        job = self.session.scalar(select(m.Job).where(t.jobs.c.key == key))
        if job is None or job.status == "in_flight":
            return None
        job.status, job.available_at, job.attempts, job.updated_at = "pending", now, 0, now
        return job.id


class OrderIntakeRepo:
    """Order intake's writes in as few statements as the rows allow, on a plain connection (no ORM unit of
    work: on the busiest path it cost more than the database did). Insert first: the unique constraints on
    (store, external id) and (store, idempotency key) decide whether an order is new, also under races, so
    there is no read before the write. The service builds every row; this only stores them."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def store(self, name: str) -> tuple[int, str, dict] | None:
        """(id, name, config) of a store."""
        row = self.conn.execute(_STORE_BY_NAME, {"name": name}).first()
        return (row[0], row[1], row[2] or {}) if row is not None else None

    def add_order_if_new_for_store(self, store_name: str, values: dict) -> tuple[int, dict, int | None] | None:
        """`add_order_if_new` for the store named `store_name`, whose id goes into the row: (store id, store
        config, new order id or None), or None when there is no such store. One statement on PostgreSQL."""
        if self.conn.dialect.name == "postgresql":
            row = self.conn.execute(_PG_STORE_AND_ORDER, {"store_name": store_name, **values}).first()
            return (row[0], row[1] or {}, row[2]) if row is not None else None
        store = self.store(store_name)
        if store is None:
            return None
        return store[0], store[2], self.add_order_if_new({**values, "store_id": store[0]})

    def add_order_if_new(self, values: dict) -> int | None:
        """Insert an order row; its id, or None when an order with the same external id or idempotency key
        is already stored for the store (nothing is written then; the transaction stays usable)."""
        return self.conn.execute(_insert_if_new(self.conn.dialect.name, "orders", "id"), values).scalar()

    def add_order_details(self, order_id: int, lines: list[dict], ledger: list[dict], job: dict,
                          audit: dict) -> int:
        """A new order's lines, ledger entries, outbox job and audit event; returns the job's id.

        Lines name their SKU (the variant id is looked up here) and their `line_no`; a ledger row names the
        `line_no` it belongs to (None for the order as a whole) and gets that line's id. An existing job key
        raises IntegrityError: the unique key is the guard. On PostgreSQL this is one statement (one round
        trip instead of four), elsewhere one per table."""
        if self.conn.dialect.name == "postgresql":
            return self.conn.execute(_PG_ORDER_DETAILS, {
                "order_id": order_id,
                "lines": _json_rows(lines),
                "ledger": _json_rows([{**e, "seq": i} for i, e in enumerate(ledger)]),
                **{f"job_{k}": v for k, v in job.items()},
                **{f"audit_{k}": v for k, v in audit.items()},
            }).scalar_one()
        ids = dict(zip([ln["line_no"] for ln in lines], self.conn.execute(_INSERT_LINES, [
            {**ln, "order_id": order_id, "variant_sku": ln["sku"]} for ln in lines]).scalars(), strict=True))
        if ledger:
            self.conn.execute(_INSERT_LEDGER, [
                {k: v for k, v in {**e, "order_id": order_id, "order_line_id": ids.get(e["line_no"])}.items()
                 if k != "line_no"} for e in ledger])
        job_id = self.conn.execute(_INSERT_JOB, job).scalar_one()
        self.conn.execute(_INSERT_AUDIT, audit)
        return job_id

    def stores_named(self, names: list[str]) -> dict[str, tuple[int, dict]]:
        """{name: (id, config)} of the stores among `names` that exist."""
        rows = self.conn.execute(_STORES_BY_NAMES, {"names": names})
        return {row.name: (row.id, row.config or {}) for row in rows}

    def add_new_orders(self, orders: list[dict], lines: list[dict], ledger: list[dict], job: dict,
                       audit: dict) -> dict[int, tuple[int, int]]:
        """Many orders at once (group commit): each order row names its request by `idx` and carries its
        audit event's `audit_detail` and `correlation_id`; lines and ledger entries name their order's `idx`
        (and `line_no`). Orders already stored (same external id or idempotency key) are skipped silently.
        Each new order gets one outbox job and one audit event from the templates `job` and `audit`, whose
        `key` and `subject` are prefixes the order id completes (the job's payload gets `order_id`).
        Returns {idx: (order id, job id)} for the orders inserted.

        Rows go in (store, external id) order, so two batches racing for the same orders lock them in the
        same order and cannot deadlock. One statement on PostgreSQL; elsewhere the per-order statements."""
        orders = sorted(orders, key=lambda o: (o["store_id"], o["external_id"]))
        if self.conn.dialect.name == "postgresql":
            rows = self.conn.execute(_PG_NEW_ORDERS, {
                "orders": _json_rows(orders), "lines": _json_rows(lines), "ledger": _json_rows(ledger),
                **{f"job_{k}": v for k, v in job.items() if k != "payload"},
                "job_payload": json.dumps(job["payload"]),
                **{f"audit_{k}": v for k, v in audit.items() if k in ("at", "actor", "action", "subject")},
            })
            return {row.idx: (row.order_id, row.job_id) for row in rows}
        return self._add_new_orders_sqlite(orders, lines, ledger, job, audit)

    def _add_new_orders_sqlite(self, orders: list[dict], lines: list[dict], ledger: list[dict], job: dict,
                               audit: dict) -> dict[int, tuple[int, int]]:
        """add_new_orders on SQLite, which has no data-modifying CTEs: one statement per table for the whole
        batch, each reading its rows from a JSON array (the per-order statements cost more Python than the
        rest of a request)."""
        encode = _sqlite_json_rows(self.conn)
        inserted = self.conn.execute(_SQLITE_INSERT["orders"], {"rows": encode(
            [{c: o[c] for c in ("store_id", *_ORDER_COLUMNS)} for o in orders])})
        by_key = {(row.store_id, row.external_id): row.id for row in inserted}
        order_of = {o["idx"]: (by_key[key], o) for o in orders if (key := (o["store_id"], o["external_id"])) in by_key}
        if not order_of:
            return {}
        self.conn.execute(_SQLITE_INSERT["order_lines"], {"rows": encode(
            [{**ln, "order_id": order_of[ln["idx"]][0]} for ln in lines if ln["idx"] in order_of])})
        if entries := [{**e, "order_id": order_of[e["idx"]][0]} for e in ledger if e["idx"] in order_of]:
            self.conn.execute(_SQLITE_INSERT["ledger_entries"], {"rows": encode(entries)})
        self.conn.execute(_SQLITE_INSERT["audit_events"], {"rows": encode([
            {**audit, "subject": f"{audit['subject']}{order_id}", "detail": o["audit_detail"],
             "correlation_id": o["correlation_id"], "store_id": o["store_id"], "supplier_id": None}
            for order_id, o in order_of.values()])})
        jobs = self.conn.execute(_SQLITE_INSERT["jobs"], {"rows": encode([
            {**job, "key": f"{job['key']}{order_id}", "payload": {**job["payload"], "order_id": order_id}}
            for order_id, _ in order_of.values()])})
        job_of = {row.key: row.id for row in jobs}
        return {idx: (order_id, job_of[f"{job['key']}{order_id}"]) for idx, (order_id, _) in order_of.items()}


class WebhookIntakeRepo:
    """Webhook intake on a plain connection (see LeanUnitOfWork): received events and their jobs, many at
    once. The (source, event id) unique key decides what is new, also under races."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def add_new_events(self, rows: list[dict]) -> dict[int, int]:
        """Insert the events (rows name their request by `idx`) not stored yet: {idx: new event id}."""
        idx = {(row["source"], row["event_id"]): row["idx"] for row in rows}
        stmt = _insert_if_new(self.conn.dialect.name, "webhook_events", "id", "source", "event_id")
        inserted = self.conn.execute(stmt, [{k: v for k, v in row.items() if k != "idx"} for row in rows])
        return {idx[(row.source, row.event_id)]: row.id for row in inserted}

    def add_jobs(self, jobs: list[dict]) -> list[int]:
        return list(self.conn.execute(_INSERT_JOB, jobs).scalars())


_STORE_BY_NAME = select(t.stores.c.id, t.stores.c.name, t.stores.c.config).where(
    t.stores.c.name == bindparam("name"))
_INSERT_LINES = (
    insert(t.order_lines)
    .values(variant_id=select(t.variants.c.id).where(t.variants.c.sku == bindparam("variant_sku"))
            .scalar_subquery())
    .returning(t.order_lines.c.id, sort_by_parameter_order=True)
)
# RETURNING makes SQLAlchemy send the rows as one multi-row INSERT.
_INSERT_LEDGER = insert(t.ledger_entries).returning(t.ledger_entries.c.id)
_INSERT_JOB = insert(t.jobs).returning(t.jobs.c.id)
_INSERT_AUDIT = insert(t.audit_events)

_ORDER_COLUMNS = ("external_id", "idempotency_key", "request_hash", "intake_response", "currency", "status", "email",
                  "ship_to", "shipping_price_minor", "hold_reason", "flags", "fx", "created_at", "updated_at")
_PG_STORE_AND_ORDER = text(f"""
WITH s AS (SELECT id, config FROM stores WHERE name = :store_name),
o AS (
  INSERT INTO orders (store_id, {", ".join(_ORDER_COLUMNS)})
  SELECT s.id, {", ".join(f":{c}" for c in _ORDER_COLUMNS)} FROM s
  ON CONFLICT DO NOTHING
  RETURNING id
)
SELECT s.id, s.config, (SELECT id FROM o) FROM s
""").bindparams(*(bindparam(c, type_=t.orders.c[c].type) for c in _ORDER_COLUMNS))

_STORES_BY_NAMES = select(t.stores.c.id, t.stores.c.name, t.stores.c.config).where(
    t.stores.c.name.in_(bindparam("names", expanding=True)))

# A batch of orders and everything a new order brings, in one statement (see add_new_orders). JSON rather
# than jsonb keeps each stored document's key order. `ro` pairs each inserted order with its request.
_PG_NEW_ORDERS = text(f"""
WITH r AS (
  SELECT * FROM json_to_recordset(CAST(:orders AS json)) AS r(
    idx integer, store_id bigint, external_id text, idempotency_key text, request_hash text, intake_response json,
    currency text, status text, email text, ship_to json, shipping_price_minor bigint, hold_reason text,
    flags json, fx json, created_at timestamptz, updated_at timestamptz, audit_detail json, correlation_id text)
), o AS (
  INSERT INTO orders (store_id, {", ".join(_ORDER_COLUMNS)})
  SELECT store_id, {", ".join(_ORDER_COLUMNS)} FROM r ORDER BY store_id, external_id
  ON CONFLICT DO NOTHING
  RETURNING id, store_id, external_id
), ro AS (
  SELECT r.*, o.id AS order_id FROM r JOIN o ON o.store_id = r.store_id AND o.external_id = r.external_id
), l AS (
  INSERT INTO order_lines (order_id, line_no, external_id, sku, variant_id, quantity, unit_price_minor, status,
                           offer_id, routing)
  SELECT ro.order_id, v.line_no, v.external_id, v.sku, (SELECT id FROM variants WHERE variants.sku = v.sku),
         v.quantity, v.unit_price_minor, v.status, NULL, NULL
  FROM json_to_recordset(CAST(:lines AS json))
       AS v(idx integer, line_no integer, external_id text, sku text, quantity integer, unit_price_minor bigint,
            status text)
  JOIN ro ON ro.idx = v.idx
  ORDER BY v.idx, v.line_no
  RETURNING id, order_id, line_no
), e AS (
  INSERT INTO ledger_entries (order_id, order_line_id, store_id, supplier_id, kind, amount_minor, currency, memo,
                              created_at)
  SELECT ro.order_id, l.id, x.store_id, x.supplier_id, x.kind, x.amount_minor, x.currency, x.memo, x.created_at
  FROM json_to_recordset(CAST(:ledger AS json))
       AS x(idx integer, seq integer, line_no integer, store_id bigint, supplier_id bigint, kind text,
            amount_minor bigint, currency text, memo text, created_at timestamptz)
  JOIN ro ON ro.idx = x.idx
  LEFT JOIN l ON l.order_id = ro.order_id AND l.line_no = x.line_no
  ORDER BY x.idx, x.seq
), a AS (
  INSERT INTO audit_events (at, actor, action, subject, detail, correlation_id, store_id, supplier_id)
  SELECT :audit_at, :audit_actor, :audit_action, :audit_subject || ro.order_id, ro.audit_detail,
         ro.correlation_id, ro.store_id, NULL
  FROM ro ORDER BY ro.idx
), j AS (
  INSERT INTO jobs (kind, key, payload, status, attempts, available_at, created_at, updated_at)
  SELECT :job_kind, :job_key || ro.order_id,
         CAST(CAST(:job_payload AS jsonb) || jsonb_build_object('order_id', ro.order_id) AS json),
         :job_status, :job_attempts, :job_available_at, :job_created_at, :job_updated_at
  FROM ro ORDER BY ro.idx
  RETURNING id, key
)
SELECT ro.idx, ro.order_id, j.id AS job_id FROM ro JOIN j ON j.key = :job_key || ro.order_id
""").bindparams(
    bindparam("audit_at", type_=t.audit_events.c.at.type),
    bindparam("job_available_at", type_=t.jobs.c.available_at.type),
    bindparam("job_created_at", type_=t.jobs.c.created_at.type),
    bindparam("job_updated_at", type_=t.jobs.c.updated_at.type),
)

# Lines and ledger entries travel as JSON arrays (one statement text whatever the row count, so PostgreSQL
# keeps it prepared), inserted in the order given (ORDER BY: ids follow it); data-modifying CTEs all run, in
# one snapshot, as part of the statement.
_PG_ORDER_DETAILS = text("""
WITH l AS (
  INSERT INTO order_lines (order_id, line_no, external_id, sku, variant_id, quantity, unit_price_minor, status,
                           offer_id, routing)
  SELECT :order_id, v.line_no, v.external_id, v.sku, (SELECT id FROM variants WHERE variants.sku = v.sku),
         v.quantity, v.unit_price_minor, v.status, NULL, NULL
  FROM jsonb_to_recordset(CAST(:lines AS jsonb))
       AS v(line_no integer, external_id text, sku text, quantity integer, unit_price_minor bigint, status text)
  ORDER BY v.line_no
  RETURNING id, line_no
), e AS (
  INSERT INTO ledger_entries (order_id, order_line_id, store_id, supplier_id, kind, amount_minor, currency, memo,
                              created_at)
  SELECT :order_id, l.id, x.store_id, x.supplier_id, x.kind, x.amount_minor, x.currency, x.memo,
         CAST(x.created_at AS timestamptz)
  FROM jsonb_to_recordset(CAST(:ledger AS jsonb))
       AS x(line_no integer, store_id bigint, supplier_id bigint, kind text, amount_minor bigint, currency text,
            memo text, created_at text, seq integer)
  LEFT JOIN l ON l.line_no = x.line_no
  ORDER BY x.seq
), a AS (
  INSERT INTO audit_events (at, actor, action, subject, detail, correlation_id, store_id, supplier_id)
  VALUES (:audit_at, :audit_actor, :audit_action, :audit_subject, :audit_detail, :audit_correlation_id,
          :audit_store_id, :audit_supplier_id)
)
INSERT INTO jobs (kind, key, payload, status, attempts, available_at, created_at, updated_at)
VALUES (:job_kind, :job_key, :job_payload, :job_status, :job_attempts, :job_available_at, :job_created_at,
        :job_updated_at)
RETURNING id
""").bindparams(
    bindparam("audit_at", type_=t.audit_events.c.at.type),
    bindparam("audit_detail", type_=t.audit_events.c.detail.type),
    bindparam("job_payload", type_=t.jobs.c.payload.type),
    bindparam("job_available_at", type_=t.jobs.c.available_at.type),
    bindparam("job_created_at", type_=t.jobs.c.created_at.type),
    bindparam("job_updated_at", type_=t.jobs.c.updated_at.type),
)


def _sqlite_json_insert(table: str, columns: tuple[str, ...], *, computed: dict[str, str] | None = None,
                        suffix: str = ""):
    """INSERT INTO `table` every object of the JSON array `:rows` (SQLite), each column from the key of its
    name unless `computed` gives its expression. `WHERE true` lets an ON CONFLICT clause follow the SELECT."""
    def value(column: str) -> str:
        return (computed or {}).get(column, f"json_extract(r.value, '$.{column}')")

    return text(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(map(value, columns))} "
                f"FROM json_each(:rows) AS r WHERE true {suffix}")


_SQLITE_INSERT = {
    "orders": _sqlite_json_insert("orders", ("store_id", *_ORDER_COLUMNS),
                                  suffix="ON CONFLICT DO NOTHING RETURNING id, store_id, external_id"),
    "order_lines": _sqlite_json_insert(
        "order_lines", ("order_id", "line_no", "external_id", "sku", "variant_id", "quantity", "unit_price_minor",
                        "status"),
        computed={"variant_id": "(SELECT id FROM variants WHERE variants.sku = json_extract(r.value, '$.sku'))"}),
    "ledger_entries": _sqlite_json_insert(
        "ledger_entries", ("order_id", "order_line_id", "store_id", "supplier_id", "kind", "amount_minor", "currency",
                           "memo", "created_at"),
        computed={"order_line_id": "(SELECT id FROM order_lines AS l WHERE l.order_id = json_extract(r.value, "
                                   "'$.order_id') AND l.line_no = json_extract(r.value, '$.line_no'))"}),
    "audit_events": _sqlite_json_insert(
        "audit_events", ("at", "actor", "action", "subject", "detail", "correlation_id", "store_id", "supplier_id")),
    "jobs": _sqlite_json_insert(
        "jobs", ("kind", "key", "payload", "status", "attempts", "available_at", "created_at", "updated_at"),
        suffix="RETURNING id, key"),
}


def _sqlite_json_rows(conn: Connection):
    """_json_rows for the _SQLITE_INSERT statements: datetimes as the text our UTC columns store on SQLite."""
    as_stored = t.orders.c.created_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return lambda rows: _json_rows(rows, as_stored)


def _json_rows(rows: list[dict], time=datetime.isoformat) -> str:
    def encode(value):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            return time(value)
        raise TypeError(f"cannot store {type(value).__name__} in a row")

    return json.dumps(rows, default=encode)


@functools.cache
def _insert_if_new(dialect: str, table: str, *returning: str):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING `returning` for `dialect`. Without a conflict target it covers
    every unique constraint of the table (PostgreSQL, SQLite >= 3.35); skipped rows return nothing."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    target = t.metadata.tables[table]
    return dialect_insert(target).on_conflict_do_nothing().returning(*(target.c[c] for c in returning))
