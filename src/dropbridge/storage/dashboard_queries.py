"""Reads behind the dashboard's pages and the operational metrics. Each page is a handful of indexed
queries: counts by status, one page of rows, and ledger sums over a date range read from a covering index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, cast, exists, func, insert, literal_column, or_, select

from dropbridge.domain import model as m

from . import tables as t
from .repositories import _Repo


class DashboardRepo(_Repo):
    @property
    def _sqlite(self) -> bool:
        return self.session.get_bind().dialect.name == "sqlite"

    def _day(self, col):
        """A timestamp column as its UTC day, 'YYYY-MM-DD' (SQLite stores UTC text already)."""
        if self._sqlite:
            return func.substr(col, 1, 10)
        return func.to_char(func.timezone("UTC", col), "YYYY-MM-DD")

    # Overview.
    def orders_since(self, since: datetime) -> int:
        return int(self.session.scalar(select(func.count()).where(t.orders.c.created_at >= since)))

    def order_status_counts(self) -> dict[str, int]:
        rows = self.session.execute(select(t.orders.c.status, func.count()).group_by(t.orders.c.status))
        return dict(rows.all())

    def supplier_order_status_counts(self) -> dict[str, int]:
        so = t.supplier_orders
        return dict(self.session.execute(select(so.c.status, func.count()).group_by(so.c.status)).all())

    def orders_with_status(self, status: str, limit: int = 10) -> list[m.Order]:
        q = select(m.Order).where(t.orders.c.status == status).order_by(t.orders.c.id.desc()).limit(limit)
        return list(self.session.scalars(q))

    def supplier_orders_with_status(self, statuses: list[str], older_than: datetime | None = None,
                                    limit: int = 10) -> list[tuple]:
        """(supplier order id, key, status, order id, order external id, supplier name, updated_at)."""
        so = t.supplier_orders
        q = (select(so.c.id, so.c.idempotency_key, so.c.status, so.c.order_id, t.orders.c.external_id,
                    t.suppliers.c.name, so.c.updated_at)
             .join(t.orders, t.orders.c.id == so.c.order_id).join(t.suppliers, t.suppliers.c.id == so.c.supplier_id)
             .where(so.c.status.in_(statuses)).order_by(so.c.id.desc()).limit(limit))
        if older_than is not None:
            q = q.where(so.c.created_at < older_than)
        return [tuple(r) for r in self.session.execute(q).all()]

    def count_supplier_orders(self, statuses: list[str], older_than: datetime | None = None) -> int:
        so = t.supplier_orders
        q = select(func.count()).where(so.c.status.in_(statuses))
        if older_than is not None:
            q = q.where(so.c.created_at < older_than)
        return int(self.session.scalar(q))

    def ledger_sums_since(self, since: datetime, kinds: list[str]) -> list[tuple[str, int]]:
        e = t.ledger_entries
        q = (select(e.c.currency, func.sum(e.c.amount_minor)).where(e.c.created_at >= since, e.c.kind.in_(kinds))
             .group_by(e.c.currency))
        return [(c, int(a or 0)) for c, a in self.session.execute(q).all()]

    def pending_jobs(self, kinds: list[str]) -> int:
        j = t.jobs
        return int(self.session.scalar(select(func.count()).where(j.c.status.in_(["pending", "in_flight"]),
                                                                  j.c.kind.in_(kinds))))

    def unpushed_shipments(self) -> int:
        return int(self.session.scalar(select(func.count()).where(t.shipments.c.pushed_at.is_(None))))

    # Suppliers and feeds.
    def last_runs(self, supplier_id: int | None = None, limit: int = 10) -> list[m.SyncRun]:
        q = select(m.SyncRun).order_by(t.sync_runs.c.id.desc()).limit(limit)
        if supplier_id is not None:
            q = q.where(t.sync_runs.c.supplier_id == supplier_id)
        return list(self.session.scalars(q))

    def feed_freshness(self) -> dict[int, tuple[datetime | None, int | None]]:
        """supplier id -> (finish time of its last applied run, id of its last run of any status)."""
        sr = t.sync_runs
        applied = dict(self.session.execute(select(sr.c.supplier_id, func.max(sr.c.finished_at))
                                            .where(sr.c.status == "applied").group_by(sr.c.supplier_id)).all())
        last = dict(self.session.execute(select(sr.c.supplier_id, func.max(sr.c.id)).group_by(sr.c.supplier_id))
                    .all())
        return {sid: (applied.get(sid), last.get(sid)) for sid in set(applied) | set(last)}

    def runs_by_id(self, ids: list[int]) -> dict[int, m.SyncRun]:
        return {r.id: r for r in self.session.scalars(select(m.SyncRun).where(t.sync_runs.c.id.in_(ids)))}

    def offer_counts(self) -> dict[int, tuple[int, int]]:
        """supplier id -> (offers, offers in stock)."""
        o = t.supplier_offers
        rows = self.session.execute(select(o.c.supplier_id, func.count(),
                                           func.sum(cast(o.c.stock > 0, Integer)))
                                    .group_by(o.c.supplier_id))
        return {sid: (int(n), int(s or 0)) for sid, n, s in rows.all()}

    def offers_page(self, supplier_id: int, q: str | None, limit: int, offset: int) -> tuple[list, int]:
        """(offer, variant sku) rows of one supplier, by supplier SKU; and how many match."""
        o = t.supplier_offers
        cond = [o.c.supplier_id == supplier_id]
        if q:
            cond.append(o.c.supplier_sku.like(f"{q}%"))
        total = self.session.scalar(select(func.count()).select_from(o).where(*cond))
        rows = self.session.execute(select(m.SupplierOffer, t.variants.c.sku)
                                    .outerjoin(t.variants, t.variants.c.id == o.c.variant_id)
                                    .where(*cond).order_by(o.c.supplier_sku).limit(limit).offset(offset))
        return [tuple(r) for r in rows.all()], int(total)

    # Orders.
    def orders_page(self, *, status=None, store_id=None, supplier_id=None, since=None, until=None, q=None,
                    limit=50, offset=0) -> tuple[list[m.Order], int]:
        o = t.orders
        cond = []
        if status:
            cond.append(o.c.status == status)
        if store_id:
            cond.append(o.c.store_id == store_id)
        if supplier_id:
            so = t.supplier_orders
            cond.append(exists().where(so.c.order_id == o.c.id, so.c.supplier_id == supplier_id))
        if since:
            cond.append(o.c.created_at >= since)
        if until:
            cond.append(o.c.created_at < until)
        if q:
            cond.append(or_(o.c.external_id == q, o.c.external_id.like(f"%{q}%"), o.c.email.like(f"%{q}%"),
                            cast(o.c.id, String) == q))
        total = self.session.scalar(select(func.count()).select_from(o).where(*cond))
        rows = self.session.scalars(select(m.Order).where(*cond).order_by(o.c.id.desc()).limit(limit).offset(offset))
        return list(rows), int(total)

    def order_totals(self, order_ids: list[int]) -> dict[int, int]:
        """order id -> sum of line prices (minor units, the order's currency)."""
        ln = t.order_lines
        rows = self.session.execute(select(ln.c.order_id, func.sum(ln.c.unit_price_minor * ln.c.quantity))
                                    .where(ln.c.order_id.in_(order_ids)).group_by(ln.c.order_id))
        return {oid: int(v or 0) for oid, v in rows.all()}

    def audit_for_subjects(self, subjects: list[str], limit: int = 200) -> list[m.AuditEvent]:
        q = (select(m.AuditEvent).where(t.audit_events.c.subject.in_(subjects))
             .order_by(t.audit_events.c.id).limit(limit))
        return list(self.session.scalars(q))

    def shipment_ids_for_order(self, order_id: int) -> list[int]:
        q = (select(t.shipments.c.id).join(t.supplier_orders, t.supplier_orders.c.id == t.shipments.c.supplier_order_id)
             .where(t.supplier_orders.c.order_id == order_id))
        return list(self.session.scalars(q))

    # Products and listings.
    def variants_page(self, q: str | None, limit: int, offset: int) -> tuple[list, int]:
        """(variant, product title) rows that some supplier offers or some store lists, by SKU."""
        v = t.variants
        cond = [or_(exists().where(t.supplier_offers.c.variant_id == v.c.id),
                    exists().where(t.listings.c.variant_id == v.c.id))]
        if q:
            cond.append(or_(v.c.sku.like(f"{q}%"), v.c.title.like(f"%{q}%")))
        total = self.session.scalar(select(func.count()).select_from(v).where(*cond))
        rows = self.session.execute(select(m.Variant, t.products.c.title)
                                    .outerjoin(t.products, t.products.c.id == v.c.product_id)
                                    .where(*cond).order_by(v.c.sku).limit(limit).offset(offset))
        return [tuple(r) for r in rows.all()], int(total)

    def listings_for(self, variant_ids: list[int]) -> list[tuple[m.Listing, str]]:
        rows = self.session.execute(select(m.Listing, t.stores.c.name)
                                    .join(t.stores, t.stores.c.id == t.listings.c.store_id)
                                    .where(t.listings.c.variant_id.in_(variant_ids)))
        return [tuple(r) for r in rows.all()]

    def low_stock_candidates(self) -> list[tuple[int, str, int | None]]:
        """(variant id, sku, own threshold) of variants a store lists or that have their own threshold."""
        v = t.variants
        q = select(v.c.id, v.c.sku, v.c.low_stock_threshold).where(
            or_(v.c.low_stock_threshold.is_not(None), exists().where(t.listings.c.variant_id == v.c.id)))
        return [tuple(r) for r in self.session.execute(q).all()]

    # Margins: sums per day, store, supplier, kind and currency. Closed days come from ledger_daily (each
    # computed once from the covering index); the open tail is summed live.
    def ledger_live(self, since: datetime, store_id: int | None = None) -> list[tuple]:
        """(day, store id, supplier id or None, kind, currency, sum) of entries from `since` on."""
        e = t.ledger_entries
        day = self._day(e.c.created_at).label("day")
        q = (select(day, e.c.store_id, e.c.supplier_id, e.c.kind, e.c.currency, func.sum(e.c.amount_minor))
             .where(e.c.created_at >= since)
             .group_by(day, e.c.store_id, e.c.supplier_id, e.c.kind, e.c.currency))
        if store_id:
            q = q.where(e.c.store_id == store_id)
        return [tuple(r) for r in self.session.execute(q).all()]

    def rolled_days(self, days: list[str]) -> set[str]:
        d = t.ledger_daily_days
        return set(self.session.scalars(select(d.c.day).where(d.c.day.in_(days))))

    def roll_up_day(self, day: str, start: datetime, end: datetime, now: datetime) -> None:
        """Sum one closed day's entries into ledger_daily; a day another process rolled up meanwhile is kept."""
        if day in self.rolled_days([day]):
            return
        e = t.ledger_entries
        supplier = func.coalesce(e.c.supplier_id, literal_column("0"))
        rows = self.session.execute(
            select(e.c.store_id, supplier, e.c.kind, e.c.currency, func.sum(e.c.amount_minor), func.count())
            .where(e.c.created_at >= start, e.c.created_at < end)
            .group_by(e.c.store_id, supplier, e.c.kind, e.c.currency)).all()
        if rows:
            self.session.execute(insert(t.ledger_daily), [
                {"day": day, "store_id": s, "supplier_id": sup, "kind": k, "currency": c, "amount_minor": int(a or 0),
                 "entries": n} for s, sup, k, c, a, n in rows])
        self.session.execute(insert(t.ledger_daily_days).values(day=day, entries=sum(r[5] for r in rows),
                                                                rolled_at=now))

    def ledger_days(self, first: str, last: str, store_id: int | None = None) -> list[tuple]:
        """Rolled-up rows for days first..last, shaped like ledger_live's (supplier None for none)."""
        d = t.ledger_daily
        q = select(d.c.day, d.c.store_id, d.c.supplier_id, d.c.kind, d.c.currency, d.c.amount_minor).where(
            d.c.day >= first, d.c.day <= last)
        if store_id:
            q = q.where(d.c.store_id == store_id)
        return [(day, s, sup or None, k, c, a) for day, s, sup, k, c, a in self.session.execute(q).all()]

    def ledger_by_product(self, since: datetime, store_id: int | None = None) -> list[tuple]:
        """(sku, kind, currency, sum) of line-level entries over a range."""
        e, ln = t.ledger_entries, t.order_lines
        q = (select(ln.c.sku, e.c.kind, e.c.currency, func.sum(e.c.amount_minor))
             .join(ln, ln.c.id == e.c.order_line_id)
             .where(e.c.created_at >= since, e.c.order_line_id.is_not(None))
             .group_by(ln.c.sku, e.c.kind, e.c.currency))
        if store_id:
            q = q.where(e.c.store_id == store_id)
        return [tuple(r) for r in self.session.execute(q).all()]

    # Audit.
    def audit_page(self, q: str | None, limit: int, offset: int) -> list[m.AuditEvent]:
        a = t.audit_events
        query = select(m.AuditEvent).order_by(a.c.id.desc()).limit(limit).offset(offset)
        if q:
            like = f"%{q}%"
            query = query.where(or_(a.c.subject == q, a.c.action.like(like), a.c.subject.like(like),
                                    a.c.actor.like(like), a.c.correlation_id == q))
        return list(self.session.scalars(query))

    # Alert checks.
    def supplier_orders_overdue(self, statuses: list[str], before: datetime,
                                column: str = "created_at") -> list[tuple]:
        """(id, key, supplier id, order id, status, time) of supplier orders in `statuses` whose `column`
        is before `before` (submitted_at for shipping deadlines, created_at for acknowledgement)."""
        so = t.supplier_orders
        col = so.c[column]
        q = (select(so.c.id, so.c.idempotency_key, so.c.supplier_id, so.c.order_id, so.c.status, col)
             .where(so.c.status.in_(statuses), col < before))
        return [tuple(r) for r in self.session.execute(q).all()]

    def awaiting_acknowledgement(self, before: datetime) -> list[tuple]:
        """(id, key, supplier id, order id, status, submitted_at) of orders sent to suppliers that confirm later
        (placement awaiting_ack) and have not acknowledged them, sent before `before`."""
        so = t.supplier_orders
        q = (select(so.c.id, so.c.idempotency_key, so.c.supplier_id, so.c.order_id, so.c.status, so.c.submitted_at)
             .where(so.c.status == "submitted", so.c.placement == "awaiting_ack", so.c.acknowledged_at.is_(None),
                    so.c.submitted_at < before))
        return [tuple(r) for r in self.session.execute(q).all()]

    def shipments_unpushed_before(self, before: datetime) -> list[tuple]:
        """(shipment id, tracking number, order id, store id, supplier id, created_at) not yet at the store."""
        sh, so = t.shipments, t.supplier_orders
        q = (select(sh.c.id, sh.c.tracking_number, so.c.order_id, t.orders.c.store_id, so.c.supplier_id,
                    sh.c.created_at)
             .join(so, so.c.id == sh.c.supplier_order_id).join(t.orders, t.orders.c.id == so.c.order_id)
             .where(sh.c.pushed_at.is_(None), sh.c.created_at < before))
        return [tuple(r) for r in self.session.execute(q).all()]

    # Operational metrics (computed at scrape time: grouped counts over indexed columns).
    def job_backlog(self) -> list[tuple[str, int, datetime | None]]:
        """(kind, pending jobs, oldest pending job's due time)."""
        j = t.jobs
        q = (select(j.c.kind, func.count(), func.min(j.c.available_at)).where(j.c.status == "pending")
             .group_by(j.c.kind))
        return [tuple(r) for r in self.session.execute(q).all()]
