"""Supplier invoice reconciliation: each invoice line matched three ways, against the supplier order (what we
ordered, at the cost recorded then), its shipments (what was shipped) and what was billed before.

One outcome per line, the first that applies:

- `unmatched`: no supplier order of this supplier by the line's reference or order id, or a SKU not on it;
- `duplicate`: the order line (or the order's shipping, or its fees) was billed already, on this invoice or
  an earlier one;
- `not_shipped`: billed, nothing of it shipped;
- `over_billed`: more units billed than shipped;
- `price_mismatch` (goods) / `charge_mismatch` (shipping, fees): beyond the supplier's tolerance
  (`invoice_tolerance` absolute, `invoice_tolerance_percent`: within either is a match);
- `matched`.

Tax and discount lines are carried (`noted`), not checked. Separately, a supplier order line shipped longer
ago than the supplier's `billing_lag_days` and never billed is `not_billed`. Every discrepancy opens a
dispute (open, then claimed, credited or written_off by a person).

Results are written once by key; an invoice is reconciled once (a re-import of the same number changes
nothing). Lines billed and matched to an order (matched, price_mismatch, over_billed up to what was
ordered, charges) replace the estimate in the ledger: a correcting `cost_variance` entry for the difference
(the estimate's entries stay: the ledger is append-only), and an `fx_difference` entry where the supplier
bills in a currency converted at a rate other than the order's stored one (the newest imported rate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from dropbridge.domain.errors import Conflict, NotFound, ValidationError
from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.model import LedgerEntry, Order, Supplier, SupplierInvoice, SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.domain.routing import convert

from .cost_variance import belongs_to
from .fx import rate_table
from .payables import owe_invoice
from .ports import Capability
from .ports import SupplierInvoice as InvoiceFact
from .records import audit, log, schedule

DISCREPANCIES = ("unmatched", "duplicate", "not_shipped", "over_billed", "price_mismatch", "charge_mismatch",
                 "not_billed")
DISPUTE_STATUSES = ("open", "claimed", "credited", "written_off")
CHARGE_KINDS = {"shipping": EntryKind.SUPPLIER_SHIPPING, "fee": EntryKind.SUPPLIER_FEE}
DEFAULT_BILLING_LAG_DAYS = 30
DEFAULT_WAIT_HOURS = 24


@dataclass(frozen=True)
class Tolerance:
    absolute: Decimal  # in the supplier's currency units
    percent: Decimal

    def within(self, billed: Money, expected: Money) -> bool:
        diff = abs(billed.amount - expected.amount)
        if diff == 0:
            return True
        return (Money.from_decimal_rounded(self.absolute, billed.currency).amount >= diff
                or abs(expected.amount) * self.percent / 100 >= diff)


def tolerance_of(supplier) -> Tolerance:
    cfg = supplier.config or {}
    return Tolerance(Decimal(str(cfg.get("invoice_tolerance") or "0")),
                     Decimal(str(cfg.get("invoice_tolerance_percent") or "0")))


def store_invoice(uow, ctx, supplier_id: int, invoice: InvoiceFact, source: str) -> tuple[SupplierInvoice, bool]:
    """The stored invoice of this number, and whether it was stored now (a repeat keeps the first)."""
    stored = uow.invoices.by_number(supplier_id, invoice.number)
    if stored is not None:
        return stored, False
    stored = uow.add(SupplierInvoice(
        supplier_id=supplier_id, number=invoice.number, currency=invoice.currency,
        total_minor=invoice.total.amount if invoice.total else None, issued_at=invoice.issued_at,
        source=source[:100], received_at=ctx.clock(),
        lines=[{"supplier_sku": ln.supplier_sku, "quantity": ln.quantity, "unit_price_minor": ln.unit_price.amount,
                "currency": ln.unit_price.currency, "reference": ln.reference,
                "external_order_id": ln.external_order_id, "kind": ln.kind, "description": ln.description}
               for ln in invoice.lines]))
    uow.flush()
    audit(uow, ctx, "invoice.received", f"invoice:{invoice.number}", {"lines": len(invoice.lines),
                                                                       "source": source[:100]},
          supplier_id=supplier_id)
    return stored, True


def import_invoice(ctx, supplier_name: str, invoice: InvoiceFact, source: str) -> dict:
    """Store (once) and reconcile (once) an invoice from a file or the API; the reconciliation's summary."""
    check_invoice(invoice)
    with ctx.uow() as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        stored, new = store_invoice(uow, ctx, supplier.id, invoice, source)
        if not new:  # stored before: perhaps being reconciled by its job right now; one of us waits
            stored = uow.get_for_update(SupplierInvoice, stored.id)
        summary = reconcile_with(uow, ctx, supplier, stored)
        summary["stored"] = new
        summary["unbilled"] = _check_unbilled(uow, ctx, supplier)
        uow.commit()
    return summary


