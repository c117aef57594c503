"""Payables from placement through invoice, payment batch (CSV and SEPA credit transfer XML) and mark-paid, on
SQLite and PostgreSQL, with what we owe each supplier equal to what the ledger says its orders cost at every
step: a supplier paid up front is owed at placement, and its invoice settles that (only the difference
remains); a supplier on net terms is owed from its invoice, due after its terms."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from dropbridge.connectors.formats.sepa import sepa_xml
from dropbridge.domain.errors import Conflict, NotFound, ValidationError
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.payables import batch_csv, create_batch, list_payables, mark_paid, supplier_balance
from dropbridge.services.ports import InvoiceLine, SupplierInvoice
from dropbridge.services.reconcile_invoice import import_invoice
from dropbridge.services.sync_feed import sync_feed
from dropbridge.storage import tables as t

from .test_reconciliation import T0, World, _registry

IBAN, BIC = "DE89370400440532013000", "COBADEFFXXX"
SUPPLIER_KINDS = ("supplier_cost", "supplier_shipping", "supplier_fee", "cost_variance")


@pytest.fixture
def world(app):
    app.ctx.connectors = _registry()
    app.ctx.enqueue = lambda job_id, delay=0: None
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"}, {"currency": "EUR"})
    add_supplier(app.ctx, "upfront", "desk", "", {},
                 {"currency": "EUR", "shipping_per_order": "4.00", "order_fee": "1.00", "pay_at_placement": True,
                  "invoice_tolerance": "0.50", "payment_terms_days": 15, "iban": IBAN, "bic": BIC,
                  "account_name": "Upfront GmbH"})
    add_supplier(app.ctx, "net", "desk", "", {}, {"currency": "EUR", "shipping_per_order": "4.00"})
    sync_feed(app.ctx, "upfront", io.BytesIO(b"sku,qty,cost\nK,10,10.00\n"), "u.csv")
    sync_feed(app.ctx, "net", io.BytesIO(b"sku,qty,cost\nM,10,8.00\n"), "n.csv")
    return World(app)


def _ledger_cost(app, supplier: str) -> int:
    """What the ledger says this supplier's orders cost us (minor units, positive)."""
    e, s = t.ledger_entries, t.suppliers
    with app.engine.connect() as conn:
        return -conn.execute(select(func.coalesce(func.sum(e.c.amount_minor), 0)).join(s, s.c.id == e.c.supplier_id)
                             .where(s.c.name == supplier, e.c.kind.in_(SUPPLIER_KINDS))).scalar_one()


def _owed(ctx, supplier: str) -> int:
    return sum(Money.parse(p["amount"], p["currency"]).amount for p in list_payables(ctx, supplier, status="all"))


def _balanced(w, supplier: str, expected_minor: int) -> None:
    assert _ledger_cost(w.app, supplier) == expected_minor
    assert _owed(w.ctx, supplier) == expected_minor


