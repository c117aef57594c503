"""Payables: what we owe each supplier, and paying it.

A supplier is owed, in its billing currency:
- at placement, when it is paid up front (`pay_at_placement`): the order's goods, shipping and fees as
  ordered, due at once;
- from each reconciled invoice: what we accept of it (clean lines as billed, disputed lines at what we
  expected, nothing for lines we cannot match, duplicates, or goods never shipped), due after the supplier's
  `payment_terms_days` (net days, default 30) from the invoice date. For a supplier paid up front, the
  invoice also settles what was owed at placement for the orders it bills (a `settle` row of the opposite
  sign), so only the difference remains;
- when a dispute is written off: the difference we had held back.

Rows are written once by key and never edited but for their payment status (open, batched, paid).
- for a supplier that charges a balance we keep with it (`charges_balance`), each order's charge: paid when
  the order was accepted, open while it waits for payment there (paid when the supplier reports it paid).

`payables batch` gathers what is due into a payment batch (CSV, and SEPA credit transfer XML for suppliers
with an IBAN; balance charges are paid in the supplier's account, never batched), `payables mark-paid`
records the payment."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dropbridge.domain.errors import Conflict, NotFound, ValidationError
from dropbridge.domain.model import Supplier
from dropbridge.domain.money import Money

from .records import audit

DEFAULT_TERMS_DAYS = 30


def _terms(supplier) -> int:
    return int((supplier.config or {}).get("payment_terms_days", DEFAULT_TERMS_DAYS))


def _row(ctx, supplier_id: int, key: str, source: str, amount: Money, due: date, memo: str, *, invoice_id=None,
         supplier_order_id=None) -> dict:
    return {"key": key[:200], "supplier_id": supplier_id, "source": source, "invoice_id": invoice_id,
            "supplier_order_id": supplier_order_id, "amount_minor": amount.amount, "currency": amount.currency,
            "due_on": due.isoformat(), "status": "open", "batch_id": None, "memo": memo[:500],
            "created_at": ctx.clock()}


def placement_cost(so, supplier) -> Money:
    """What a supplier order costs at the supplier as ordered: goods, shipping and order fee (both in
    `shipping_cost_minor`), handling per unit."""
    cur = so.currency
    total = Money(so.shipping_cost_minor, cur)
    for sl in so.lines:
        if sl.currency != cur:
            raise ValidationError(f"{so.idempotency_key}: goods in {sl.currency}, shipping in {cur}", "currency")
        total = total + Money(sl.unit_cost_minor, cur) * sl.quantity
    handling = (supplier.config or {}).get("handling_fee_per_unit")
    if handling:
        total = total + Money.parse(str(handling), cur) * sum(sl.quantity for sl in so.lines)
    return total


def owe_at_placement(uow, ctx, supplier, so) -> bool:
    """A supplier paid up front is owed the order once it is placed. A supplier that charges a balance we keep
    with it (`charges_balance`: CJ, AliExpress, Printful) records the charge: paid when the order was accepted
    (taken from the balance), open while the supplier waits for payment (the merchant is alerted)."""
    cfg = supplier.config or {}
    if cfg.get("charges_balance"):
        amount = placement_cost(so, supplier)
        if so.stated_cost_minor is not None and so.stated_currency == so.currency:
            amount = Money(so.stated_cost_minor + (so.stated_shipping_minor or 0), so.currency)
        paid = so.placement == "accepted"
        row = _row(ctx, supplier.id, f"balance:{so.id}", "balance", amount, ctx.clock().date(),
                   f"{so.idempotency_key}: " + ("charged to the balance" if paid else "waiting for payment"),
                   supplier_order_id=so.id)
        if paid:
            row.update(status="paid", paid_at=ctx.clock(), paid_reference="balance")
        return uow.payables.add(row)
    if not cfg.get("pay_at_placement"):
        return False
    amount = placement_cost(so, supplier)
    return uow.payables.add(_row(ctx, supplier.id, f"placement:{so.id}", "placement", amount, ctx.clock().date(),
                                 f"{so.idempotency_key}: paid up front", supplier_order_id=so.id))


def balance_charged(uow, so, now) -> int:
    """The supplier reports an order that waited for payment as paid: its balance charge is paid."""
    ids = [p["id"] for p in uow.payables.for_supplier_order(so.id) if p["source"] == "balance"
           and p["status"] == "open"]
    return uow.payables.set_status(ids, status="paid", paid_at=now, paid_reference="balance")


def release_placement(uow, so, now, why: str, only_lines: set[int] | None = None) -> None:
    """A supplier order paid up front that will not be supplied (refused, cancelled, re-routed), whole or some
    of its lines: what was owed at placement for it is taken back (the supplier owes it to us, or it is never
    paid)."""
    placed = [p for p in uow.payables.for_supplier_order(so.id) if p["source"] in ("placement", "balance")]
    if not placed:
        return
    p = placed[0]
    if only_lines is None:
        amount, key = -sum(x["amount_minor"] for x in placed), f"release:{so.id}"
    else:
        lines = [sl for sl in so.lines if sl.order_line_id in only_lines and sl.currency == p["currency"]]
        amount = -sum(sl.unit_cost_minor * sl.quantity for sl in lines)
        key = f"release:{so.id}:" + ",".join(str(sl.order_line_id) for sl in lines)
    if amount:
        # Taken from a balance already: credited back to it (paid); otherwise it nets against what is open.
        credited = p["source"] == "balance" and p["status"] == "paid"
        uow.payables.add({"key": key[:200], "supplier_id": so.supplier_id, "source": p["source"], "invoice_id": None,
                          "supplier_order_id": so.id, "amount_minor": amount, "currency": p["currency"],
                          "due_on": now.date().isoformat(), "status": "paid" if credited else "open",
                          "batch_id": None, "paid_at": now if credited else None,
                          "paid_reference": "balance" if credited else None,
                          "memo": f"{so.idempotency_key}: {why}: not owed after all"[:500], "created_at": now})


def owe_invoice(uow, ctx, supplier, invoice, results: list[dict]) -> None:
    """What we accept of a reconciled invoice, due after the supplier's terms; for a supplier paid up front,
    minus what was owed at placement for the orders it bills."""
    issued = (invoice.issued_at or invoice.received_at or ctx.clock()).date()
    due = issued + timedelta(days=_terms(supplier))
    accepted = Money(sum(r["accepted_minor"] for r in results), invoice.currency)
    if accepted.amount:
        uow.payables.add(_row(ctx, supplier.id, f"invoice:{invoice.id}", "invoice", accepted, due,
                              f"invoice {invoice.number}", invoice_id=invoice.id))
    if not (supplier.config or {}).get("pay_at_placement"):
        return
    for so_id in sorted({r["supplier_order_id"] for r in results if r["supplier_order_id"] and r["outcome"] in
                         ("matched", "price_mismatch", "over_billed", "charge_mismatch")}):
        for p in uow.payables.for_supplier_order(so_id):
            if p["source"] == "placement" and p["currency"] == invoice.currency:
                uow.payables.add(_row(ctx, supplier.id, f"settle:{so_id}", "invoice",
                                      Money(-p["amount_minor"], p["currency"]), due,
                                      f"invoice {invoice.number} bills what was owed at placement ({p['memo']})",
                                      invoice_id=invoice.id, supplier_order_id=so_id))


def owe_written_off(uow, ctx, result: dict) -> None:
    """A dispute given up: the part of the line we held back is owed after all."""
    held = result["billed_minor"] - result["accepted_minor"]
    if held <= 0:
        return
    days = _terms(uow.get(Supplier, result["supplier_id"]))
    uow.payables.add(_row(ctx, result["supplier_id"], f"dispute:{result['id']}", "dispute",
                          Money(held, result["currency"]), ctx.clock().date() + timedelta(days=days),
                          f"dispute {result['id']} written off: {result['detail']}",
                          invoice_id=result["invoice_id"], supplier_order_id=result["supplier_order_id"]))


# ---- reading and paying ----------------------------------------------------------------------------------


def _view(p: dict[str, Any]) -> dict:
    return {"id": p["id"], "supplier": p["supplier"], "source": p["source"], "key": p["key"],
            "amount": str(Money(p["amount_minor"], p["currency"]).to_decimal()), "currency": p["currency"],
            "due": p["due_on"], "status": p["status"], "batch": p["batch_id"], "memo": p["memo"]}


def list_payables(ctx, supplier: str | None = None, due_before: date | None = None,
                  status: str = "open") -> list[dict]:
    statuses = ("open", "batched", "paid") if status == "all" else (status,)
    if status != "all" and status not in ("open", "batched", "paid"):
        raise ValidationError(f"status {status!r} is not open, batched, paid or all", "status")
    with ctx.uow(read_only=True) as uow:
        sid = _supplier_id(uow, supplier)
        rows = uow.payables.listing(supplier_id=sid, due_before=due_before.isoformat() if due_before else None,
                                    statuses=statuses)
    return [_view(p) for p in rows]


@dataclass(frozen=True)
class Payee:
    name: str
    iban: str | None
    bic: str | None


@dataclass
class Batch:
    id: int
    currency: str
    total: Money
    payments: list[dict]  # per supplier: supplier, payee, amount (Money), payables (ids), reference


def create_batch(ctx, supplier: str | None = None, due_before: date | None = None) -> list[Batch]:
    """Gather the open payables due by `due_before` (default: today) into one batch per currency: per supplier
    one payment of their sum (credits net against debts; a supplier whose sum is not positive waits)."""
    due = (due_before or ctx.clock().date()).isoformat()
    out: list[Batch] = []
    with ctx.uow() as uow:
        sid = _supplier_id(uow, supplier)
        rows = uow.payables.listing(supplier_id=sid, due_before=due, statuses=("open",), lock=True)
        suppliers = {s.id: s for s in uow.suppliers.all()}
        by_cur: dict[str, dict[int, list[dict]]] = {}
        for p in rows:
            if p["source"] != "balance":  # paid in the supplier's own account, not by transfer
                by_cur.setdefault(p["currency"], {}).setdefault(p["supplier_id"], []).append(p)
        now = ctx.clock()
        for cur, per in sorted(by_cur.items()):
            payments = []
            for s_id, items in sorted(per.items()):
                amount = sum(p["amount_minor"] for p in items)
                if amount <= 0:
                    continue
                s = suppliers[s_id]
                cfg = s.config or {}
                payments.append({"supplier": s.name, "supplier_id": s_id,
                                 "payee": Payee(cfg.get("account_name") or s.name, cfg.get("iban"), cfg.get("bic")),
                                 "amount": Money(amount, cur), "payables": [p["id"] for p in items],
                                 "reference": _reference(items)})
            if not payments:
                continue
            total = Money(sum(p["amount"].amount for p in payments), cur)
            batch_id = uow.payables.new_batch(currency=cur, total_minor=total.amount, payables=sum(
                len(p["payables"]) for p in payments), status="exported", created_by=ctx.actor, created_at=now)
            for p in payments:
                uow.payables.set_status(p["payables"], status="batched", batch_id=batch_id)
            audit(uow, ctx, "payables.batched", f"payment_batch:{batch_id}",
                  {"currency": cur, "total": str(total), "suppliers": [p["supplier"] for p in payments]})
            out.append(Batch(batch_id, cur, total, payments))
        uow.commit()
    return out


def _reference(items: list[dict]) -> str:
    invoices = sorted({p["memo"].removeprefix("invoice ").split(" ")[0] for p in items if p["source"] == "invoice"
                       and p["memo"].startswith("invoice ")})
    ref = ("Invoices " + ", ".join(invoices)) if invoices else f"dropbridge payables {items[0]['id']}"
    return ref[:140]


def batch_csv(batch: Batch) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["batch", "supplier", "payee", "iban", "bic", "amount", "currency", "reference", "payables"])
    for p in batch.payments:
        w.writerow([batch.id, p["supplier"], p["payee"].name, p["payee"].iban or "", p["payee"].bic or "",
                    str(p["amount"].to_decimal()), batch.currency, p["reference"],
                    " ".join(str(i) for i in p["payables"])])
    return out.getvalue()


def mark_paid(ctx, batch_id: int | None = None, payable_ids: list[int] | None = None,
              reference: str | None = None) -> int:
    """Record a batch (or single payables) as paid; how many payables changed. Paying twice is refused."""
    if (batch_id is None) == (not payable_ids):
        raise ValidationError("name a batch or payable ids (one of them)", "batch")
    now = ctx.clock()
    with ctx.uow() as uow:
        if batch_id is not None:
            batch = uow.payables.batch(batch_id, lock=True)
            if batch is None:
                raise NotFound(f"no payment batch {batch_id}")
            if batch["status"] == "paid":
                raise Conflict(f"payment batch {batch_id} is paid already")
            rows = uow.payables.listing(batch_id=batch_id, statuses=("batched",), lock=True)
            uow.payables.set_batch(batch_id, status="paid", paid_at=now)
        else:
            rows = [p for p in uow.payables.listing(statuses=("open", "batched", "paid"), lock=True)
                    if p["id"] in set(payable_ids or [])]
            missing = set(payable_ids or []) - {p["id"] for p in rows}
            if missing:
                raise NotFound(f"no payable {', '.join(map(str, sorted(missing)))}")
            paid = [p["id"] for p in rows if p["status"] == "paid"]
            if paid:
                raise Conflict(f"payable {', '.join(map(str, paid))} is paid already")
        ids = [p["id"] for p in rows]
        changed = uow.payables.set_status(ids, status="paid", paid_at=now, paid_reference=(reference or "")[:200]
                                          or None)
        audit(uow, ctx, "payables.paid", f"payment_batch:{batch_id}" if batch_id else "payables",
              {"payables": ids, "reference": reference})
        uow.commit()
    return changed


def supplier_balance(ctx, supplier: str) -> dict[str, dict[str, str]]:
    """{status: {currency: amount}} of one supplier's payables."""
    with ctx.uow(read_only=True) as uow:
        sid = _supplier_id(uow, supplier)
        rows = uow.payables.balance(sid)
    out: dict[str, dict[str, str]] = {}
    for status, cur, total in rows:
        out.setdefault(status, {})[cur] = str(Money(int(total), cur).to_decimal())
    return out


def _supplier_id(uow, name: str | None) -> int | None:
    if not name:
        return None
    s = uow.suppliers.by_name(name)
    if s is None:
        raise NotFound(f"no supplier named {name!r}")
    return s.id


def sepa_amount(money: Money) -> int:
    """Euro cents for the SEPA writer."""
    if money.currency != "EUR":
        raise ValidationError(f"SEPA credit transfers are in EUR, not {money.currency}", "currency")
    return money.amount