def import_invoice_file(ctx, supplier_name: str, data: bytes, name: str, reader) -> list[dict]:
    """Every invoice of a file, imported and reconciled; `reader(data, name, currency=, columns=)` is the file
    format's reader (connectors/invoice_files.py), given the supplier's currency and `invoice_columns`."""
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        cfg = dict(supplier.config or {})
    invoices = reader(data, name, currency=cfg.get("currency") or "USD", columns=cfg.get("invoice_columns") or {})
    for invoice in invoices:
        check_invoice(invoice)
    return [import_invoice(ctx, supplier_name, invoice, f"file {name}"[:100]) for invoice in invoices]


def reconcile_stored(ctx, supplier_id: int, invoice_id: int, round_: int = 0) -> str:
    """Reconcile an invoice that arrived by itself (EDI 810, a supplier's API). An invoice often travels with
    the shipment notice it bills (an 810 beside its 856): while a billed order has no shipment recorded yet,
    and the invoice is younger than the supplier's `invoice_wait_hours` (default 24), it is looked at again
    later (5 s, then doubling up to an hour) rather than flagged as billed but never shipped."""
    with ctx.uow() as uow:
        invoice = uow.get_for_update(SupplierInvoice, invoice_id)
        if invoice is None:
            raise NotFound(f"no invoice {invoice_id}")
        if invoice.reconciled_at is not None:
            return f"invoice {invoice.number} already reconciled"
        supplier = uow.get(Supplier, supplier_id)
        wait = timedelta(hours=float((supplier.config or {}).get("invoice_wait_hours", DEFAULT_WAIT_HOURS)))
        now = ctx.clock()
        if now - (invoice.received_at or now) < wait and _awaits_shipment(uow, supplier, invoice):
            schedule(uow, ctx, "reconcile_invoice", f"reconcile:{invoice_id}:{round_ + 1}",
                     {"supplier_id": supplier_id, "invoice_id": invoice_id, "round": round_ + 1},
                     delay=min(5 * 2 ** round_, 3600))
            uow.commit()
            return f"invoice {invoice.number}: waiting for its shipments"
        summary = reconcile_with(uow, ctx, supplier, invoice)
        _check_unbilled(uow, ctx, supplier)
        uow.commit()
    return f"invoice {invoice.number} reconciled: " + ", ".join(f"{n} {k}" for k, n in summary["outcomes"].items())


def fetch_supplier_invoice(ctx, supplier_order_id: int) -> str:
    """Ask a supplier whose API states what it bills (Capability.INVOICES) for a shipped order's invoice, and
    store it for reconciliation. Nothing yet (not charged, costs still computing): said, not retried; a failure
    to ask is logged, never an alert (the invoice can still come as a file)."""
    from .supplier_replies import record_invoice

    with ctx.uow(read_only=True) as uow:
        so = uow.get(SupplierOrder, supplier_order_id)
        supplier = uow.get(Supplier, so.supplier_id) if so else None
    if so is None or supplier is None or not ctx.supplier_can(supplier, Capability.INVOICES):
        return "nothing to ask"
    try:
        invoice = ctx.supplier_connector(supplier, Capability.INVOICES).fetch_invoice(
            so.external_id or "", so.idempotency_key)
    except Exception as exc:  # noqa: BLE001 - the invoice may still arrive another way
        log.warning("could not fetch the supplier's invoice", supplier_order=so.idempotency_key, error=str(exc))
        return f"could not ask {supplier.name}: {exc}"[:300]
    if invoice is None:
        return f"{supplier.name} states no invoice for {so.idempotency_key} yet"
    return record_invoice(ctx, supplier.id, invoice, f"{supplier.kind} API")


