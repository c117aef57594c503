"""Re-priced listings: the open ones per store, the approval queue, and decisions already taken."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dropbridge.domain import model as m

from . import tables as t

OPEN = ("ready", "pending", "approved")


class PriceChangeRepo:
    def __init__(self, session: Session):
        self.session = session

    def open_for_store(self, store_id: int) -> list[m.PriceChange]:
        """Changes not yet live nor set aside (ready, pending, approved), oldest first."""
        q = (select(m.PriceChange).where(t.price_changes.c.store_id == store_id, t.price_changes.c.status.in_(OPEN))
             .order_by(t.price_changes.c.id))
        return list(self.session.scalars(q))

    def rejected_for_store(self, store_id: int) -> list[m.PriceChange]:
        q = (select(m.PriceChange).where(t.price_changes.c.store_id == store_id,
                                         t.price_changes.c.status == "rejected").order_by(t.price_changes.c.id))
        return list(self.session.scalars(q))

    def count_pending(self) -> int:
        q = select(func.count()).select_from(t.price_changes).where(t.price_changes.c.status == "pending")
        return int(self.session.execute(q).scalar_one())

    def pending(self, store_id: int | None = None, ids: list[int] | None = None,
                limit: int = 10_000) -> list[tuple[m.PriceChange, str, str]]:
        """(change, store name, our SKU) waiting for approval, oldest first."""
        q = (select(m.PriceChange, t.stores.c.name, t.variants.c.sku)
             .join(t.stores, t.stores.c.id == t.price_changes.c.store_id)
             .join(t.listings, t.listings.c.id == t.price_changes.c.listing_id)
             .join(t.variants, t.variants.c.id == t.listings.c.variant_id)
             .where(t.price_changes.c.status == "pending").order_by(t.price_changes.c.id).limit(limit))
        if store_id is not None:
            q = q.where(t.price_changes.c.store_id == store_id)
        if ids is not None:
            q = q.where(t.price_changes.c.id.in_(ids))
        return [(c, store, sku) for c, store, sku in self.session.execute(q).all()]
