"""Vendor performance, read set-based: each figure is one grouped query over supplier orders placed in a date
range (percentiles by window functions), so the report reads a handful of rows per supplier however many
orders there are. Durations are whole seconds, computed by the database the same way on SQLite and
PostgreSQL. Also the two records the report counts from: refused lines and reported defects."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Integer, and_, case, cast, func, insert, literal, or_, select
from sqlalchemy.orm import Session

from . import tables as t
from .types import UTCDateTime

# A supplier order the supplier took: shipped, or held by it (not waiting for its acknowledgement or for a
# person to place it by hand). Cancelled later by the merchant still counts as taken.
_SHIPPED = ("partially_shipped", "shipped", "delivered")
_HELD = ("submitted", "cancelled")
_TAKEN_PLACEMENTS = ("accepted", "awaiting_payment")

# Lead-time ranks change only when a shipment is recorded, and every view of an order asks for them: they are
# kept per (database, range, newest shipment id), a few hundred answers at most.
_LEAD_CACHE: OrderedDict[tuple, dict[int, dict[int, int]]] = OrderedDict()
_LEAD_CACHE_SIZE = 256
_LEAD_LOCK = threading.Lock()


class VendorRepo:
    def __init__(self, session: Session):
        self.session = session

    @property
    def sqlite(self) -> bool:
        return self.session.get_bind().dialect.name == "sqlite"

    # -- records ---------------------------------------------------------------------------------------------
    def add_refusals(self, rows: list[dict]) -> None:
        """rows: supplier_order_id, supplier_id, order_line_id, supplier_sku, quantity, reason, created_at."""
        if rows:
            self.session.execute(insert(t.supplier_line_refusals), rows)

    def add_defect(self, **values) -> int:
        return self.session.execute(insert(t.shipment_defects).returning(t.shipment_defects.c.id), values).scalar_one()

    def latest_shipment(self, order_id: int, supplier_id: int) -> int | None:
        """The newest shipment of this supplier on this order."""
        so, sh = t.supplier_orders, t.shipments
        return self.session.execute(
            select(sh.c.id).join(so, so.c.id == sh.c.supplier_order_id)
            .where(so.c.order_id == order_id, so.c.supplier_id == supplier_id)
            .order_by(sh.c.created_at.desc(), sh.c.id.desc()).limit(1)).scalar_one_or_none()

    # -- figures ---------------------------------------------------------------------------------------------
    def _seconds(self, start, end):
        """Whole seconds from `start` to `end` (never below zero: a ship date given as a day may precede the
        submission time)."""
        if self.sqlite:
            raw = cast(func.round((func.julianday(end) - func.julianday(start)) * 86400), Integer)
        else:
            raw = cast(func.round(func.date_part("epoch", end - start)), Integer)
        return case((raw < 0, 0), else_=raw)

    def _placed(self, since: datetime | None, until: datetime | None):
        """Supplier orders placed in the range: every one sent (or refused when sent), not those still waiting
        to be sent nor those cancelled before they were."""
        so = t.supplier_orders
        cond = [so.c.status != "pending", or_(so.c.status != "cancelled", so.c.submitted_at.is_not(None))]
        if since is not None:
            cond.append(so.c.created_at >= since)
        if until is not None:
            cond.append(so.c.created_at < until)
        return and_(*cond)

    def order_figures(self, since: datetime | None, until: datetime | None, lead_seconds: dict[int, int],
                      now: datetime) -> dict[int, dict]:
        """Per supplier id: placed, refused_orders, lines_accepted, lines_refused, lines_failed, on_time, late,
        shipped. `lead_seconds`: each supplier's promised lead time; late also counts orders taken and not
        shipped once that time has passed."""
        if not lead_seconds:
            return {}
        so, sol, ref, sh = t.supplier_orders, t.supplier_order_lines, t.supplier_line_refusals, t.shipments
        lines = select(sol.c.supplier_order_id, func.count().label("n")).group_by(sol.c.supplier_order_id).subquery()
        refused = select(ref.c.supplier_order_id, func.count().label("n")).group_by(ref.c.supplier_order_id) \
            .subquery()
        first = select(sh.c.supplier_order_id, func.min(func.coalesce(sh.c.shipped_at, sh.c.created_at))
                       .label("at")).group_by(sh.c.supplier_order_id).subquery()
        start = func.coalesce(so.c.submitted_at, so.c.created_at)
        lead = case(*((so.c.supplier_id == sid, secs) for sid, secs in lead_seconds.items()), else_=None)
        per = (select(so.c.supplier_id, so.c.status,
                      func.coalesce(lines.c.n, 0).label("lines"), func.coalesce(refused.c.n, 0).label("refused"),
                      case((so.c.status.in_(_SHIPPED), True),
                           (and_(so.c.status.in_(_HELD), so.c.submitted_at.is_not(None),
                                 so.c.placement.in_(_TAKEN_PLACEMENTS)), True), else_=False).label("taken"),
                      case((first.c.at.is_(None), None), else_=self._seconds(start, first.c.at)).label("took"),
                      self._seconds(start, literal(now, UTCDateTime)).label("waited"),
                      lead.label("lead"))
               .select_from(so).outerjoin(lines, lines.c.supplier_order_id == so.c.id)
               .outerjoin(refused, refused.c.supplier_order_id == so.c.id)
               .outerjoin(first, first.c.supplier_order_id == so.c.id)
               .where(self._placed(since, until))).subquery()

        def total(cond, value=1):
            return func.coalesce(func.sum(case((cond, value), else_=0)), 0)

        rejected = per.c.status == "rejected"
        q = select(per.c.supplier_id, func.count(),
                   total(or_(rejected, per.c.refused > 0)),
                   total(per.c.taken, per.c.lines),
                   func.coalesce(func.sum(case((rejected, per.c.lines), else_=per.c.refused)), 0),
                   total(per.c.status == "failed", per.c.lines),
                   total(and_(per.c.taken, per.c.took <= per.c.lead)),
                   total(and_(per.c.taken, or_(per.c.took > per.c.lead,
                                               and_(per.c.took.is_(None), per.c.status != "cancelled",
                                                    per.c.waited > per.c.lead)))),
                   total(per.c.took.is_not(None))).group_by(per.c.supplier_id)
        names = ("placed", "refused_orders", "lines_accepted", "lines_refused", "lines_failed", "on_time", "late",
                 "shipped")
        return {row[0]: dict(zip(names, map(int, row[1:]), strict=True)) for row in self.session.execute(q).all()}

    def _ranks(self, durations) -> dict[int, dict[int, int]]:
        """{supplier id: {rank: seconds}} for the ranks a median and a 90th percentile (nearest rank) need,
        plus {0: count}."""
        d = durations.subquery()
        ranked = select(d.c.supplier_id, d.c.secs,
                        func.row_number().over(partition_by=d.c.supplier_id, order_by=d.c.secs).label("rn"),
                        func.count().over(partition_by=d.c.supplier_id).label("n")).subquery()
        q = select(ranked.c.supplier_id, ranked.c.rn, ranked.c.n, ranked.c.secs).where(
            or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2,
                ranked.c.rn == (ranked.c.n * 9 + 9) // 10))
        out: dict[int, dict[int, int]] = {}
        for sid, rn, n, secs in self.session.execute(q).all():
            out.setdefault(sid, {0: int(n)})[int(rn)] = int(secs)
        return out

    def lead_time_ranks(self, since: datetime | None, until: datetime | None,
                        supplier_ids: Collection[int] | None = None) -> dict[int, dict[int, int]]:
        """Seconds from submission to the first shipment of each shipped supplier order placed in the range
        (of the given suppliers only, where given)."""
        so, sh = t.supplier_orders, t.shipments
        wanted = set(supplier_ids) if supplier_ids is not None else None

        def pick(ranks: dict[int, dict[int, int]]) -> dict[int, dict[int, int]]:
            return {sid: dict(r) for sid, r in ranks.items() if wanted is None or sid in wanted}

        newest = self.session.execute(select(func.max(sh.c.id))).scalar()
        key = (str(self.session.get_bind().url), since, until, newest)
        with _LEAD_LOCK:
            if key in _LEAD_CACHE:
                _LEAD_CACHE.move_to_end(key)
                return pick(_LEAD_CACHE[key])
        # Grouped per supplier order after the range is applied: grouping every shipment ever made first
        # cost an order's page 150 ms at 100,000 orders.
        placed = func.coalesce(so.c.submitted_at, so.c.created_at)
        q = (select(so.c.supplier_id, self._seconds(placed, func.min(func.coalesce(sh.c.shipped_at, sh.c.created_at)))
                    .label("secs"))
             .join(sh, sh.c.supplier_order_id == so.c.id).where(self._placed(since, until))
             .group_by(so.c.id, so.c.supplier_id, so.c.submitted_at, so.c.created_at))
        ranks = self._ranks(q)  # every supplier's: the next page asks for another one
        with _LEAD_LOCK:
            _LEAD_CACHE[key] = ranks
            while len(_LEAD_CACHE) > _LEAD_CACHE_SIZE:
                _LEAD_CACHE.popitem(last=False)
        return pick(ranks)

    def tracking_ranks(self, since: datetime | None, until: datetime | None) -> dict[int, dict[int, int]]:
        """Seconds from each shipment's arrival here to its fulfillment reaching the store (shipments of
        supplier orders placed in the range, pushed to the store)."""
        so, sh = t.supplier_orders, t.shipments
        return self._ranks(
            select(so.c.supplier_id, self._seconds(sh.c.created_at, sh.c.pushed_at).label("secs"))
            .join(sh, sh.c.supplier_order_id == so.c.id)
            .where(self._placed(since, until), sh.c.pushed_at.is_not(None)))

    def cost_variance(self, since: datetime | None, until: datetime | None) -> list[tuple[int, str, int, int]]:
        """(supplier id, currency, sum of amounts, entries) of `cost_variance` ledger entries dated in the range."""
        e = t.ledger_entries
        q = select(e.c.supplier_id, e.c.currency, func.sum(e.c.amount_minor), func.count()).where(
            e.c.kind == "cost_variance", e.c.supplier_id.is_not(None))
        if since is not None:
            q = q.where(e.c.created_at >= since)
        if until is not None:
            q = q.where(e.c.created_at < until)
        return [(sid, cur, int(total or 0), int(n)) for sid, cur, total, n in
                self.session.execute(q.group_by(e.c.supplier_id, e.c.currency)).all()]

    def defects(self, since: datetime | None, until: datetime | None) -> dict[int, int]:
        """Per supplier: shipments reported defective in the range (a shipment reported twice counts once)."""
        d = t.shipment_defects
        q = select(d.c.supplier_id, func.count(func.distinct(d.c.shipment_id)))
        if since is not None:
            q = q.where(d.c.reported_at >= since)
        if until is not None:
            q = q.where(d.c.reported_at < until)
        return {sid: int(n) for sid, n in self.session.execute(q.group_by(d.c.supplier_id)).all()}
