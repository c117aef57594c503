"""Queries and atomic updates, one repository per aggregate. Business rules live in services; these
only read and write rows, and say so exactly (rowcounts, not guesses)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, or_, select, update
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


class WebhookEventRepo(_Repo):
    def add_if_new(self, event: m.WebhookEvent) -> bool:
        """Store a received event unless (source, event_id) is already known. Savepoint, so a
        duplicate does not spoil the surrounding transaction."""
        try:
            with self.session.begin_nested():
                self.session.add(event)
            return True
        except IntegrityError:
            return False

    def by_key(self, source: str, event_id: str) -> m.WebhookEvent | None:
        return self.session.scalar(
            select(m.WebhookEvent).where(
                t.webhook_events.c.source == source, t.webhook_events.c.event_id == event_id
            )
        )


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
