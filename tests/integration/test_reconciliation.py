"""Supplier invoice reconciliation end to end on SQLite and PostgreSQL: real orders routed, placed and shipped
through the services, then a generated invoice holding one of each discrepancy (price beyond tolerance, billed
above shipped, billed never shipped, billed twice, shipping off the quote, no such order) beside clean lines,
and a shipped line never billed past the billing lag. Each is flagged exactly once, the clean lines match,
the ledger is corrected to what was billed (append-only), and a re-import changes nothing. Also: the file
readers (CSV with a column mapping, EDI 810), an invoice billed in another currency (fx_difference), the
dispute workflow, totals per month, the vendor report's invoice accuracy, the API and the command line."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from dropbridge.connectors.config import SupplierConfig
from dropbridge.connectors.invoice_files import read_invoices
from dropbridge.connectors.registry import ConnectorSpec, Registry
from dropbridge.domain.errors import NotFound, ValidationError
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.fx import import_ecb_csv
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_view import order_detail
from dropbridge.services.place_supplier_order import place_supplier_order
from dropbridge.services.ports import (
    Address,
    Capability,
    ExternalOrder,
    ExternalOrderLine,
    InvoiceLine,
    PlacedOrder,
    SupplierInvoice,
    SupplierOrderItem,
    TrackingUpdate,
)
from dropbridge.services.queries.vendors import vendor_performance
from dropbridge.services.reconcile_invoice import (
    dispute_totals,
    import_invoice,
    import_invoice_file,
    list_disputes,
    set_dispute,
)
from dropbridge.services.record_shipment import record_shipment
from dropbridge.services.route_order import route_order
from dropbridge.services.sync_feed import sync_feed
from dropbridge.storage import tables as t

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Desk:
    """An order desk that takes every order (its id: S-<our key>)."""

    def place_order(self, request):
        return PlacedOrder(external_id=f"S-{request.reference}", reference=request.reference, status="accepted")

    def find_order(self, reference):
        return None


def _registry():
    spec = ConnectorSpec(name="desk", role="supplier", config_model=SupplierConfig, needs_url=False,
                         capabilities=frozenset({Capability.ORDERS}), factory=lambda url, creds, cfg: Desk(),
                         implementation=Desk)
    return Registry([*Registry.default().specs(), spec])


class World:
    def __init__(self, app):
        self.app, self.ctx = app, app.ctx
        self.now = T0
        self.ctx.clock = lambda: self.now
        self.n = 0

    def order(self, store: str, supplier: str, sku: str, qty: int, currency: str = "USD") -> tuple[int, str]:
        """An order of one line routed and placed at `supplier`: (order id, supplier-order key)."""
        self.n += 1
        ext = ExternalOrder(external_id=f"R-{self.n}", currency=currency,
                            ship_to=Address(name="J", address1="1 Main", city="Austin", country_code="US"),
                            shipping_price=Money.parse("5.00", currency),
                            lines=[ExternalOrderLine("1", sku, qty, Money.parse("30.00", currency))])
        order_id = ingest_order(self.ctx, store, ext).order_id
        assert route_order(self.ctx, order_id) == "routed"
        with self.ctx.uow(read_only=True) as uow:
            (so,) = uow.supplier_orders.for_order(order_id)
            so_id, key = so.id, so.idempotency_key
        assert place_supplier_order(self.ctx, so_id) == "submitted"
        return order_id, key

    def ship(self, supplier: str, key: str, sku: str, qty: int) -> None:
        with self.ctx.uow(read_only=True) as uow:
            sid = uow.suppliers.by_name(supplier).id
        record_shipment(self.ctx, sid, TrackingUpdate(reference=key, external_order_id=f"S-{key}", carrier="UPS",
                                                      tracking_number=f"TRK{self.n}{key[-6:]}{qty}",
                                                      items=[SupplierOrderItem(sku, qty)]))

    def ledger(self, order_id: int) -> list[tuple[str, str]]:
        return [(e["kind"], e["amount"]) for e in order_detail(self.ctx, order_id)["ledger"]]

    def counts(self) -> tuple[int, ...]:
        with self.app.engine.connect() as conn:
            return tuple(conn.execute(select(func.count()).select_from(tb)).scalar_one()
                         for tb in (t.invoice_results, t.ledger_entries, t.supplier_invoices, t.payables))


@pytest.fixture
def world(app):
    app.ctx.connectors = _registry()
    app.ctx.enqueue = lambda job_id, delay=0: None
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"}, {"currency": "USD"})
    add_supplier(app.ctx, "acme", "desk", "", {},
                 {"currency": "USD", "shipping_per_order": "5.00", "order_fee": "1.00", "invoice_tolerance": "0.05",
                  "invoice_tolerance_percent": "0.1", "billing_lag_days": 10})
    w = World(app)
    sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nA,100,10.00\nB,100,10.00\nC,100,10.00\nD,100,10.00\n"
                                          b"E,100,10.00\nF,100,10.00\n"), "acme.csv")
    return w


def _usd(s: str) -> Money:
    return Money.parse(s, "USD")


def _line(sku, qty, price, key, kind="item"):
    return InvoiceLine(sku, qty, _usd(price), reference=key, kind=kind)


def test_one_of_each_discrepancy_flagged_once_clean_lines_matched_reimport_changes_nothing(world):
    w = world
    o1, k1 = w.order("shop", "acme", "A", 2)  # clean: billed as ordered, with its shipping and fee
    o2, k2 = w.order("shop", "acme", "B", 1)  # price beyond tolerance; shipping off the quote
    o3, k3 = w.order("shop", "acme", "C", 3)  # 3 ordered, 2 shipped, 3 billed
    _, k4 = w.order("shop", "acme", "D", 1)  # billed, never shipped
    o5, k5 = w.order("shop", "acme", "E", 1)  # shipped, never billed
    o6, k6 = w.order("shop", "acme", "F", 1)  # billed 0.04 above: within the tolerance
    for key, sku, qty in ((k1, "A", 2), (k2, "B", 1), (k3, "C", 2), (k5, "E", 1), (k6, "F", 1)):
        w.ship("acme", key, sku, qty)
    assert w.ledger(o2)[-3:] == [("supplier_cost", "-10.00"), ("supplier_shipping", "-5.00"),
                                 ("supplier_fee", "-1.00")]
    w.now = T0 + timedelta(days=20)  # past the 10-day billing lag
    invoice = SupplierInvoice("INV-1", "USD", (
        _line("A", 2, "10.00", k1), _line(None, 1, "5.00", k1, "shipping"), _line(None, 1, "1.00", k1, "fee"),
        _line("B", 1, "10.50", k2), _line(None, 1, "7.00", k2, "shipping"),
        _line("C", 3, "10.00", k3),
        _line("D", 1, "10.00", k4),
        _line("A", 2, "10.00", k1),  # billed twice
        _line("Z", 1, "3.00", "db-999-9-1"),  # no such order
        _line("F", 1, "10.04", k6),
        _line(None, 1, "2.10", k1, "tax"),
    ), issued_at=T0 + timedelta(days=19))
    summary = import_invoice(w.ctx, "acme", invoice, "test")
    assert summary["stored"] and summary["reconciled"]
    by_line = {r["line_no"]: r["outcome"] for r in summary["results"]}
    assert by_line == {1: "matched", 2: "matched", 3: "matched", 4: "price_mismatch", 5: "charge_mismatch",
                       6: "over_billed", 7: "not_shipped", 8: "duplicate", 9: "unmatched", 10: "matched",
                       11: "noted"}
    assert summary["unbilled"] == 1
    disputes = list_disputes(w.ctx, "acme")
    assert sorted(d["outcome"] for d in disputes) == sorted(
        ["price_mismatch", "charge_mismatch", "over_billed", "not_shipped", "duplicate", "unmatched", "not_billed"])
    assert {d["status"] for d in disputes} == {"open"}
    amounts = {d["outcome"]: (d["billed"], d["expected"], d["accepted"], d["difference"]) for d in disputes}
    assert amounts["price_mismatch"] == ("10.50", "10.00", "10.00", "0.50")
    assert amounts["charge_mismatch"] == ("7.00", "5.00", "5.00", "2.00")
    assert amounts["over_billed"] == ("30.00", "20.00", "20.00", "10.00")
    assert amounts["not_shipped"] == ("10.00", "0.00", "0.00", "10.00")
    assert amounts["duplicate"] == ("20.00", None, "0.00", "20.00")
    assert amounts["unmatched"] == ("3.00", None, "0.00", "3.00")
    assert amounts["not_billed"] == ("0.00", "10.00", "0.00", "0.00")
    unbilled = next(d for d in disputes if d["outcome"] == "not_billed")
    assert k5 in unbilled["detail"] and unbilled["sku"] == "E"

    # The ledger now says what was billed: correcting entries, the estimates untouched.
    assert w.ledger(o1)[-3:] == [("supplier_cost", "-20.00"), ("supplier_shipping", "-5.00"),
                                 ("supplier_fee", "-1.00")]  # billed as estimated: nothing added
    assert w.ledger(o2)[-5:] == [("supplier_cost", "-10.00"), ("supplier_shipping", "-5.00"),
                                 ("supplier_fee", "-1.00"), ("cost_variance", "-0.50"), ("cost_variance", "-2.00")]
    assert w.ledger(o3)[-1] == ("supplier_fee", "-1.00")  # 3 billed = 3 ordered at the estimate: no change
    assert w.ledger(o6)[-1] == ("cost_variance", "-0.04")
    assert not any(k == "cost_variance" for k, _ in w.ledger(o5))

    # Re-importing the same invoice (and checking the unbilled again) changes nothing.
    before = w.counts()
    again = import_invoice(w.ctx, "acme", invoice, "test")
    assert not again["stored"] and not again["reconciled"] and again["unbilled"] == 0
    assert {r["line_no"]: r["outcome"] for r in again["results"]} == by_line
    assert w.counts() == before

    # Billed again on a later invoice: a duplicate across invoices; a clean line there still matches.
    later = import_invoice(w.ctx, "acme", SupplierInvoice("INV-2", "USD", (
        _line("B", 1, "10.00", k2), _line(None, 1, "1.00", k2, "fee"))), "test")
    assert [r["outcome"] for r in later["results"]] == ["duplicate", "matched"]

    # Accuracy in the vendor report: lines matched within tolerance over invoice lines checked (10 + 2: tax
    # is not checked, the unbilled line is no invoice line): 4 + 1 of 12.
    row = vendor_performance(w.ctx)["rows"][0]
    assert row["invoice_accuracy"] == "41.7" and row["invoice_lines_checked"] == 12

    # Disputes move through their statuses; totals per supplier and month.
    pm = next(d for d in disputes if d["outcome"] == "price_mismatch")
    assert set_dispute(w.ctx, pm["id"], "claimed", "asked for credit") == {"id": pm["id"], "from": "open",
                                                                           "status": "claimed"}
    set_dispute(w.ctx, pm["id"], "credited", "CN-7")
    with pytest.raises(ValidationError):
        set_dispute(w.ctx, pm["id"], "lost")
    with pytest.raises(NotFound):
        set_dispute(w.ctx, 99999, "claimed")
    assert [d["id"] for d in list_disputes(w.ctx, status="credited")] == [pm["id"]]
    totals = {(r["month"], r["outcome"], r["dispute"]): r for r in dispute_totals(w.ctx, "acme")}
    assert totals[("2026-03", "price_mismatch", "credited")]["difference"] == "0.50"
    assert totals[("2026-03", "duplicate", "open")]["lines"] == 2
    assert totals[("2026-03", "matched", None)]["lines"] == 5


def test_invoice_files_csv_mapping_810_and_bad_rows(world, tmp_path):
    w = world
    o1, k1 = w.order("shop", "acme", "A", 1)
    w.ship("acme", k1, "A", 1)
    with w.ctx.uow() as uow:
        s = uow.suppliers.by_name("acme")
        s.config = {**s.config, "invoice_columns": {"invoice": "Rechnung", "reference": "PO", "sku": "Artikel",
                                                    "quantity": "Menge", "amount": "Betrag"}}
        uow.commit()
    csv_bytes = (f"Rechnung;PO;Artikel;Menge;Betrag;kind\nR-77;{k1};A;1;10.00;item\n"
                 f"R-77;{k1};;1;5.00;shipping\n").encode()
    (summary,) = import_invoice_file(w.ctx, "acme", csv_bytes, "rechnung.csv", read_invoices)
    assert summary["outcomes"] == {"matched": 2}
    with pytest.raises(ValidationError, match=r"bad.csv line 3, quantity: 'two' is not a whole number"):
        import_invoice_file(w.ctx, "acme", b"Rechnung,PO,Artikel,Menge,Betrag\nR-78,x,A,1,1.00\nR-78,x,A,two,1\n",
                            "bad.csv", read_invoices)
    with pytest.raises(ValidationError, match="no column 'Menge'"):
        import_invoice_file(w.ctx, "acme", b"Rechnung,PO,Artikel,Betrag\nR-79,x,A,1.00\n", "bad.csv", read_invoices)

    # An EDI 810 with the same layout as the partner's, billing the same order again.
    edi = (SAMPLE_810.read_text().replace("PO123456", k1).replace("INV-5521", "INV-EDI")
           .replace("IT1*1*2*EA*9.50**VN*ACME-TS-BLK-M*UP*012345678905", "IT1*1*1*EA*10.00**VN*A")
           .replace("TDS*2380", "TDS*1600").replace("SAC*C*G830***480", "SAC*C*G830***600")).encode()
    (inv,) = read_invoices(edi, "inv.810")
    assert [(ln.kind, ln.supplier_sku, ln.quantity, str(ln.unit_price), ln.reference) for ln in inv.lines] == [
        ("item", "A", 1, "10.00 USD", k1), ("shipping", None, 1, "6.00 USD", k1)]
    (summary,) = import_invoice_file(w.ctx, "acme", edi, "inv.810", read_invoices)
    assert summary["outcomes"] == {"duplicate": 2}  # R-77 billed both already
    with pytest.raises(ValidationError, match="not a readable X12"):
        read_invoices(b"ISA*garbage", "x.edi")


SAMPLE_810 = Path(__file__).parent.parent / "edi" / "samples" / "810.edi"


def test_an_invoice_in_the_suppliers_currency_at_another_rate_writes_fx_difference(app):
    app.ctx.connectors = _registry()
    app.ctx.enqueue = lambda job_id, delay=0: None
    w = World(app)
    import_ecb_csv(app.ctx, "Date, USD, \n01 March 2026, 1.1000, \n")
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"}, {"currency": "USD"})
    add_supplier(app.ctx, "eu", "desk", "", {}, {"currency": "EUR", "shipping_per_order": "0"})
    sync_feed(app.ctx, "eu", io.BytesIO(b"sku,qty,cost\nK,10,20.00\n"), "eu.csv")
    order_id, key = w.order("shop", "eu", "K", 1)
    w.ship("eu", key, "K", 1)
    assert w.ledger(order_id)[-1] == ("supplier_cost", "-22.00")  # EUR 20.00 at 1.10
    w.now = T0 + timedelta(days=3)
    import_ecb_csv(app.ctx, "Date, USD, \n04 March 2026, 1.2000, \n")
    summary = import_invoice(app.ctx, "eu", SupplierInvoice("E-1", "EUR", (
        InvoiceLine("K", 1, Money.parse("20.00", "EUR"), reference=key),)), "test")
    assert summary["outcomes"] == {"matched": 1}
    # Billed as ordered: no cost variance; paying EUR 20.00 now costs USD 24.00, not 22.00.
    assert w.ledger(order_id)[-1] == ("fx_difference", "-2.00")


def test_the_invoice_endpoint_and_disputes_over_http(world):
    from dropbridge.api.app import create_app
    from dropbridge.services.tokens import create_token

    w = world
    _, k1 = w.order("shop", "acme", "A", 1)
    w.ship("acme", k1, "A", 1)
    add_supplier(w.ctx, "beta", "desk", "", {}, {"currency": "USD"})
    writer = {"Authorization": f"Bearer {create_token(w.ctx, 'billing', ['invoices:write', 'read'])}"}
    reader = {"Authorization": f"Bearer {create_token(w.ctx, 'reader', ['read'])}"}
    other = {"Authorization": f"Bearer {create_token(w.ctx, 'other', ['invoices:write'], suppliers=['beta'])}"}
    body = {"number": "H-1", "currency": "USD", "issued_on": "2026-03-05",
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "11.00", "reference": k1},
                      {"kind": "shipping", "unit_price": "5.00", "reference": k1}]}
    with TestClient(create_app(w.app)) as client:
        assert client.post("/api/v1/suppliers/acme/invoices", json=body, headers=reader).status_code == 403
        assert client.post("/api/v1/suppliers/acme/invoices", json=body, headers=other).status_code == 403
        assert client.post("/api/v1/suppliers/acme/invoices", json=body).status_code == 401
        r = client.post("/api/v1/suppliers/acme/invoices", json=body, headers=writer)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["outcomes"] == {"matched": 1, "price_mismatch": 1}
        assert [(ln["outcome"], ln["billed"], ln["expected"]) for ln in out["lines"]] == [
            ("price_mismatch", "11.00", "10.00"), ("matched", "5.00", "5.00")]
        again = client.post("/api/v1/suppliers/acme/invoices", json=body, headers=writer)
        assert again.status_code == 200 and again.json()["outcomes"] == out["outcomes"]
        bad = client.post("/api/v1/suppliers/acme/invoices", headers=writer,
                          json={**body, "number": "H-2", "lines": [{"sku": "A", "unit_price": "1.001"}]})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "lines", "0", "unit_price"]
        assert client.post("/api/v1/suppliers/nobody/invoices", json=body, headers=writer).status_code == 404
        (d,) = client.get("/api/v1/disputes", headers=reader).json()["disputes"]
        assert (d["outcome"], d["status"], d["difference"]) == ("price_mismatch", "open", "1.00")
        assert client.post(f"/api/v1/disputes/{d['id']}", json={"status": "claimed"}, headers=reader
                           ).status_code == 403
        r = client.post(f"/api/v1/disputes/{d['id']}", json={"status": "written_off", "note": "ok"}, headers=writer)
        assert r.json() == {"id": d["id"], "from": "open", "status": "written_off"}
        assert client.post(f"/api/v1/disputes/{d['id']}", json={"status": "won"}, headers=writer).status_code == 422
        assert client.post(f"/api/v1/disputes/{d['id']}", json={"status": "open"}, headers=writer).status_code == 409
        totals = client.get("/api/v1/disputes", headers=reader).json()["totals"]
        assert {(r["outcome"], r["dispute"], r["lines"]) for r in totals} == {("matched", None, 1),
                                                                             ("price_mismatch", "written_off", 1)}
        # Owed: what we accepted of the invoice (10.00 + 5.00), 30 days from its date; the 1.00 written off, 30
        # days from today.
        rows = client.get("/api/v1/payables", params={"supplier": "acme"}, headers=reader).json()["payables"]
        assert [(p["source"], p["amount"], p["due"]) for p in rows] == [  # by due date
            ("dispute", "1.00", "2026-04-01"), ("invoice", "15.00", "2026-04-04")]


def test_reconcile_and_disputes_on_the_command_line(tmp_path, monkeypatch, capsys):
    import sys

    from dropbridge.bootstrap import bootstrap
    from dropbridge.cli import main
    from dropbridge.storage.migrate import upgrade

    from ..conftest import make_settings

    db = f"sqlite:///{tmp_path / 'dropbridge.db'}"
    settings = make_settings(tmp_path, db)
    app = bootstrap(settings)
    upgrade(app.engine)
    app.ctx.connectors = _registry()
    app.ctx.enqueue = lambda job_id, delay=0: None
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"}, {"currency": "EUR"})
    add_supplier(app.ctx, "acme", "desk", "", {}, {"currency": "EUR", "iban": "DE89370400440532013000",
                                                   "bic": "COBADEFFXXX"})
    sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nA,100,10.00\n"), "acme.csv")
    w = World(app)
    _, key = w.order("shop", "acme", "A", 2, currency="EUR")
    w.ship("acme", key, "A", 1)
    app.close()
    for k, value in {"DROPBRIDGE_DATA_DIR": str(tmp_path), "DROPBRIDGE_DATABASE_URL": db, "COLUMNS": "250",
                     "DROPBRIDGE_QUEUE_URL": settings.resolved_queue_url,
                     "DROPBRIDGE_SECRET_KEYS": settings.secret_keys}.items():
        monkeypatch.setenv(k, value)
    monkeypatch.setattr("dropbridge.bootstrap.configure_logging", lambda *a, **k: None)

    def cli(*args):
        monkeypatch.setattr(sys, "argv", ["dropbridge", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        out, err = capsys.readouterr()
        return exit_.value.code, out, err

    invoice = tmp_path / "inv.csv"
    invoice.write_text(f"invoice,reference,sku,quantity,unit_price\nC-1,{key},A,2,10.00\n")
    code, out, _ = cli("reconcile", "acme", str(invoice))
    assert code == 1 and "invoice C-1: reconciled (1 over_billed)" in out and "20.00" in out
    code, out, _ = cli("reconcile", "acme", str(invoice), "--format", "json")
    assert code == 1 and json.loads(out)[0]["outcome"] == "over_billed"
    code, out, _ = cli("reconcile", "acme", str(invoice))
    assert "already reconciled: nothing changed" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("invoice,reference,sku,quantity,unit_price\nC-2,x,A,1,ten\n")
    code, _, err = cli("reconcile", "acme", str(bad))
    assert code == 2 and "bad.csv line 2, unit_price" in err
    code, out, _ = cli("disputes", "list", "--format", "csv")
    assert code == 0 and "over_billed,open" in out
    code, out, _ = cli("disputes", "set", "1", "claimed", "--note", "asked")
    assert code == 0 and "dispute 1: open -> claimed" in out
    code, out, _ = cli("disputes", "set", "1", "lost")
    assert code == 2
    code, out, _ = cli("disputes", "totals", "--format", "json")
    assert code == 0 and json.loads(out)[0]["difference"] == "10.00"

    # What we owe for it (the shipped unit we accept), batched with a CSV and a SEPA file, then paid.
    code, out, _ = cli("payables", "list", "--supplier", "acme", "--format", "json")
    (owed,) = json.loads(out)
    assert code == 0 and (owed["source"], owed["amount"], owed["currency"]) == ("invoice", "10.00", "EUR")
    code, out, _ = cli("payables", "list", "--due-before", "2026-03-03", "--format", "csv")
    assert code == 0 and out.strip() == "id,supplier,source,amount,currency,due,status,batch,memo"
    code, out, _ = cli("payables", "batch", "--due-before", "2099-01-01", "--out", str(tmp_path / "pay"),
                       "--debtor-name", "Our Shop", "--debtor-iban", "FR1420041010050500013M02606",
                       "--debtor-bic", "PSSTFRPPLIL")
    assert code == 0 and "batch 1: 1 payment(s), 10.00 EUR" in out
    assert "10.00" in (tmp_path / "pay" / "payment-batch-1.csv").read_text()
    assert b"<InstdAmt Ccy=\"EUR\">10.00</InstdAmt>" in (tmp_path / "pay" / "payment-batch-1.xml").read_bytes()
    code, out, _ = cli("payables", "batch", "--due-before", "2099-01-01", "--out", str(tmp_path / "pay"))
    assert code == 0 and "nothing due" in out
    code, out, _ = cli("payables", "mark-paid", "--batch", "1", "--reference", "BANK-9")
    assert code == 0 and "1 payable(s) marked paid" in out
    code, _, err = cli("payables", "mark-paid", "--batch", "1")
    assert code == 2 and "paid already" in err

    # The ledger as a journal: two balanced lines per entry, accounts from a mapping file.
    mapping = tmp_path / "accounts.json"
    mapping.write_text('{"supplier_cost": {"account": "3400", "contra": "1600"}}')
    code, out, _ = cli("export", "journal", "--accounts", str(mapping))
    lines = out.strip().splitlines()
    assert code == 0 and lines[0] == "date,entry,account,debit,credit,currency,description,order,store,supplier,kind"
    assert any(",3400,20.00,,EUR," in ln for ln in lines) and any(",1600,,20.00,EUR," in ln for ln in lines)
    code, out, _ = cli("export", "journal", "--out", str(tmp_path / "j.csv"), "--from", "2026-03-01")
    assert code == 0 and len((tmp_path / "j.csv").read_text().splitlines()) == len(lines)
    mapping.write_text('{"sales": {"account": "1"}}')
    code, _, err = cli("export", "journal", "--accounts", str(mapping))
    assert code == 2 and "'sales' is not a ledger kind" in err


def test_a_one_line_order_billed_under_the_suppliers_own_sku(world):
    w = world
    _, key = w.order("shop", "acme", "A", 1)
    w.ship("acme", key, "A", 1)
    out = import_invoice(w.ctx, "acme", SupplierInvoice("POD-1", "USD", (_line("CATALOG-4011", 1, "10.00", key),)),
                         "test")
    assert out["outcomes"] == {"matched": 1}
    # ... but not when the invoice also bills the order's own SKU: then the other line is unmatched
    _, k2 = w.order("shop", "acme", "B", 1)
    w.ship("acme", k2, "B", 1)
    out = import_invoice(w.ctx, "acme", SupplierInvoice("POD-2", "USD", (
        _line("CATALOG-4011", 1, "10.00", k2), _line("B", 1, "10.00", k2))), "test")
    assert [r["outcome"] for r in out["results"]] == ["unmatched", "matched"]


def test_an_xlsx_invoice_with_several_invoices_and_amount_columns():
    from openpyxl import Workbook

    def workbook(*rows) -> bytes:
        wb = Workbook()
        for row in rows:
            wb.active.append(row)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    head = ["Invoice No", "PO", "SKU", "Qty", "Line Total", "Type", "Date"]
    x1, x2 = read_invoices(workbook(head, ["X-1", "db-1-1-1", "A", 2, "21.00", "item", datetime(2026, 3, 4)],
                                    ["X-1", "db-1-1-1", None, 1, "4.00", "shipping", None],
                                    ["X-2", "db-2-1-1", "B", 3, "12.00", None, "2026-03-05"]),
                           "inv.xlsx", currency="EUR")
    assert (x1.number, x1.currency, x1.issued_at.date().isoformat()) == ("X-1", "EUR", "2026-03-04")
    assert [(ln.kind, ln.supplier_sku, ln.quantity, str(ln.unit_price)) for ln in x1.lines] == [
        ("item", "A", 2, "10.50 EUR"), ("shipping", None, 1, "4.00 EUR")]
    assert [(ln.supplier_sku, ln.quantity, str(ln.unit_price), ln.reference) for ln in x2.lines] == [
        ("B", 3, "4.00 EUR", "db-2-1-1")]
    with pytest.raises(ValidationError, match=r"inv.xlsx line 2, amount: amount 10.00 EUR does not divide"):
        read_invoices(workbook(head, ["X-3", "db-2-1-1", "B", 3, "10.00", None, None]), "inv.xlsx", currency="EUR")
    with pytest.raises(ValidationError, match=r"x.csv line 2, kind: 'refund' is not one of"):
        read_invoices(b"invoice,sku,quantity,unit_price,kind\nX,A,1,1.00,refund\n", "x.csv")