def _awaits_shipment(uow, supplier, invoice: SupplierInvoice) -> bool:
    """Some item line bills a supplier order of ours with no shipment recorded yet."""
    seen: set[int] = set()
    for line in invoice.lines:
        if (line.get("kind") or "item") != "item":
            continue
        so = uow.supplier_orders.by_key(line["reference"]) if line.get("reference") else None
        if so is None and line.get("external_order_id"):
            so = uow.supplier_orders.by_external_id(supplier.id, line["external_order_id"])
        if so is None or so.supplier_id != supplier.id or so.id in seen:
            continue
        seen.add(so.id)
        if not any(sh.supplier_order_id == so.id for sh in uow.shipments.for_order(so.order_id)):
            return True
    return False


def check_unbilled(ctx, supplier_name: str) -> int:
    """Flag this supplier's lines shipped longer ago than its billing lag and never billed; how many were new."""
    with ctx.uow() as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        found = _check_unbilled(uow, ctx, supplier)
        uow.commit()
    return found


def check_invoice(invoice: InvoiceFact) -> None:
    if not invoice.number or len(invoice.number) > 100:
        raise ValidationError("an invoice needs a number of 1 to 100 characters", "number")
    if not invoice.lines:
        raise ValidationError(f"invoice {invoice.number} has no lines", "lines")
    for i, ln in enumerate(invoice.lines, 1):
        if ln.kind not in ("item", "shipping", "fee", "tax", "discount"):
            raise ValidationError(f"line {i}: kind {ln.kind!r} is not item, shipping, fee, tax or discount",
                                  f"lines.{i}.kind")
        if ln.kind == "item" and not ln.supplier_sku:
            raise ValidationError(f"line {i}: an item line needs a SKU", f"lines.{i}.sku")
        if ln.quantity < 0 or ln.quantity > 1_000_000:
            raise ValidationError(f"line {i}: quantity {ln.quantity} is out of range", f"lines.{i}.quantity")
        if ln.unit_price.currency != invoice.currency:
            raise ValidationError(f"line {i}: priced in {ln.unit_price.currency}, the invoice is in "
                                  f"{invoice.currency}", f"lines.{i}.currency")


# ---- matching ------------------------------------------------------------------------------------------------


class _Run:
    """One invoice's reconciliation: what is known of the supplier orders it names, loaded once each."""

    def __init__(self, uow, ctx, supplier, invoice: SupplierInvoice):
        self.uow, self.ctx, self.supplier, self.invoice = uow, ctx, supplier, invoice
        self.now = ctx.clock()
        self.tolerance = tolerance_of(supplier)
        self.month = (invoice.issued_at or invoice.received_at or self.now).strftime("%Y-%m")
        self.orders: dict[str, SupplierOrder | None] = {}
        self.billed: set[tuple[str, int]] = set()
        self.loaded: set[int] = set()
        self.results: list[dict] = []
        self.entries: list[LedgerEntry] = []
        self._rates: dict | None = None
        self._superseded: set[int] = set()

    def supplier_order(self, line: dict) -> SupplierOrder | None:
        name = line.get("reference") or line.get("external_order_id") or ""
        if name not in self.orders:
            so = None
            if line.get("reference"):
                so = self.uow.supplier_orders.by_key(line["reference"])
            if so is None and line.get("external_order_id"):
                so = self.uow.supplier_orders.by_external_id(self.supplier.id, line["external_order_id"])
            if so is not None and so.supplier_id != self.supplier.id:
                so = None
            self.orders[name] = so
            if so is not None and so.id not in self.loaded:
                self.loaded.add(so.id)
                self.billed |= self.uow.reconciliation.billed([so.id])
        return self.orders[name]

    def rates(self) -> dict:
        if self._rates is None:
            self._rates = rate_table(self.uow)[0]
        return self._rates

    def result(self, n: int, line: dict, outcome: str, billed: Money, *, so=None, order_line_id=None,
               expected: Money | None = None, accepted: Money | None = None, qty_expected=None, detail="") -> dict:
        row = {"key": f"inv:{self.invoice.id}:{n}", "supplier_id": self.supplier.id, "invoice_id": self.invoice.id,
               "line_no": n, "supplier_order_id": so.id if so else None, "order_line_id": order_line_id,
               "kind": line.get("kind") or "item", "outcome": outcome, "supplier_sku": line.get("supplier_sku"),
               "quantity_billed": line.get("quantity"), "quantity_expected": qty_expected,
               "currency": billed.currency, "billed_minor": billed.amount,
               "expected_minor": expected.amount if expected is not None else None,
               "accepted_minor": (accepted if accepted is not None else Money.zero(billed.currency)).amount,
               "detail": detail[:500], "month": self.month,
               "dispute": "open" if outcome in DISCREPANCIES else None, "created_at": self.now}
        self.results.append(row)
        return row


