"""The vendor report over generated suppliers, orders and shipments whose every figure is known, on SQLite and
PostgreSQL: a whole and a partial refusal, a failed order, one awaiting acknowledgement, a late shipment and
one overdue, two shipments on one order, cost variance entries, defects reported twice; through the service,
the API and the command line (CSV neutralised, bad dates exit 2)."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from dropbridge.domain.errors import NotFound, ValidationError
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.queries.vendors import vendor_performance
from dropbridge.services.report_defect import report_defect
from dropbridge.storage import tables as t

from ..conftest import make_settings

T0 = datetime(2025, 3, 1, 10, tzinfo=UTC)
NOW = datetime(2025, 3, 20, 12, tzinfo=UTC)
D, H = timedelta(days=1), timedelta(hours=1)


class Gen:
    """Rows written straight to the tables, as the services leave them."""

    def __init__(self, app):
        self.app = app
        self.n = 0

    def run(self, table, **values) -> int:
        with self.app.engine.begin() as conn:
            return conn.execute(insert(table).returning(table.c.id), values).scalar_one()

    def supplier_order(self, supplier_id: int, status: str, lines: int, *, created=T0, submitted=T0,
                       placement="accepted", refused: int = 0, shipments=()) -> int:
        """An order of `lines + refused` lines; `refused` of them refused by the supplier (removed from its order,
        recorded as refusals); shipments: (created_at, shipped_at or None, pushed_at or None)."""
        self.n += 1
        order_id = self.run(t.orders, store_id=1, external_id=f"O-{self.n}", currency="EUR", status="submitted",
                            ship_to={}, shipping_price_minor=0, flags={}, fx={}, created_at=created,
                            updated_at=created)
        so_id = self.run(t.supplier_orders, supplier_id=supplier_id, order_id=order_id,
                         idempotency_key=f"db-{order_id}-{supplier_id}-1", status=status, currency="EUR",
                         shipping_cost_minor=0, placement=placement, created_at=created, updated_at=created,
                         submitted_at=submitted)
        for n in range(lines + refused):
            line_id = self.run(t.order_lines, order_id=order_id, line_no=n + 1, sku=f"SKU-{n}", quantity=1,
                               unit_price_minor=1000, status="routed")
            if n < lines:
                self.run(t.supplier_order_lines, supplier_order_id=so_id, order_line_id=line_id,
                         supplier_sku=f"S-{n}", quantity=1, unit_cost_minor=500, currency="EUR")
            if n >= lines or status == "rejected":
                self.run(t.supplier_line_refusals, supplier_order_id=so_id, supplier_id=supplier_id,
                         order_line_id=line_id, supplier_sku=f"S-{n}", quantity=1, reason="out of stock",
                         created_at=created)
        for k, (at, shipped, pushed) in enumerate(shipments):
            self.run(t.shipments, supplier_order_id=so_id, carrier="UPS", tracking_number=f"1Z{so_id}{k}",
                     lines=[], created_at=at, shipped_at=shipped, pushed_at=pushed)
        return order_id

    def variance(self, order_id: int, supplier_id: int, amount: int, at: datetime) -> None:
        self.run(t.ledger_entries, order_id=order_id, store_id=1, supplier_id=supplier_id, kind="cost_variance",
                 amount_minor=amount, currency="EUR", memo="x", created_at=at)


@pytest.fixture
def vendors(app):
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/e", {"webhook_secret": "s"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"lead_time_days": 3})
    add_supplier(app.ctx, "beta", "rest", "http://127.0.0.1:9", {"api_key": "k"})  # promises 7 days by default
    g = Gen(app)
    acme = 1
    shipped = {}
    # Shipped in 1 day (its second shipment later); tracking at the store after 2 h and 6 h.
    shipped["fast"] = g.supplier_order(acme, "shipped", 2, shipments=[(T0 + D, T0 + D, T0 + D + 2 * H),
                                                                      (T0 + 4 * D, T0 + 4 * D, T0 + 4 * D + 6 * H)])
    # No ship date given: the day it arrived here counts (2 days); tracking after 4 h.
    g.supplier_order(acme, "shipped", 1, shipments=[(T0 + 2 * D, None, T0 + 2 * D + 4 * H)])
    # Late: 5 days against 3 promised; tracking after 1 h.
    shipped["late"] = g.supplier_order(acme, "shipped", 1, shipments=[(T0 + 5 * D, T0 + 5 * D, T0 + 5 * D + H)])
    g.supplier_order(acme, "rejected", 2)  # refused whole: 2 lines refused
    # One line of three refused; the two kept shipped in exactly 3 days (on time); tracking after 3 h.
    g.supplier_order(acme, "shipped", 2, refused=1, shipments=[(T0 + 3 * D, T0 + 3 * D, T0 + 3 * D + 3 * H)])
    g.supplier_order(acme, "submitted", 1)  # taken, never shipped, 19 days on: late
    g.supplier_order(acme, "pending", 1, submitted=None)  # not sent yet: not placed
    g.supplier_order(acme, "submitted", 1, placement="awaiting_ack")  # placed, not yet accepted nor refused
    g.supplier_order(acme, "failed", 1)
    g.supplier_order(acme, "cancelled", 1, submitted=None)  # cancelled before it was sent: not placed
    feb = g.supplier_order(acme, "shipped", 1, created=T0 - 9 * D, submitted=T0 - 9 * D,
                           shipments=[(T0 - 8 * D, T0 - 8 * D, None)])
    g.variance(shipped["fast"], acme, -60, T0 + D)  # supplier charged 0.60 more
    g.variance(shipped["fast"], acme, 20, T0 + 2 * D)  # then 0.20 less
    g.variance(feb, acme, -999, T0 - 5 * D)  # before the range
    app.ctx.clock = lambda: NOW
    return app, shipped


ACME = {"supplier": "acme", "orders_placed": 8, "lines_requested": 11, "lines_accepted": 7, "fill_rate": "63.6",
        "refused_orders": 2, "refusal_rate": "25.0", "promised_days": 3, "on_time_rate": "60.0", "late": 2,
        "lead_time_median_days": "2.50", "lead_time_p90_days": "5.00", "tracking_median_hours": "3.00",
        "tracking_p90_hours": "6.00", "invoice_accuracy": None, "invoice_lines_checked": 0, "cost_variance": "EUR 0.40",
        "cost_variance_entries": 2, "defects": 2}
BETA = {"supplier": "beta", "orders_placed": 0, "lines_requested": 0, "lines_accepted": 0, "fill_rate": None,
        "refused_orders": 0, "refusal_rate": None, "promised_days": 7, "on_time_rate": None, "late": 0,
        "lead_time_median_days": None, "lead_time_p90_days": None, "tracking_median_hours": None,
        "tracking_p90_hours": None, "invoice_accuracy": None, "invoice_lines_checked": 0, "cost_variance": None,
        "cost_variance_entries": 0,
        "defects": 0}


def test_every_figure_of_the_vendor_report(vendors):
    app, shipped = vendors
    app.ctx.clock = lambda: NOW - 10 * D
    report_defect(app.ctx, shipped["fast"], "acme", "wrong_item", "a blue tee, not red")
    report_defect(app.ctx, shipped["fast"], "acme", "damaged")  # the same shipment again: one defective shipment
    report_defect(app.ctx, shipped["late"], "acme", "missing_item")
    app.ctx.clock = lambda: NOW

    report = vendor_performance(app.ctx, T0.date(), NOW.date())
    assert report["rows"] == [ACME, BETA]
    assert list(report["columns"]) == list(ACME)
    assert "tolerance" in report["notes"]["invoice_accuracy"]

    # Without a range the February order counts too (shipped in 1 day, its variance entry as well).
    (acme, _) = vendor_performance(app.ctx)["rows"]
    assert (acme["orders_placed"], acme["lead_time_median_days"], acme["cost_variance"],
            acme["cost_variance_entries"]) == (9, "2.00", "EUR 10.39", 3)
    # Defects count by the day they were reported.
    (acme, _) = vendor_performance(app.ctx, (NOW - 5 * D).date(), None)["rows"]
    assert (acme["orders_placed"], acme["defects"], acme["fill_rate"]) == (0, 0, None)
    with pytest.raises(ValidationError, match="--to is before --from"):
        vendor_performance(app.ctx, NOW.date(), T0.date())

    with app.ctx.uow(read_only=True) as uow:
        (event,) = [e for e in uow.audit.recent() if e.detail.get("kind") == "missing_item"]
    assert (event.action, event.subject) == ("shipment.defect_reported", "shipment:4")


def test_a_defect_needs_a_shipment_of_that_supplier_and_a_known_kind(vendors):
    app, shipped = vendors
    with pytest.raises(ValidationError, match="beta has shipped nothing on order"):
        report_defect(app.ctx, shipped["fast"], "beta", "wrong_item")
    with pytest.raises(ValidationError, match="kind is one of"):
        report_defect(app.ctx, shipped["fast"], "acme", "late")
    with pytest.raises(NotFound):
        report_defect(app.ctx, 999, "acme", "wrong_item")
    with pytest.raises(NotFound):
        report_defect(app.ctx, shipped["fast"], "nobody", "wrong_item")
    with app.engine.connect() as conn:
        assert conn.execute(t.shipment_defects.select()).all() == []


def test_the_vendor_report_over_http(vendors):
    from dropbridge.api.app import create_app
    from dropbridge.services.tokens import create_token

    app, _ = vendors
    token = create_token(app.ctx, "reader", ["read"])
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as client:
        r = client.get("/api/v1/reports/vendors", params={"from": "2025-03-01", "to": "2025-03-31"})
        assert r.status_code == 200
        assert r.json()["rows"] == [{**ACME, "defects": 0}, BETA]
        assert client.get("/api/v1/reports/vendors", params={"to": "9999-12-31"}).json()["rows"][0]["late"] == 2
        assert client.get("/api/v1/reports/margin", params={"to": "9999-12-31"}).status_code == 200
        assert client.get("/api/v1/reports/vendors", params={"from": "2025-13-01"}).status_code == 422
        assert client.get("/api/v1/reports/vendors", params={"from": "2025-03-02", "to": "2025-03-01"}
                          ).status_code == 422
        assert client.get("/api/v1/reports/vendors", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_report_vendors_and_report_defect_on_the_command_line(tmp_path, monkeypatch, capsys):
    from dropbridge.bootstrap import bootstrap
    from dropbridge.cli import main
    from dropbridge.storage.migrate import upgrade

    db = f"sqlite:///{tmp_path / 'dropbridge.db'}"
    settings = make_settings(tmp_path, db)
    app = bootstrap(settings)
    upgrade(app.engine)
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/e", {"webhook_secret": "s"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"lead_time_days": 2})
    order_id = Gen(app).supplier_order(1, "shipped", 1, shipments=[(T0 + D, T0 + D, T0 + D + H)])
    Gen(app).variance(order_id, 1, 150, T0 + D)
    app.close()
    for key, value in {"DROPBRIDGE_DATA_DIR": str(tmp_path), "DROPBRIDGE_DATABASE_URL": db, "COLUMNS": "250",
                       "DROPBRIDGE_QUEUE_URL": settings.resolved_queue_url,
                       "DROPBRIDGE_SECRET_KEYS": settings.secret_keys}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("dropbridge.bootstrap.configure_logging", lambda *a, **k: None)

    def cli(*args):
        monkeypatch.setattr(sys, "argv", ["dropbridge", *args])
        with pytest.raises(SystemExit) as done:
            main()
        out = capsys.readouterr()
        return done.value.code, out.out, out.err

    code, out, _ = cli("orders", "report-defect", str(order_id), "--supplier=acme", "--kind", "missing_item",
                       "--note", "no socks")
    assert code == 0 and "missing_item on shipment 1 of acme" in out
    code, _, err = cli("orders", "report-defect", str(order_id), "--supplier=acme", "--kind", "lost")
    assert code == 2 and "error:" in err
    code, out, _ = cli("report", "vendors", "--from", "2025-03-01", "--to", "2025-03-31", "--format", "csv")
    assert code == 0
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert (row["supplier"], row["orders_placed"], row["fill_rate"], row["on_time_rate"], row["defects"],
            row["cost_variance"], row["invoice_accuracy"], row["refusal_rate"]) == (
        "acme", "1", "100.0", "100.0", "0", "EUR -1.50", "n/a", "0.0")  # the defect was reported today
    code, out, _ = cli("report", "vendors", "--format", "json")
    assert code == 0 and (json.loads(out)[0]["lead_time_median_days"], json.loads(out)[0]["defects"]) == ("1.00", 1)
    code, out, _ = cli("report", "vendors")
    assert code == 0 and "vendor performance" in out and "acme" in out and "n/a" in out
    code, _, err = cli("report", "vendors", "--from", "2025-02-30")
    assert code == 2 and "error:" in err and "--from" in err
    code, _, err = cli("report", "vendors", "--from", "2025-03-10", "--to", "2025-03-01")
    assert code == 2 and "error: --to is before --from" in err


class Desk:
    """An order desk that takes every order."""

    def place_order(self, request):
        from dropbridge.services.ports import PlacedOrder

        return PlacedOrder(external_id="S-1", reference=request.reference, status="accepted")

    def find_order(self, reference):
        return None


def test_lines_refused_on_acknowledgement_count_against_the_fill_rate(app):
    """A partly refused order loses the refused line (it goes back to routing): the refusal is kept apart."""
    from dropbridge.connectors.config import SupplierConfig
    from dropbridge.connectors.registry import ConnectorSpec, Registry
    from dropbridge.domain.money import Money
    from dropbridge.services.ingest_order import ingest_order
    from dropbridge.services.place_supplier_order import place_supplier_order
    from dropbridge.services.ports import (
        Address,
        Capability,
        ExternalOrder,
        ExternalOrderLine,
        LineDecision,
        OrderAcknowledged,
    )
    from dropbridge.services.route_order import route_order
    from dropbridge.services.supplier_replies import acknowledge_supplier_order
    from dropbridge.services.sync_feed import sync_feed

    spec = ConnectorSpec(name="desk", role="supplier", config_model=SupplierConfig, needs_url=False,
                         capabilities=frozenset({Capability.ORDERS}), factory=lambda url, creds, cfg: Desk(),
                         implementation=Desk)
    app.ctx.connectors = Registry([*Registry.default().specs(), spec])
    app.ctx.enqueue = lambda job_id, delay=0: None
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/e", {"webhook_secret": "s"}, {"currency": "EUR"})
    add_supplier(app.ctx, "pod", "desk", "", {}, {"currency": "EUR"})
    sync_feed(app.ctx, "pod", io.BytesIO(b"sku,qty,cost\nTEE,5,8.00\nCAP,5,3.00\n"), "pod.csv")
    order_id = ingest_order(app.ctx, "shop", ExternalOrder(
        external_id="A-1", currency="EUR", ship_to=Address(name="J", address1="1", city="P", country_code="FR"),
        lines=[ExternalOrderLine("1", "TEE", 1, Money(2000, "EUR")),
               ExternalOrderLine("2", "CAP", 1, Money(1000, "EUR"))])).order_id
    assert route_order(app.ctx, order_id) == "routed"
    with app.ctx.uow(read_only=True) as uow:
        (so,) = uow.supplier_orders.for_order(order_id)
    assert place_supplier_order(app.ctx, so.id) == "submitted"
    assert acknowledge_supplier_order(app.ctx, so.supplier_id, OrderAcknowledged(
        so.idempotency_key, lines=(LineDecision("CAP", 1, "rejected", "discontinued"),))).endswith("re-routed")
    (pod,) = vendor_performance(app.ctx)["rows"]
    assert {k: pod[k] for k in ("orders_placed", "lines_requested", "lines_accepted", "fill_rate",
                                "refused_orders", "refusal_rate")} == {
        "orders_placed": 1, "lines_requested": 2, "lines_accepted": 1, "fill_rate": "50.0", "refused_orders": 1,
        "refusal_rate": "100.0"}
