"""Reconciliation results, disputes and payables: rows written once by key (a repeat is a no-op), read by
grouped queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.orm import Session

from . import tables as t

# Outcomes that mean "this line (or this order's charge) was billed": a second billing of it is a duplicate.
BILLED = ("matched", "price_mismatch", "over_billed", "not_shipped", "charge_mismatch")
# Lines the invoice accuracy counts (clean ones are `matched`).
CHECKED = ("matched", "price_mismatch", "over_billed", "not_shipped", "charge_mismatch", "duplicate", "unmatched")


def _row(r) -> dict:
    return dict(r._mapping)


class ReconciliationRepo:
    def __init__(self, session: Session):
        self.session = session

    def add_results(self, rows: list[dict]) -> int:
        """Insert results whose key is new; the number inserted."""
        if not rows:
            return 0
        keys = [r["key"] for r in rows]
        have = set(self.session.scalars(select(t.invoice_results.c.key).where(t.invoice_results.c.key.in_(keys))))
        fresh = [r for r in rows if r["key"] not in have]
        if fresh:
            self.session.execute(insert(t.invoice_results), fresh)
        return len(fresh)

    def billed(self, supplier_order_ids: list[int]) -> set[tuple[str, int]]:
        """("item", order line id) and ("shipping"|"fee", supplier order id) already billed on these orders."""
        if not supplier_order_ids:
            return set()
        r = t.invoice_results.c
        out: set[tuple[str, int]] = set()
        for kind, so_id, line_id in self.session.execute(
                select(r.kind, r.supplier_order_id, r.order_line_id)
                .where(r.supplier_order_id.in_(supplier_order_ids), r.outcome.in_(BILLED))):
            out.add(("item", line_id) if kind == "item" else (kind, so_id))
        return out

    def for_invoice(self, invoice_id: int) -> list[dict]:
        r = t.invoice_results
        return [_row(x) for x in self.session.execute(select(r).where(r.c.invoice_id == invoice_id)
                                                      .order_by(r.c.line_no, r.c.id))]

    def unbilled_keys(self, supplier_id: int) -> set[str]:
        r = t.invoice_results.c
        return set(self.session.scalars(select(r.key).where(r.supplier_id == supplier_id, r.outcome == "not_billed")))

    def shipped_before(self, supplier_id: int, cutoff: datetime, limit: int = 5000) -> list[int]:
        """Supplier orders of this supplier whose first shipment was recorded before `cutoff` and that have a
        line neither billed nor already flagged as never billed."""
        so, sh, sol, r = t.supplier_orders, t.shipments, t.supplier_order_lines, t.invoice_results
        settled = select(r.c.id).where(r.c.supplier_order_id == so.c.id, r.c.order_line_id == sol.c.order_line_id,
                                       r.c.outcome.in_((*BILLED, "not_billed"))).exists()
        open_line = select(sol.c.id).where(sol.c.supplier_order_id == so.c.id, ~settled).exists()
        first = func.min(sh.c.created_at)
        q = (select(so.c.id).join(sh, sh.c.supplier_order_id == so.c.id)
             .where(so.c.supplier_id == supplier_id, open_line).group_by(so.c.id).having(first < cutoff)
             .order_by(so.c.id).limit(limit))
        return list(self.session.scalars(q))

    def disputes(self, *, supplier_id: int | None = None, status: str | None = None,
                 limit: int = 500) -> list[dict]:
        r, s, i = t.invoice_results, t.suppliers, t.supplier_invoices
        q = (select(r, s.c.name.label("supplier"), i.c.number.label("invoice"))
             .join(s, s.c.id == r.c.supplier_id).outerjoin(i, i.c.id == r.c.invoice_id)
             .where(r.c.dispute.is_not(None)).order_by(r.c.id).limit(limit))
        if supplier_id is not None:
            q = q.where(r.c.supplier_id == supplier_id)
        if status:
            q = q.where(r.c.dispute == status)
        return [_row(x) for x in self.session.execute(q)]

    def dispute(self, result_id: int, lock: bool = False) -> dict | None:
        q = select(t.invoice_results).where(t.invoice_results.c.id == result_id)
        if lock:
            q = q.with_for_update()
        row = self.session.execute(q).first()
        return _row(row) if row else None

    def set_dispute(self, result_id: int, status: str, note: str | None, by: str, now: datetime) -> None:
        self.session.execute(update(t.invoice_results).where(t.invoice_results.c.id == result_id).values(
            dispute=status, dispute_note=note, dispute_by=by, dispute_updated_at=now))

    def totals(self, supplier_id: int | None = None) -> list[tuple]:
        """(supplier, month, outcome, dispute, currency, lines, billed, expected, accepted) for every result."""
        r, s = t.invoice_results, t.suppliers
        q = (select(s.c.name, r.c.month, r.c.outcome, r.c.dispute, r.c.currency, func.count(),
                    func.sum(r.c.billed_minor), func.coalesce(func.sum(r.c.expected_minor), 0),
                    func.sum(r.c.accepted_minor))
             .join(s, s.c.id == r.c.supplier_id)
             .group_by(s.c.name, r.c.month, r.c.outcome, r.c.dispute, r.c.currency)
             .order_by(s.c.name, r.c.month, r.c.outcome, r.c.dispute))
        if supplier_id is not None:
            q = q.where(r.c.supplier_id == supplier_id)
        return [tuple(x) for x in self.session.execute(q)]

    def accuracy(self, since: datetime | None, until: datetime | None) -> dict[int, tuple[int, int]]:
        """Per supplier: (lines matched within tolerance, invoice lines checked), of results found in the range."""
        r = t.invoice_results.c
        cond = [r.outcome.in_(CHECKED)]
        if since is not None:
            cond.append(r.created_at >= since)
        if until is not None:
            cond.append(r.created_at < until)
        matched = func.sum(case((r.outcome == "matched", 1), else_=0))
        q = select(r.supplier_id, matched, func.count()).where(and_(*cond)).group_by(r.supplier_id)
        return {sid: (int(m or 0), int(n)) for sid, m, n in self.session.execute(q)}


class PayablesRepo:
    def __init__(self, session: Session):
        self.session = session

    def add(self, row: dict) -> bool:
        """Insert a payable unless its key exists; whether it was inserted."""
        p = t.payables
        if self.session.scalar(select(p.c.id).where(p.c.key == row["key"])) is not None:
            return False
        self.session.execute(insert(p), [row])
        return True

    def listing(self, *, supplier_id: int | None = None, due_before: str | None = None,
                statuses: tuple[str, ...] = ("open",), lock: bool = False, batch_id: int | None = None) -> list[dict]:
        p, s = t.payables, t.suppliers
        q = (select(p, s.c.name.label("supplier")).join(s, s.c.id == p.c.supplier_id)
             .order_by(p.c.due_on, p.c.id))
        if statuses:
            q = q.where(p.c.status.in_(statuses))
        if supplier_id is not None:
            q = q.where(p.c.supplier_id == supplier_id)
        if due_before:
            q = q.where(p.c.due_on <= due_before)
        if batch_id is not None:
            q = q.where(p.c.batch_id == batch_id)
        if lock:
            q = q.with_for_update(of=p)
        return [_row(x) for x in self.session.execute(q)]

    def for_supplier_order(self, supplier_order_id: int) -> list[dict]:
        p = t.payables
        return [_row(x) for x in self.session.execute(select(p).where(p.c.supplier_order_id == supplier_order_id)
                                                      .order_by(p.c.id))]

    def new_batch(self, **values) -> int:
        b = t.payment_batches
        return self.session.execute(insert(b).returning(b.c.id), values).scalar_one()

    def batch(self, batch_id: int, lock: bool = False) -> dict | None:
        q = select(t.payment_batches).where(t.payment_batches.c.id == batch_id)
        if lock:
            q = q.with_for_update()
        row = self.session.execute(q).first()
        return _row(row) if row else None

    def set_status(self, ids: list[int], **values) -> int:
        if not ids:
            return 0
        return self.session.execute(update(t.payables).where(t.payables.c.id.in_(ids)).values(**values)).rowcount

    def set_batch(self, batch_id: int, **values) -> None:
        self.session.execute(update(t.payment_batches).where(t.payment_batches.c.id == batch_id).values(**values))

    def balance(self, supplier_id: int) -> list[tuple[str, str, int]]:
        """(status, currency, sum) of this supplier's payables."""
        p = t.payables.c
        return [tuple(x) for x in self.session.execute(
            select(p.status, p.currency, func.sum(p.amount_minor)).where(p.supplier_id == supplier_id)
            .group_by(p.status, p.currency).order_by(p.status, p.currency))]