def test_payables_from_placement_through_invoice_batch_and_payment(world):
    w = world
    _, ku = w.order("shop", "upfront", "K", 2, currency="EUR")
    _, kn = w.order("shop", "net", "M", 1, currency="EUR")
    # Placed: the up-front supplier is owed goods, shipping and fee at once; the other nothing until it bills.
    _balanced(w, "upfront", 2500)
    assert [(p["source"], p["amount"], p["due"]) for p in list_payables(w.ctx, "upfront")] == [
        ("placement", "25.00", T0.date().isoformat())]
    assert _ledger_cost(w.app, "net") == 1200 and list_payables(w.ctx, "net") == []

    w.ship("upfront", ku, "K", 2)
    w.ship("net", kn, "M", 1)
    w.now = T0 + timedelta(days=3)
    issued = T0 + timedelta(days=2)
    up = import_invoice(w.ctx, "upfront", SupplierInvoice("U-1", "EUR", (
        InvoiceLine("K", 2, Money.parse("10.00", "EUR"), reference=ku),
        InvoiceLine(None, 1, Money.parse("4.40", "EUR"), reference=ku, kind="shipping"),  # within 0.50
        InvoiceLine(None, 1, Money.parse("1.00", "EUR"), reference=ku, kind="fee")), issued_at=issued), "test")
    assert up["outcomes"] == {"matched": 3}
    # The invoice bills 25.40: the ledger says so (a 0.40 cost_variance), and so do the payables (the placement's
    # 25.00, the invoice's 25.40 and the settlement of the placement, -25.00).
    _balanced(w, "upfront", 2540)
    assert sorted((p["source"], p["amount"]) for p in list_payables(w.ctx, "upfront")) == [
        ("invoice", "-25.00"), ("invoice", "25.40"), ("placement", "25.00")]
    net = import_invoice(w.ctx, "net", SupplierInvoice("N-1", "EUR", (
        InvoiceLine("M", 1, Money.parse("8.00", "EUR"), reference=kn),
        InvoiceLine(None, 1, Money.parse("4.00", "EUR"), reference=kn, kind="shipping")), issued_at=issued), "test")
    assert net["outcomes"] == {"matched": 2}
    _balanced(w, "net", 1200)
    (p,) = list_payables(w.ctx, "net")
    assert (p["amount"], p["due"]) == ("12.00", (issued.date() + timedelta(days=30)).isoformat())

    # Due by a day: the up-front supplier's payables only (net's is due in a month).
    assert create_batch(w.ctx, due_before=date(2026, 3, 1)) == []
    (batch,) = create_batch(w.ctx, due_before=(T0 + timedelta(days=20)).date())
    assert (batch.currency, str(batch.total), [p["supplier"] for p in batch.payments]) == ("EUR", "25.40 EUR",
                                                                                           ["upfront"])
    assert list_payables(w.ctx, "upfront") == []  # batched, no longer open
    (later,) = create_batch(w.ctx, due_before=date(2026, 12, 31))
    assert [(p["supplier"], str(p["amount"])) for p in later.payments] == [("net", "12.00 EUR")]
    assert create_batch(w.ctx, due_before=date(2026, 12, 31)) == []  # nothing twice

    rows = list(csv.DictReader(io.StringIO(batch_csv(batch))))
    assert [(r["supplier"], r["payee"], r["iban"], r["amount"], r["currency"], r["reference"]) for r in rows] == [
        ("upfront", "Upfront GmbH", IBAN, "25.40", "EUR", "Invoices U-1")]
    xml, skipped = sepa_xml(batch, "Our Shop", "FR1420041010050500013M02606", "PSSTFRPPLIL", date(2026, 3, 6))
    assert skipped == []
    root = ET.fromstring(xml)
    ns = {"p": root.tag.split("}")[0].strip("{")}
    assert "pain.001.001.03" in ns["p"]
    assert root.find(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", ns).text == "25.40"
    assert root.find(".//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN", ns).text == IBAN
    assert root.find(".//p:GrpHdr/p:CtrlSum", ns).text == "25.40"
    assert sepa_xml(later, "Our Shop", "FR1420041010050500013M02606", "PSSTFRPPLIL") == (None, ["net"])

    # Paid: the balance moves from batched to paid; the ledger and what is owed still agree.
    assert mark_paid(w.ctx, batch.id, reference="BANK-1") == 3
    with pytest.raises(Conflict):
        mark_paid(w.ctx, batch.id)
    with pytest.raises(NotFound):
        mark_paid(w.ctx, 9999)
    with pytest.raises(ValidationError):
        mark_paid(w.ctx)
    (np,) = list_payables(w.ctx, "net", status="batched")
    assert mark_paid(w.ctx, payable_ids=[np["id"]]) == 1
    with pytest.raises(Conflict):
        mark_paid(w.ctx, payable_ids=[np["id"]])
    assert supplier_balance(w.ctx, "upfront") == {"paid": {"EUR": "25.40"}}
    assert supplier_balance(w.ctx, "net") == {"paid": {"EUR": "12.00"}}
    _balanced(w, "upfront", 2540)
    _balanced(w, "net", 1200)
    with w.app.engine.connect() as conn:
        assert conn.execute(select(t.payment_batches.c.status).order_by(t.payment_batches.c.id)).scalars().all() == [
            "paid", "exported"]  # the second batch was paid payable by payable


def test_an_order_paid_up_front_and_refused_is_owed_no_more(world):
    from dropbridge.services.ports import LineDecision, OrderAcknowledged
    from dropbridge.services.supplier_replies import acknowledge_supplier_order

    w = world
    _, key = w.order("shop", "upfront", "K", 1, currency="EUR")
    _balanced(w, "upfront", 1500)  # 10.00 goods, 4.00 shipping, 1.00 fee
    with w.ctx.uow(read_only=True) as uow:
        sid = uow.suppliers.by_name("upfront").id
    acknowledge_supplier_order(w.ctx, sid, OrderAcknowledged(key, external_id=f"S-{key}", lines=(
        LineDecision("K", 1, "rejected", "sold out"),)))
    _balanced(w, "upfront", 0)
    assert sorted((p["source"], p["amount"]) for p in list_payables(w.ctx, "upfront")) == [
        ("placement", "-15.00"), ("placement", "15.00")]
    assert create_batch(w.ctx, due_before=date(2099, 1, 1)) == []  # nets to nothing: no payment


def test_the_ledger_as_a_balanced_journal_with_a_configurable_account_mapping(world):
    from dropbridge.services.journal import accounts_from, journal_rows

    w = world
    w.order("shop", "upfront", "K", 2, currency="EUR")
    with w.app.engine.connect() as conn:
        entries = conn.execute(select(t.ledger_entries.c.kind, t.ledger_entries.c.amount_minor)
                               .order_by(t.ledger_entries.c.id)).all()
    rows = list(journal_rows(w.ctx, accounts=accounts_from('{"revenue": {"account": "8400"}}')))
    assert len(rows) == 2 * len(entries)
    debit = sum(Money.parse(r[3], "EUR").amount for r in rows if r[3])
    credit = sum(Money.parse(r[4], "EUR").amount for r in rows if r[4])
    assert debit == credit == sum(abs(a) for _, a in entries)
    by_kind = {(r[10], r[2], bool(r[3])) for r in rows}
    # 60.00 of goods sold: the store's payout owes it (debit), sales on our account 8400 (credit)
    assert ("revenue", "1200 Receivable from store payouts", True) in by_kind and ("revenue", "8400", False) in by_kind
    # the goods bought: cost of goods sold (debit) owed to the supplier (credit)
    assert ("supplier_cost", "5000 Cost of goods sold", True) in by_kind
    assert ("supplier_cost", "2000 Payable to suppliers", False) in by_kind
    assert list(journal_rows(w.ctx, start=date(2099, 1, 1))) == []
    with pytest.raises(ValidationError, match="'revenu' is not a ledger kind"):
        accounts_from('{"revenu": {"account": "1"}}')
    with pytest.raises(ValidationError, match="not JSON"):
        accounts_from("{")


class BalanceDesk:
    """A supplier charging a prepaid balance: the first order waits for payment, and is reported paid later."""

    def __init__(self):
        self.paid: set[str] = set()

    def place_order(self, request):
        from dropbridge.services.ports import PlacedOrder, Placement

        return PlacedOrder(external_id=f"B-{request.reference}", reference=request.reference, status="created",
                           placement=Placement.AWAITING_PAYMENT)

    def find_order(self, reference):
        from dropbridge.services.ports import PlacedOrder, Placement

        placement = Placement.ACCEPTED if reference in self.paid else Placement.AWAITING_PAYMENT
        return PlacedOrder(external_id=f"B-{reference}", reference=reference, status="x", placement=placement)


def test_a_balance_supplier_records_each_charge_and_alerts_while_an_order_waits_for_payment(world):
    from dropbridge.connectors.config import SupplierConfig
    from dropbridge.connectors.registry import ConnectorSpec, Registry
    from dropbridge.services.order_view import list_alerts
    from dropbridge.services.ports import Capability
    from dropbridge.services.unpaid_orders import alert_unpaid_supplier_orders

    w = world
    desk = BalanceDesk()
    spec = ConnectorSpec(name="balance", role="supplier", config_model=SupplierConfig, needs_url=False,
                         capabilities=frozenset({Capability.ORDERS}), factory=lambda url, creds, cfg: desk,
                         implementation=BalanceDesk)
    w.ctx.connectors = Registry([*w.ctx.connectors.specs(), spec])
    add_supplier(w.ctx, "cjlike", "balance", "", {}, {"currency": "EUR", "shipping_per_order": "3.00",
                                                     "charges_balance": True, "unpaid_alert_hours": 2})
    sync_feed(w.ctx, "cjlike", io.BytesIO(b"sku,qty,cost\nQ,10,7.00\n"), "c.csv")
    _, key = w.order("shop", "cjlike", "Q", 1, currency="EUR")
    (charge,) = list_payables(w.ctx, "cjlike")
    assert (charge["source"], charge["amount"], charge["status"]) == ("balance", "10.00", "open")
    assert "waiting for payment" in charge["memo"]
    assert create_batch(w.ctx, due_before=date(2099, 1, 1)) == []  # paid in its account, never by transfer
    w.now = T0 + timedelta(hours=3)
    assert alert_unpaid_supplier_orders(w.ctx) == 1
    assert any(a["kind"] == "supplier_order.payment_overdue" and key in a["message"] for a in list_alerts(w.ctx, 20))
    desk.paid.add(key)
    w.now = T0 + timedelta(hours=4)
    alert_unpaid_supplier_orders(w.ctx)
    assert list_payables(w.ctx, "cjlike") == []
    assert supplier_balance(w.ctx, "cjlike") == {"paid": {"EUR": "10.00"}}
