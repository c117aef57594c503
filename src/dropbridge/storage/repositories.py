"""Queries and atomic updates, one repository per aggregate. Business rules live in services; these
only read and write rows, and say so exactly (rowcounts, not guesses)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

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

    def all_print_files(self, sku: str | None = None) -> list[m.PrintFile]:
        q = select(m.PrintFile).order_by(t.print_files.c.sku, t.print_files.c.placement)
        return list(self.session.scalars(q if sku is None else q.where(t.print_files.c.sku == sku)))

    def print_files(self, skus: list[str]) -> dict[str, list[m.PrintFile]]:
        """The designs attached to each of these SKUs (print on demand), by SKU."""
        out: dict[str, list[m.PrintFile]] = {}
        if skus:
            rows = self.session.scalars(select(m.PrintFile).where(t.print_files.c.sku.in_(set(skus)))
                                        .order_by(t.print_files.c.id))
            for row in rows:
                out.setdefault(row.sku, []).append(row)
        return out


class OfferRepo(_Repo):
    def costs_and_stock(self, supplier_id: int) -> dict[str, tuple[int, int]]:
        rows = self.session.execute(select(t.supplier_offers.c.supplier_sku, t.supplier_offers.c.cost_minor,
                                           t.supplier_offers.c.stock)
                                    .where(t.supplier_offers.c.supplier_id == supplier_id))
        return {sku: (cost, stock) for sku, cost, stock in rows}

    def listing(self, *, supplier: str | None = None, sku: str | None = None, limit: int = 100,
                after_id: int = 0) -> list[dict]:
        """Offers with their supplier and variant SKU, for people: filtered, in id order, a page at a time."""
        o, s, v = t.supplier_offers.c, t.suppliers.c, t.variants.c
        q = (select(o.id, s.name.label("supplier"), o.supplier_sku, v.sku.label("variant_sku"), o.cost_minor,
                    o.currency, o.stock, o.reserved, o.lead_time_days, o.as_of, o.gtin, o.quarantined_at, o.drift,
                    o.absent_since)
             .join(t.suppliers, s.id == o.supplier_id).outerjoin(t.variants, v.id == o.variant_id)
             .where(o.id > after_id).order_by(o.id).limit(limit))
        if supplier:
            q = q.where(s.name == supplier)
        if sku:
            q = q.where(or_(o.supplier_sku == sku, v.sku == sku))
        return [dict(row._mapping) for row in self.session.execute(q)]

    def by_ids(self, ids: list[int]) -> dict[int, m.SupplierOffer]:
        q = select(m.SupplierOffer).where(t.supplier_offers.c.id.in_(ids))
        return {o.id: o for o in self.session.scalars(q)}

    def held_orders(self, variant_id: int) -> list[int]:
        """Orders on hold with an unroutable line of this variant: what a released offer could serve now."""
        q = (select(t.orders.c.id).distinct()
             .join(t.order_lines, t.order_lines.c.order_id == t.orders.c.id)
             .where(t.orders.c.status == "on_hold", t.order_lines.c.status == "unroutable",
                    t.order_lines.c.variant_id == variant_id).order_by(t.orders.c.id))
        return list(self.session.scalars(q))

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
        on SQLite). The offer loaded in this session learns its new `reserved`, so the next decision in
        the same transaction (a batch of orders) plans with it."""
        row = self.session.execute(
            update(t.supplier_offers)
            .where(
                t.supplier_offers.c.id == offer_id,
                t.supplier_offers.c.stock - t.supplier_offers.c.reserved - buffer >= quantity,
            )
            .values(reserved=t.supplier_offers.c.reserved + quantity)
            .returning(t.supplier_offers.c.reserved)
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            return False
        loaded = self.session.identity_map.get(identity_key(m.SupplierOffer, offer_id))
        if loaded is not None:
            set_committed_value(loaded, "reserved", row.reserved)
        return True

    def ids_for_variants(self, variant_ids: list[int]) -> list[int]:
        """Every offer of these variants (what routing them may reserve)."""
        if not variant_ids:
            return []
        return list(self.session.scalars(select(t.supplier_offers.c.id)
                                         .where(t.supplier_offers.c.variant_id.in_(variant_ids))))

    def lock(self, offer_ids) -> None:
        """Row locks on these offers in id order (one statement), re-read: a batch of orders reserves
        under them, and two batches that need the same offers queue instead of deadlocking."""
        ids = sorted(set(offer_ids))
        if ids:
            self.session.execute(select(m.SupplierOffer).where(t.supplier_offers.c.id.in_(ids))
                                 .order_by(t.supplier_offers.c.id).with_for_update()
                                 .execution_options(populate_existing=True)).all()

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
    def by_ids(self, ids: list[int]) -> dict[int, m.Order]:
        """Many orders with their lines, in two queries."""
        if not ids:
            return {}
        return {o.id: o for o in self.session.scalars(select(m.Order).where(t.orders.c.id.in_(sorted(set(ids)))))}

    def lock_many(self, order_ids) -> list[m.Order]:
        """These orders, row-locked in id order (one statement) and re-read."""
        ids = sorted(set(order_ids))
        if not ids:
            return []
        return list(self.session.scalars(select(m.Order).where(t.orders.c.id.in_(ids)).order_by(t.orders.c.id)
                                          .with_for_update().execution_options(populate_existing=True)))

    def by_idempotency_key(self, store_id: int, key: str) -> m.Order | None:
        return self.session.scalar(
            select(m.Order).where(t.orders.c.store_id == store_id, t.orders.c.idempotency_key == key)
        )

    def by_external_id(self, store_id: int, external_id: str) -> m.Order | None:
        return self.session.scalar(
            select(m.Order).where(t.orders.c.store_id == store_id, t.orders.c.external_id == external_id)
        )

    def recent(self, limit: int = 50, status: str | None = None, store_id: int | None = None,
               store_ids: list[int] | None = None) -> list[m.Order]:
        q = select(m.Order).order_by(t.orders.c.id.desc()).limit(limit)
        if status:
            q = q.where(t.orders.c.status == status)
        if store_id:
            q = q.where(t.orders.c.store_id == store_id)
        if store_ids is not None:
            q = q.where(t.orders.c.store_id.in_(store_ids))
        return list(self.session.scalars(q))

    def line(self, line_id: int) -> m.OrderLine | None:
        return self.session.get(m.OrderLine, line_id)


class SupplierOrderRepo(_Repo):
    def by_ids(self, ids: list[int]) -> dict[int, m.SupplierOrder]:
        """Many supplier orders with their lines, in two queries (a batch reads them before its loop)."""
        if not ids:
            return {}
        return {so.id: so for so in self.session.scalars(select(m.SupplierOrder)
                                                         .where(t.supplier_orders.c.id.in_(sorted(set(ids)))))}

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

    def counts_for(self, order_ids: list[int]) -> dict[tuple[int, int], int]:
        """{(order id, supplier id): supplier orders} for these orders, one query."""
        if not order_ids:
            return {}
        rows = self.session.execute(
            select(t.supplier_orders.c.order_id, t.supplier_orders.c.supplier_id, func.count())
            .where(t.supplier_orders.c.order_id.in_(order_ids))
            .group_by(t.supplier_orders.c.order_id, t.supplier_orders.c.supplier_id))
        return {(o, s): n for o, s, n in rows.all()}

    def lock_many(self, ids: list[int]) -> None:
        """Row locks on these supplier orders in id order (one statement), re-read."""
        if ids:
            self.session.execute(select(m.SupplierOrder).where(t.supplier_orders.c.id.in_(sorted(set(ids))))
                                 .order_by(t.supplier_orders.c.id).with_for_update()
                                 .execution_options(populate_existing=True)).all()

    def count_for(self, order_id: int, supplier_id: int) -> int:
        return self.session.scalar(
            select(func.count()).where(
                t.supplier_orders.c.order_id == order_id, t.supplier_orders.c.supplier_id == supplier_id
            )
        )

    def waiting(self, placements: list[str], limit: int = 1000) -> list[m.SupplierOrder]:
        """Orders at a supplier (submitted) still waiting in one of `placements`, oldest first."""
        c = t.supplier_orders.c
        return list(self.session.scalars(
            select(m.SupplierOrder).where(c.status == "submitted", c.placement.in_(placements))
            .order_by(c.id).limit(limit)))

    def listing(self, *, supplier_id: int | None = None, statuses: list[str] | None = None,
                placements: list[str] | None = None, exclude_placements: list[str] | None = None,
                limit: int = 200) -> list[m.SupplierOrder]:
        """Supplier orders, oldest first, filtered by supplier, status and placement."""
        c = t.supplier_orders.c
        q = select(m.SupplierOrder).order_by(c.id).limit(limit)
        if supplier_id is not None:
            q = q.where(c.supplier_id == supplier_id)
        if statuses:
            q = q.where(c.status.in_(statuses))
        if placements:
            q = q.where(c.placement.in_(placements))
        if exclude_placements:
            q = q.where(c.placement.not_in(exclude_placements))
        return list(self.session.scalars(q))

    def awaiting_tracking(self, limit: int = 200) -> list[m.SupplierOrder]:
        return list(
            self.session.scalars(
                select(m.SupplierOrder)
                .where(t.supplier_orders.c.status.in_(["submitted", "partially_shipped"]))
                .order_by(t.supplier_orders.c.id)
                .limit(limit)
            )
        )

    def awaiting_payment(self, submitted_before: datetime, limit: int = 500) -> list[m.SupplierOrder]:
        """Orders at a supplier that waits for our payment, sent before `submitted_before`."""
        c = t.supplier_orders.c
        return list(
            self.session.scalars(
                select(m.SupplierOrder)
                .where(c.status == "submitted", c.placement == "awaiting_payment",
                       c.submitted_at < submitted_before)
                .order_by(c.id)
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


    def report(self, group: str, since: datetime | None = None, until: datetime | None = None):
        """Sum entries by (group key, basis, kind, currency) for entries dated since <= created_at < until.

        group: order | supplier | store | product | day (the entry's UTC day, 'YYYY-MM-DD'). basis: where the
        entry's order stands: realised (shipped, delivered, refunded), expected (routed, submitted),
        unroutable (on hold with a line no supplier can take), held (on hold otherwise), cancelled, pending
        (not routed yet). A partly shipped order is split entry by entry: realised where the entry's line
        shipped, or (an entry of a supplier order, no line) where that supplier's order shipped; expected
        otherwise, the order's own entries (shipping charged, its fees) included."""
        e, o, ln = t.ledger_entries, t.orders, t.order_lines
        unroutable = select(ln.c.id).where(ln.c.order_id == o.c.id, ln.c.status == "unroutable").exists()
        basis = case(
            (o.c.status.in_(("shipped", "delivered", "refunded")), "realised"),
            (o.c.status == "partially_shipped", "partly"),
            (o.c.status.in_(("routed", "submitted")), "expected"),
            (o.c.status == "cancelled", "cancelled"),
            (and_(o.c.status == "on_hold", unroutable), "unroutable"),
            (o.c.status == "on_hold", "held"),
            else_="pending",
        ).label("basis")
        # Per order first: PostgreSQL refuses a correlated subquery on an ungrouped column in GROUP BY.
        ob = select(o.c.id, o.c.external_id, basis).subquery("ob")
        if group == "day":
            key = (func.substr(e.c.created_at, 1, 10) if self.session.get_bind().dialect.name == "sqlite"
                   else func.to_char(func.timezone("UTC", e.c.created_at), "YYYY-MM-DD"))
        else:
            key = {"order": ob.c.external_id, "store": t.stores.c.name, "supplier": t.suppliers.c.name,
                   "product": ln.c.sku}[group]
        so = t.supplier_orders
        shipped = (select(so.c.order_id, so.c.supplier_id)
                   .where(so.c.status.in_(("shipped", "delivered"))).distinct().subquery("shipped"))
        entry_basis = case(
            (ob.c.basis != "partly", ob.c.basis),
            (e.c.order_line_id.is_not(None), case((ln.c.status == "shipped", "realised"), else_="expected")),
            (shipped.c.order_id.is_not(None), "realised"),
            else_="expected",
        ).label("basis")
        q = (
            select(key.label("key"), entry_basis, e.c.kind, e.c.currency, func.sum(e.c.amount_minor).label("amount"))
            .select_from(e)
            .join(ob, ob.c.id == e.c.order_id)
            .join(t.stores, t.stores.c.id == e.c.store_id)
            .outerjoin(t.suppliers, t.suppliers.c.id == e.c.supplier_id)
            .outerjoin(ln, ln.c.id == e.c.order_line_id)
            .outerjoin(shipped, and_(shipped.c.order_id == e.c.order_id, shipped.c.supplier_id == e.c.supplier_id))
            .group_by(key, entry_basis, e.c.kind, e.c.currency)
        )
        if since is not None:
            q = q.where(e.c.created_at >= since)
        if until is not None:
            q = q.where(e.c.created_at < until)
        return [tuple(r) for r in self.session.execute(q).all()]


    def journal(self, since: datetime | None = None, until: datetime | None = None):
        """(id, created_at, kind, amount, currency, memo, order, store, supplier) of each entry in the range, in
        entry order, streamed."""
        e = t.ledger_entries
        q = (select(e.c.id, e.c.created_at, e.c.kind, e.c.amount_minor, e.c.currency, e.c.memo,
                    t.orders.c.external_id, t.stores.c.name, t.suppliers.c.name)
             .join(t.orders, t.orders.c.id == e.c.order_id).join(t.stores, t.stores.c.id == e.c.store_id)
             .outerjoin(t.suppliers, t.suppliers.c.id == e.c.supplier_id).order_by(e.c.id))
        if since is not None:
            q = q.where(e.c.created_at >= since)
        if until is not None:
            q = q.where(e.c.created_at < until)
        for row in self.session.execute(q.execution_options(yield_per=5000)):
            yield tuple(row)


class TokenRepo(_Repo):
    def by_hash(self, token_hash: str) -> m.ApiToken | None:
        return self.session.scalar(select(m.ApiToken).where(t.api_tokens.c.token_hash == token_hash))

    def by_name(self, name: str) -> m.ApiToken | None:
        return self.session.scalar(select(m.ApiToken).where(t.api_tokens.c.name == name))

    def all(self) -> list[m.ApiToken]:
        return list(self.session.scalars(select(m.ApiToken).order_by(t.api_tokens.c.name)))

    def remove(self, token: m.ApiToken) -> None:
        self.session.delete(token)


class AlertRepo(_Repo):
    def recent(self, limit: int = 50, open_only: bool = False) -> list[m.Alert]:
        q = select(m.Alert).order_by(t.alerts.c.id.desc()).limit(limit)
        if open_only:
            q = q.where(t.alerts.c.resolved_at.is_(None))
        return list(self.session.scalars(q))

    def for_order(self, order_id: int) -> list[m.Alert]:
        return list(self.session.scalars(select(m.Alert).where(t.alerts.c.order_id == order_id)))

    def open_matching(self, kind: str, *, order_id: int | None = None, supplier_id: int | None = None,
                      contains: str | None = None) -> m.Alert | None:
        """An unresolved alert of `kind` about the same order and supplier (whose message names `contains`)."""
        c = t.alerts.c
        q = select(m.Alert).where(c.kind == kind, c.resolved_at.is_(None))
        q = q.where(c.order_id == order_id if order_id is not None else c.order_id.is_(None))
        q = q.where(c.supplier_id == supplier_id if supplier_id is not None else c.supplier_id.is_(None))
        if contains:
            q = q.where(c.message.contains(contains, autoescape=True))
        return self.session.scalar(q.order_by(c.id).limit(1))


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

    def last_started(self, supplier_id: int, source: str) -> m.SyncRun | None:
        return self.session.scalar(
            select(m.SyncRun).where(t.sync_runs.c.supplier_id == supplier_id, t.sync_runs.c.source == source)
            .order_by(t.sync_runs.c.id.desc()).limit(1))

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

    def abandoned(self) -> list[m.SyncRun]:
        """Runs left `running` by a process that is gone (see run_owner.py)."""
        from .run_owner import owner_alive, pg_run_alive

        runs = self.session.scalars(select(m.SyncRun).where(t.sync_runs.c.status == "running")
                                    .order_by(t.sync_runs.c.id)).all()
        if self.session.get_bind().dialect.name == "postgresql":
            conn = self.session.connection()
            return [r for r in runs if not pg_run_alive(conn, r.id)]
        return [r for r in runs if not owner_alive((r.report or {}).get("owner"), r.id)]

    def add_rejects(self, run_id: int, errors) -> None:
        self.session.execute(insert(t.sync_run_rejects), [
            {"sync_run_id": run_id, "line": e.line, "field": e.field, "reason": e.reason[:500],
             "raw": e.raw[:1000] if e.raw else None} for e in errors])


class WebhookEventRepo(_Repo):
    # A finished event is processed, or failed for good (a payload our mapping refuses).
    FINISHED = ("processed", "failed")

    def many(self, ids: list[int]) -> list[m.WebhookEvent]:
        return list(self.session.scalars(select(m.WebhookEvent).where(t.webhook_events.c.id.in_(ids))))

    def mark(self, ids: list[int], status: str, at: datetime) -> None:
        """Many entries' status and processing time, one statement."""
        self.session.execute(update(t.webhook_events).where(t.webhook_events.c.id.in_(ids))
                             .values(status=status, processed_at=at).execution_options(synchronize_session=False))

    def purge_bodies(self, before: datetime) -> int:
        """Clear the raw body and headers of events finished before `before`; the row stays, so a late
        re-delivery is still known as a duplicate. Returns how many were cleared."""
        result = self.session.execute(
            update(t.webhook_events)
            .where(t.webhook_events.c.status.in_(self.FINISHED), t.webhook_events.c.processed_at < before,
                   t.webhook_events.c.raw_body != b"")
            .values(raw_body=b"", headers={}))
        return result.rowcount


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


def _last_value_memo(convert):
    """`convert` remembering its last argument: the rows of one bulk write share one timestamp object, whose
    conversion (to UTC, then to SQLite's text) is then done once, not per row."""
    if convert is None:
        return None
    last: list = [object(), None]

    def memo(value):
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]
    return memo


class CatalogImportRepo(_Repo):
    """Catalog import (services/import_catalog.py): supplier SKU -> variant links, GTIN lookups, images."""

    # Bulk form (plain dicts, Core statements: no ORM object per row), what the import uses for rows.
    PRODUCT_COLUMNS = ("id", "sku", "supplier_id", "title", "description_html", "description", "brand",
                       "supplier_category", "category", "option_names")
    VARIANT_COLUMNS = ("id", "product_id", "sku", "title", "gtin", "options", "position", "mpn", "msrp_minor",
                       "map_minor", "currency", "weight", "weight_unit", "status")
    _BULK = {"products": t.products, "variants": t.variants, "variant_sources": t.variant_sources}

    def source_rows(self, supplier_id: int, skus: list[str]) -> dict[str, dict]:
        c = t.variant_sources.c
        q = select(c.id, c.supplier_sku, c.variant_id, c.matched_by, c.gtin, c.content_hash).where(
            c.supplier_id == supplier_id, c.supplier_sku.in_(skus))
        return {r["supplier_sku"]: dict(r) for r in self.session.execute(q).mappings()}

    def source_hashes(self, supplier_id: int, skus: list[str]) -> dict[str, int | None]:
        c = t.variant_sources.c
        q = select(c.supplier_sku, c.content_hash).where(c.supplier_id == supplier_id, c.supplier_sku.in_(skus))
        return dict(self.session.execute(q).all())

    def has_sources(self, supplier_id: int) -> bool:
        c = t.variant_sources.c
        return self.session.execute(select(c.id).where(c.supplier_id == supplier_id).limit(1)).first() is not None

    def variant_rows(self, column: str, values: list) -> list[dict]:
        if not values:
            return []
        cols = [t.variants.c[n] for n in self.VARIANT_COLUMNS]
        q = select(*cols).where(t.variants.c[column].in_(values)).order_by(t.variants.c.id)
        return [dict(r) for r in self.session.execute(q).mappings()]

    def product_rows(self, column: str, values: list) -> list[dict]:
        if not values:
            return []
        cols = [t.products.c[n] for n in self.PRODUCT_COLUMNS]
        return [dict(r) for r in self.session.execute(select(*cols).where(t.products.c[column].in_(values)))
                .mappings()]

    def insert_rows(self, table: str, rows: list[dict], key: str | None = None) -> list[int]:
        """One executemany INSERT; with `key` (a unique column) the new ids in the order of `rows`, read back
        by that key in one SELECT (RETURNING in a given order makes SQLite insert row by row)."""
        if not rows:
            return []
        tab = self._BULK[table]
        self._executemany_insert(tab, rows)
        if key is None:
            return []
        ids = dict(self.session.connection().execute(
            select(tab.c[key], tab.c.id).where(tab.c[key].in_([r[key] for r in rows]))).all())
        return [ids[r[key]] for r in rows]

    def _executemany_insert(self, tab, rows: list[dict]) -> None:
        """The driver's executemany with each column's bind conversion applied in one loop: SQLAlchemy's own
        executemany builds and converts every row's parameters through its compiler, which was most of a
        first catalog import's writes (measured: about 4 s of 19 for 20,000 rows). Every row has the same keys;
        a table with a Python-side default for a column the rows leave out takes SQLAlchemy's path."""
        conn = self.session.connection()
        keys = list(rows[0])
        if any(c.default is not None and c.name not in keys and not c.primary_key for c in tab.columns):
            conn.execute(insert(tab), rows)
            return
        dialect = conn.dialect
        compiled = insert(tab).values({k: bindparam(k) for k in keys}).compile(dialect=dialect)
        order = list(compiled.positiontup) if compiled.positional else keys
        procs = [_last_value_memo(tab.c[k].type.dialect_impl(dialect).bind_processor(dialect)) for k in order]
        columns = list(zip(order, procs, strict=True))
        if compiled.positional:
            data = [tuple(r[k] if p is None else p(r[k]) for k, p in columns) for r in rows]
        else:
            data = [{k: r[k] if p is None else p(r[k]) for k, p in columns} for r in rows]
        conn.exec_driver_sql(compiled.string, data)

    def update_rows(self, table: str, rows: list[dict]) -> None:
        """One executemany UPDATE by id; every row a dict with "id" and the same other keys."""
        if not rows:
            return
        tab = self._BULK[table]
        names = [k for k in rows[0] if k != "id"]
        q = update(tab).where(tab.c.id == bindparam("b_id")).values({n: bindparam(n) for n in names})
        self.session.connection().execute(q, [{**{n: r[n] for n in names}, "b_id": r["id"]} for r in rows])

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


class InvoiceRepo(_Repo):
    def by_number(self, supplier_id: int, number: str) -> m.SupplierInvoice | None:
        return self.session.scalar(select(m.SupplierInvoice).where(
            t.supplier_invoices.c.supplier_id == supplier_id, t.supplier_invoices.c.number == number))


class ConnectorSecretRepo(_Repo):
    def get(self, owner: str, name: str) -> bytes | None:
        q = select(t.connector_secrets.c.secret).where(t.connector_secrets.c.owner == owner,
                                                      t.connector_secrets.c.name == name)
        return self.session.execute(q).scalar_one_or_none()

    def lock(self, owner: str, name: str, now: datetime) -> bytes | None:
        """The stored secret, its row locked until the transaction ends (made empty first if absent, so two
        writers queue on the same row; a concurrent insert that won is used as it is)."""
        c = t.connector_secrets.c
        try:
            with self.session.begin_nested():
                self.session.execute(insert(t.connector_secrets).values(owner=owner, name=name, secret=None,
                                                                        updated_at=now))
        except IntegrityError:
            pass
        q = select(c.secret).where(c.owner == owner, c.name == name).with_for_update()
        return self.session.execute(q).scalar_one()

    def put(self, owner: str, name: str, secret: bytes, now: datetime) -> None:
        c = t.connector_secrets.c
        self.session.execute(update(t.connector_secrets).where(c.owner == owner, c.name == name)
                             .values(secret=secret, updated_at=now))

    def all_stored(self) -> list[tuple[str, str, bytes]]:
        """(owner, name, secret) of every secret held, for key rotation."""
        c = t.connector_secrets.c
        return [tuple(r) for r in self.session.execute(select(c.owner, c.name, c.secret).where(c.secret.is_not(None)))]

    def clear(self, owner: str, now: datetime) -> None:
        """Forget every secret of `owner` (its credentials changed)."""
        self.session.execute(update(t.connector_secrets).where(t.connector_secrets.c.owner == owner)
                             .values(secret=None, updated_at=now))