def reconcile_with(uow, ctx, supplier, invoice: SupplierInvoice) -> dict:
    """Reconcile a stored invoice inside the caller's unit of work (once: a reconciled one is only read)."""
    if invoice.reconciled_at is not None:
        return {"invoice": invoice.number, "reconciled": False, "outcomes": _counts(
            uow.reconciliation.for_invoice(invoice.id)), "results": uow.reconciliation.for_invoice(invoice.id)}
    run = _Run(uow, ctx, supplier, invoice)
    for n, line in enumerate(invoice.lines, 1):
        kind = line.get("kind") or "item"
        billed = Money(line["unit_price_minor"], line["currency"]) * int(line["quantity"])
        if kind in ("tax", "discount"):
            run.result(n, line, "noted", billed, accepted=billed, detail=f"{kind}: carried, not checked")
        elif kind == "item":
            _item(run, n, line, billed)
        else:
            _charge(run, n, line, billed)
    uow.reconciliation.add_results(run.results)
    for entry in run.entries:
        uow.add(entry)
    invoice.reconciled_at = run.now
    owe_invoice(uow, ctx, supplier, invoice, run.results)
    counts = _counts(run.results)
    audit(uow, ctx, "invoice.reconciled", f"invoice:{invoice.number}", {"outcomes": counts},
          supplier_id=supplier.id)
    return {"invoice": invoice.number, "reconciled": True, "outcomes": counts, "results": run.results}


