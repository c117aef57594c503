"""Queries for publishing to stores: what is not listed yet, what is, and the offers behind them."""

from __future__ import annotations

from sqlalchemy import bindparam, case, exists, select, update
from sqlalchemy.orm import Session

from dropbridge.domain import model as m

from . import tables as t


class ListingRepo:
    def __init__(self, session: Session):
        self.session = session

    def unlisted_variants(self, store_id: int, limit: int = 1000) -> list[m.Variant]:
        """Variants some supplier offers (its SKU not absent from that supplier's last full feed) that this store
        does not list yet."""
        offered = exists().where(t.supplier_offers.c.variant_id == t.variants.c.id,
                                 t.supplier_offers.c.absent_since.is_(None))
        listed = exists().where(t.listings.c.variant_id == t.variants.c.id, t.listings.c.store_id == store_id)
        q = select(m.Variant).where(offered, ~listed).order_by(t.variants.c.product_id, t.variants.c.id).limit(limit)
        return list(self.session.scalars(q))

    def siblings(self, product_ids: list[int]) -> dict[int, list[m.Variant]]:
        out: dict[int, list[m.Variant]] = {}
        q = select(m.Variant).where(t.variants.c.product_id.in_(product_ids)).order_by(t.variants.c.id)
        for v in self.session.scalars(q):
            out.setdefault(v.product_id, []).append(v)
        return out

    def listed_products(self, store_id: int, product_ids: list[int]) -> set[int]:
        """Which of these products the store lists (some variant of it has a listing there)."""
        if not product_ids:
            return set()
        q = (select(t.variants.c.product_id).distinct()
             .join(t.listings, t.listings.c.variant_id == t.variants.c.id)
             .where(t.listings.c.store_id == store_id, t.variants.c.product_id.in_(set(product_ids))))
        return set(self.session.scalars(q))

    def products(self, ids: list[int]) -> dict[int, m.Product]:
        return {p.id: p for p in self.session.scalars(select(m.Product).where(t.products.c.id.in_(ids)))}

    def image_urls(self, product_ids: list[int]) -> dict[int, list[str]]:
        q = (select(t.product_images.c.product_id, t.product_images.c.source_url)
             .where(t.product_images.c.product_id.in_(product_ids), t.product_images.c.source_url.is_not(None))
             .order_by(t.product_images.c.product_id, t.product_images.c.position))
        out: dict[int, list[str]] = {}
        for pid, url in self.session.execute(q).all():
            out.setdefault(pid, []).append(url)
        return out

    def processed_images(self, product_ids: list[int]) -> dict[int, list[tuple[str, str, str]]]:
        """Product id -> its stored images as (sha256, path under the image store, format), in order."""
        q = (select(t.product_images.c.product_id, t.catalog_images.c.sha256, t.catalog_images.c.path,
                    t.catalog_images.c.format)
             .join(t.catalog_images, t.catalog_images.c.id == t.product_images.c.image_id)
             .where(t.product_images.c.product_id.in_(product_ids))
             .order_by(t.product_images.c.product_id, t.product_images.c.position, t.product_images.c.id))
        out: dict[int, list[tuple[str, str, str]]] = {}
        for pid, sha, path, fmt in self.session.execute(q).all():
            if all(sha != s for s, _, _ in out.get(pid, [])):
                out.setdefault(pid, []).append((sha, path, fmt))
        return out

    def for_store(self, store_id: int) -> list[m.Listing]:
        return list(self.session.scalars(select(m.Listing).where(t.listings.c.store_id == store_id)
                                          .order_by(t.listings.c.id)))

    def stock_rows(self, store_id: int, *, due_only: bool = False) -> list:
        """The store's listings (only those owed a push, with `due_only`) as plain rows for a stock push (id,
        variant_id, sku, status, external_product_id, external_variant_id, external_inventory_id, pushed_stock,
        pushed_at, stock_due): no ORM objects, which cost most of a push of a large catalog."""
        q = (select(t.listings.c.id, t.listings.c.variant_id, t.variants.c.sku, t.variants.c.status,
                    t.listings.c.external_product_id, t.listings.c.external_variant_id,
                    t.listings.c.external_inventory_id, t.listings.c.pushed_stock, t.listings.c.pushed_at,
                    t.listings.c.stock_due)
             .join(t.variants, t.variants.c.id == t.listings.c.variant_id)
             .where(t.listings.c.store_id == store_id).order_by(t.listings.c.id))
        if due_only:
            q = q.where(t.listings.c.stock_due.is_not(None))  # the partial index ix_listings_stock_due
        return list(self.session.execute(q).all())

    def offer_stock_for_store(self, store_id: int, *, due_only: bool = False) -> list:
        """(variant_id, stock, reserved, quarantined_at, supplier config) of every offer of a variant the store
        lists (owed a push, with `due_only`); the listed variants are a subquery, not a parameter list (which
        100,000 listings would exceed)."""
        configs = dict(self.session.execute(select(t.suppliers.c.id, t.suppliers.c.config)).all())
        listed = select(t.listings.c.variant_id).where(t.listings.c.store_id == store_id)
        if due_only:
            listed = listed.where(t.listings.c.stock_due.is_not(None))
        q = (select(t.supplier_offers.c.variant_id, t.supplier_offers.c.stock, t.supplier_offers.c.reserved,
                    t.supplier_offers.c.quarantined_at, t.supplier_offers.c.supplier_id)
             .where(t.supplier_offers.c.variant_id.in_(listed)))
        return [(v, stock, reserved, quarantined, configs.get(sid)) for v, stock, reserved, quarantined, sid
                in self.session.execute(q).all()]

    def mark_pushed(self, quantities: list[tuple[int, int]] | list[tuple[int, int, int | None]], at) -> None:
        """Record (listing id, quantity[, owed-push marks as read]) as what the store now shows, in one
        statement; the marks are cleared as settle_due does."""
        if quantities:
            due = bindparam("due")
            self.session.execute(
                update(t.listings).where(t.listings.c.id == bindparam("lid"))
                .values(pushed_stock=bindparam("qty"), pushed_at=at,
                        stock_due=case((t.listings.c.stock_due == due, None), else_=t.listings.c.stock_due))
                .execution_options(synchronize_session=False),
                [{"lid": q[0], "qty": q[1], "due": q[2] if len(q) > 2 else None} for q in quantities])

    def settle_due(self, seen: list[tuple[int, int]]) -> None:
        """Clear the owed-push marks of (listing id, marks as read) pairs, in one statement; a listing marked
        again meanwhile (a later feed run) keeps its mark for the push that run owes."""
        if seen:
            self.session.execute(
                update(t.listings).where(t.listings.c.id == bindparam("lid"),
                                         t.listings.c.stock_due == bindparam("due"))
                .values(stock_due=None).execution_options(synchronize_session=False),
                [{"lid": lid, "due": due} for lid, due in seen])

    def offers_for(self, variant_ids: list[int]) -> list[tuple[m.SupplierOffer, m.Supplier]]:
        rows = self.session.execute(
            select(m.SupplierOffer, m.Supplier)
            .join(m.Supplier, t.suppliers.c.id == t.supplier_offers.c.supplier_id)
            .where(t.supplier_offers.c.variant_id.in_(variant_ids)))
        return [(o, s) for o, s in rows.all()]

    def stores_with_listings(self) -> list[tuple[int, str]]:
        q = (select(t.stores.c.id, t.stores.c.name)
             .where(exists().where(t.listings.c.store_id == t.stores.c.id)).order_by(t.stores.c.id))
        return [tuple(r) for r in self.session.execute(q).all()]