def _counts(results: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        out[r["outcome"]] = out.get(r["outcome"], 0) + 1
    return dict(sorted(out.items()))


def _shipped(uow, so: SupplierOrder) -> dict[int, int]:
    totals: dict[int, int] = {}
    for shipment in uow.shipments.for_order(so.order_id):
        if shipment.supplier_order_id == so.id:
            for ln in shipment.lines:
                totals[ln["order_line_id"]] = totals.get(ln["order_line_id"], 0) + ln["quantity"]
    return totals


def _item(run: _Run, n: int, line: dict, billed: Money) -> None:
    so = run.supplier_order(line)
    sku, qty = line.get("supplier_sku"), int(line["quantity"])
    ref = line.get("reference") or line.get("external_order_id") or "(none)"
    if so is None:
        run.result(n, line, "unmatched", billed, detail=f"no supplier order {ref} of this supplier")
        return
    on_order = [sl for sl in so.lines if sl.supplier_sku == sku]
    if not on_order and len(so.lines) == 1 and not any(
            (ln.get("kind") or "item") == "item" and ln.get("supplier_sku") == so.lines[0].supplier_sku
            for ln in run.invoice.lines):
        # A supplier that bills its own catalog SKU for what we ordered by another (print on demand: Printful
        # bills the catalog variant of the merchant's product): an order of one line is that line.
        on_order = list(so.lines)
    if not on_order:
        run.result(n, line, "unmatched", billed, so=so, detail=f"{sku} is not on {so.idempotency_key}")
        return
    free = [sl for sl in on_order if ("item", sl.order_line_id) not in run.billed]
    if not free:
        run.result(n, line, "duplicate", billed, so=so, order_line_id=on_order[0].order_line_id,
                   detail=f"{sku} on {so.idempotency_key} was billed already")
        return
    sl = free[0]
    run.billed.add(("item", sl.order_line_id))
    unit = Money(sl.unit_cost_minor, sl.currency)
    unit_billed = Money(line["unit_price_minor"], line["currency"])
    shipped = _shipped(run.uow, so).get(sl.order_line_id, 0)
    common = {"so": so, "order_line_id": sl.order_line_id, "qty_expected": shipped}
    if shipped == 0:
        run.result(n, line, "not_shipped", billed, expected=Money.zero(billed.currency),
                   detail=f"{qty} x {sku} billed, none shipped", **common)
        return
    if unit.currency != unit_billed.currency:
        converted = _to(run, unit, unit_billed.currency, so)
        if converted is None:
            run.result(n, line, "price_mismatch", billed, detail=f"billed in {unit_billed.currency}, ordered at "
                       f"{unit} and no rate between them", **common)
            return
        unit = converted
    if qty > shipped:
        accepted = unit_billed * shipped if run.tolerance.within(unit_billed, unit) else unit * shipped
        run.result(n, line, "over_billed", billed, expected=unit * shipped, accepted=accepted,
                   detail=f"{qty} x {sku} billed, {shipped} shipped", **common)
        _book_goods(run, n, so, sl, unit_billed, min(qty, sl.quantity))
        return
    if not run.tolerance.within(unit_billed, unit):
        run.result(n, line, "price_mismatch", billed, expected=unit * qty, accepted=unit * qty,
                   detail=f"{sku} billed at {unit_billed} a unit, ordered at {unit}", **common)
        _book_goods(run, n, so, sl, unit_billed, min(qty, sl.quantity))
        return
    run.result(n, line, "matched", billed, expected=unit * qty, accepted=billed,
               detail=f"{qty} x {sku} at {unit_billed}", **common)
    _book_goods(run, n, so, sl, unit_billed, min(qty, sl.quantity))


def _charge(run: _Run, n: int, line: dict, billed: Money) -> None:
    kind = line["kind"]
    so = run.supplier_order(line)
    ref = line.get("reference") or line.get("external_order_id") or "(none)"
    if so is None:
        run.result(n, line, "unmatched", billed, detail=f"{kind} for no supplier order {ref} of this supplier")
        return
    if (kind, so.id) in run.billed:
        run.result(n, line, "duplicate", billed, so=so, detail=f"{kind} of {so.idempotency_key} was billed already")
        return
    run.billed.add((kind, so.id))
    order = run.uow.get(Order, so.order_id)
    ledger_kind = CHARGE_KINDS[kind]
    estimate_here = -sum(e.amount_minor for e in run.uow.ledger.for_order(order.id)
                         if e.kind == ledger_kind and belongs_to(e, so))
    expected_here = Money(estimate_here, order.currency)
    expected = expected_here if billed.currency == order.currency else _back(run, expected_here, billed.currency, so)
    if expected is None:
        run.result(n, line, "charge_mismatch", billed, so=so, detail=f"{kind} billed in {billed.currency}: no rate "
                   f"to compare it with the {expected_here} quoted")
        return
    if run.tolerance.within(billed, expected):
        run.result(n, line, "matched", billed, so=so, expected=expected, accepted=billed,
                   detail=f"{kind} {billed}, quoted {expected}")
    else:
        run.result(n, line, "charge_mismatch", billed, so=so, expected=expected, accepted=expected,
                   detail=f"{kind} billed {billed}, quoted {expected}")
    _book(run, n, so, order, None, billed, expected_here, f"{kind} billed {billed}")


def _to(run: _Run, amount: Money, currency: str, so: SupplierOrder) -> Money | None:
    """`amount` in `currency` at the order's stored rate (either direction), else the newest rate."""
    order = run.uow.get(Order, so.order_id)
    stored = _stored_rates(order)
    got = convert(amount, currency, stored) or convert(amount, currency, run.rates())
    return got[0] if got else None


def _back(run: _Run, amount_here: Money, currency: str, so: SupplierOrder) -> Money | None:
    return _to(run, amount_here, currency, so)


def _stored_rates(order: Order) -> dict[tuple[str, str], Decimal]:
    out = {}
    for pair, noted in (order.fx or {}).items():
        a, _, b = pair.partition("->")
        if noted and noted.get("rate"):
            out[(a, b)] = Decimal(noted["rate"])
    return out


def _book_goods(run: _Run, n: int, so: SupplierOrder, sl, unit_billed: Money, qty: int) -> None:
    order = run.uow.get(Order, so.order_id)
    entries = run.uow.ledger.for_order(order.id)
    estimate = -sum(e.amount_minor for e in entries if belongs_to(e, so) and e.order_line_id == sl.order_line_id
                    and e.kind in (EntryKind.SUPPLIER_COST, EntryKind.COST_VARIANCE))
    _book(run, n, so, order, sl.order_line_id, unit_billed * qty, Money(estimate, order.currency),
          f"{qty} x {sl.supplier_sku} billed {unit_billed * qty}")


def _book(run: _Run, n: int, so: SupplierOrder, order: Order, order_line_id: int | None, billed: Money,
          estimate_here: Money, what: str) -> None:
    """Correct the ledger from the estimate to what is billed (at the order's stored rate), and write the
    difference the newest rate makes as fx_difference."""
    memo = f"{so.idempotency_key}: invoice {run.invoice.number} line {n}: {what}"
    _supersede_statement(run, so, order)
    stored = _stored_rates(order)
    at_order = convert(billed, order.currency, stored)
    if at_order is None:  # the order never needed this currency: the newest rate is all there is
        at_order = convert(billed, order.currency, run.rates())
        if at_order is None:
            return
    billed_here, order_rate = at_order
    change = -(billed_here.amount - estimate_here.amount)
    if change:
        run.entries.append(LedgerEntry(
            order_id=order.id, order_line_id=order_line_id, store_id=order.store_id, supplier_id=so.supplier_id,
            kind=EntryKind.COST_VARIANCE, amount_minor=change, currency=order.currency,
            memo=f"{memo}, estimated {estimate_here}"[:500], created_at=run.now))
    if billed.currency != order.currency:
        now_rate = convert(billed, order.currency, run.rates())
        if now_rate is not None and now_rate[1] != order_rate:
            diff = now_rate[0].amount - billed_here.amount
            if diff:
                run.entries.append(LedgerEntry(
                    order_id=order.id, order_line_id=order_line_id, store_id=order.store_id,
                    supplier_id=so.supplier_id, kind=EntryKind.FX_DIFFERENCE, amount_minor=-diff,
                    currency=order.currency,
                    memo=f"{memo}: at {now_rate[1]:f} now, {order_rate:f} on the order"[:500], created_at=run.now))


def _supersede_statement(run: _Run, so: SupplierOrder, order: Order) -> None:
    """The supplier's stated cost (a cost_variance for the whole order) gives way to the invoice: reversed once."""
    if so.id in run._superseded:
        return
    run._superseded.add(so.id)
    stated = sum(e.amount_minor for e in run.uow.ledger.for_order(order.id)
                 if e.kind == EntryKind.COST_VARIANCE and belongs_to(e, so) and e.order_line_id is None
                 and ": invoice " not in e.memo)
    if stated:
        run.entries.append(LedgerEntry(
            order_id=order.id, store_id=order.store_id, supplier_id=so.supplier_id, kind=EntryKind.COST_VARIANCE,
            amount_minor=-stated, currency=order.currency,
            memo=f"{so.idempotency_key}: invoice {run.invoice.number} replaces the supplier's stated cost",
            created_at=run.now))


# ---- shipped, never billed -------------------------------------------------------------------------------------


def _check_unbilled(uow, ctx, supplier) -> int:
    lag = int((supplier.config or {}).get("billing_lag_days", DEFAULT_BILLING_LAG_DAYS))
    now = ctx.clock()
    have = uow.reconciliation.unbilled_keys(supplier.id)
    rows = []
    for so_id in uow.reconciliation.shipped_before(supplier.id, now - timedelta(days=lag)):
        so = uow.get(SupplierOrder, so_id)
        billed = uow.reconciliation.billed([so.id])
        shipped = _shipped(uow, so)
        for sl in so.lines:
            key = f"unbilled:{sl.id}"
            if key in have or ("item", sl.order_line_id) in billed or not shipped.get(sl.order_line_id):
                continue
            qty = shipped[sl.order_line_id]
            expected = Money(sl.unit_cost_minor, sl.currency) * qty
            rows.append({"key": key, "supplier_id": supplier.id, "invoice_id": None, "line_no": None,
                         "supplier_order_id": so.id, "order_line_id": sl.order_line_id, "kind": "item",
                         "outcome": "not_billed", "supplier_sku": sl.supplier_sku, "quantity_billed": 0,
                         "quantity_expected": qty, "currency": sl.currency, "billed_minor": 0,
                         "expected_minor": expected.amount, "accepted_minor": 0,
                         "detail": f"{qty} x {sl.supplier_sku} of {so.idempotency_key} shipped more than {lag} days "
                                   "ago, never billed", "month": now.strftime("%Y-%m"), "dispute": "open",
                         "created_at": now})
    return uow.reconciliation.add_results(rows)


# ---- disputes ------------------------------------------------------------------------------------------------


def list_disputes(ctx, supplier: str | None = None, status: str | None = None) -> list[dict]:
    if status and status not in DISPUTE_STATUSES:
        raise ValidationError(f"status {status!r} is not one of {', '.join(DISPUTE_STATUSES)}", "status")
    with ctx.uow(read_only=True) as uow:
        sid = _supplier_id(uow, supplier)
        return [_dispute_view(r) for r in uow.reconciliation.disputes(supplier_id=sid, status=status)]


def set_dispute(ctx, result_id: int, status: str, note: str | None = None) -> dict:
    """Move a dispute to open, claimed, credited or written_off. Written off: we pay what was billed after all
    (a payable for the difference), and it stays written off; credited: the supplier credits it (nothing more
    owed)."""
    if status not in DISPUTE_STATUSES:
        raise ValidationError(f"status {status!r} is not one of {', '.join(DISPUTE_STATUSES)}", "status")
    with ctx.uow() as uow:
        row = uow.reconciliation.dispute(result_id, lock=True)
        if row is None or row["dispute"] is None:
            raise NotFound(f"no dispute {result_id}")
        if row["dispute"] == "written_off" and status != "written_off":
            raise Conflict(f"dispute {result_id} was written off (what it held back is owed): it stays so")
        if row["dispute"] != status:
            uow.reconciliation.set_dispute(result_id, status, (note or "")[:500] or None, ctx.actor, ctx.clock())
            if status == "written_off":
                from .payables import owe_written_off

                owe_written_off(uow, ctx, row)
            audit(uow, ctx, "dispute.status", f"invoice_result:{result_id}",
                  {"from": row["dispute"], "to": status, "note": (note or "")[:200]}, supplier_id=row["supplier_id"])
        uow.commit()
    return {"id": result_id, "from": row["dispute"], "status": status}


def dispute_totals(ctx, supplier: str | None = None) -> list[dict]:
    """Per supplier, month and outcome (disputes by status): lines and the amounts billed, expected, accepted."""
    with ctx.uow(read_only=True) as uow:
        sid = _supplier_id(uow, supplier)
        rows = uow.reconciliation.totals(sid)
    return [{"supplier": s, "month": month, "outcome": outcome, "dispute": dispute, "lines": n,
             "billed": _dec(billed, cur), "expected": _dec(expected, cur), "accepted": _dec(accepted, cur),
             "difference": _dec((billed or 0) - (accepted or 0), cur), "currency": cur}
            for s, month, outcome, dispute, cur, n, billed, expected, accepted in rows]


def _supplier_id(uow, name: str | None) -> int | None:
    if not name:
        return None
    s = uow.suppliers.by_name(name)
    if s is None:
        raise NotFound(f"no supplier named {name!r}")
    return s.id


def _dec(minor: int | None, currency: str) -> str:
    return str(Money(int(minor or 0), currency).to_decimal())


def _dispute_view(r: dict[str, Any]) -> dict:
    cur = r["currency"]
    return {"id": r["id"], "supplier": r.get("supplier"), "invoice": r.get("invoice"), "line": r["line_no"],
            "outcome": r["outcome"], "status": r["dispute"], "sku": r["supplier_sku"], "month": r["month"],
            "billed": _dec(r["billed_minor"], cur),
            "expected": _dec(r["expected_minor"], cur) if r["expected_minor"] is not None else None,
            "accepted": _dec(r["accepted_minor"], cur),
            "difference": _dec(r["billed_minor"] - r["accepted_minor"], cur), "currency": cur,
            "detail": r["detail"], "note": r.get("dispute_note")}


def result_view(r: dict[str, Any]) -> dict:
    cur = r["currency"]
    return {"line": r["line_no"], "kind": r["kind"], "outcome": r["outcome"], "sku": r["supplier_sku"],
            "quantity": r["quantity_billed"], "billed": _dec(r["billed_minor"], cur),
            "expected": _dec(r["expected_minor"], cur) if r["expected_minor"] is not None else None,
            "accepted": _dec(r["accepted_minor"], cur), "currency": cur, "detail": r["detail"],
            "dispute": r["dispute"]}
