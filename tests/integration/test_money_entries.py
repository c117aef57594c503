"""What an order puts in the ledger, end to end through intake, routing, placement and cancellation, on
SQLite and PostgreSQL: tax collected apart from revenue (prices with and without tax), each fee and
commission as its own kind, a supplier's order and handling fees apart from its shipping, the supplier's
stated cost against our estimate, and the margin report's bases."""

from __future__ import annotations

import io

import pytest

from dropbridge.connectors.config import SupplierConfig
from dropbridge.connectors.registry import ConnectorSpec, Registry
from dropbridge.domain.errors import ValidationError
from dropbridge.domain.money import Money
from dropbridge.services.cancel_order import cancel_order
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.margin_report import margin_summary
from dropbridge.services.order_view import order_detail
from dropbridge.services.place_supplier_order import place_supplier_order
from dropbridge.services.ports import (
    Address,
    Capability,
    CostReported,
    ExternalOrder,
    ExternalOrderLine,
    OrderAcknowledged,
    PlacedOrder,
)
from dropbridge.services.route_order import route_order
from dropbridge.services.supplier_replies import acknowledge_supplier_order, record_supplier_cost
from dropbridge.services.sync_feed import sync_feed


class StatingSupplier:
    """An order desk that says what the order will cost when it accepts it."""

    stated: Money | None = None

    def place_order(self, request):
        return PlacedOrder(external_id="S-1", reference=request.reference, status="accepted", cost=self.stated)

    def find_order(self, reference):
        return None


@pytest.fixture
def shop(app):
    desk = StatingSupplier()
    spec = ConnectorSpec(name="stating", role="supplier", config_model=SupplierConfig, needs_url=False,
                         capabilities=frozenset({Capability.ORDERS}),
                         factory=lambda url, creds, cfg: desk, implementation=StatingSupplier)
    app.ctx.connectors = Registry([*Registry.default().specs(), spec])
    app.ctx.enqueue = lambda job_id, delay=0: None  # jobs run by hand below
    add_store(app.ctx, "eu", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"},
              {"currency": "EUR", "taxes_included": True, "payment_fee_percent": "1.5", "payment_fee_fixed": "0.25",
               "platform_fee_percent": "2", "commission_percent": "10", "commission_fixed": "1.00"})
    add_supplier(app.ctx, "pod", "stating", "", {},
                 {"currency": "EUR", "shipping_per_order": "4.00", "order_fee": "1.50",
                  "handling_fee_per_unit": "0.20", "commission_percent": "5"})
    sync_feed(app.ctx, "pod", io.BytesIO(b"sku,qty,cost\nTEE,50,8.00\n"), "pod.csv")
    return app, desk


def _entries(app, order_id):
    return [(e["kind"], e["amount"]) for e in order_detail(app.ctx, order_id)["ledger"]]


def _eur(s):
    return Money.parse(s, "EUR")


def test_a_tax_inclusive_order_routed_placed_stated_and_cancelled(shop):
    app, desk = shop
    # 2 x 30.00 with 20% VAT inside, 5.00 off the line (VAT on 55.00 is 9.17), shipping 6.00 with 1.00 VAT.
    ext = ExternalOrder(external_id="V-1", currency="EUR",
                        ship_to=Address(name="J", address1="1 Rue", city="Paris", country_code="FR"),
                        shipping_price=_eur("6.00"), total_tax=_eur("10.17"),
                        lines=[ExternalOrderLine("1", "TEE", 2, _eur("30.00"), discount=_eur("5.00"),
                                                 tax=_eur("9.17"))])
    order_id = ingest_order(app.ctx, "eu", ext).order_id
    assert _entries(app, order_id) == [
        ("revenue", "45.83"), ("tax_collected", "9.17"), ("shipping_revenue", "5.00"), ("tax_collected", "1.00"),
        # charged 61.00: payment 1.5% (0.92) + 0.25; platform 2% (1.22); commission 10% of 50.83 (5.08) + 1.00
        ("payment_fee", "-1.17"), ("platform_fee", "-1.22"), ("commission", "-6.08")]

    assert route_order(app.ctx, order_id) == "routed"
    assert _entries(app, order_id)[7:] == [
        ("supplier_cost", "-16.00"), ("supplier_shipping", "-4.00"),
        ("supplier_fee", "-1.90"),  # 1.50 per order + 2 x 0.20 handling
        ("commission", "-0.80")]  # 5% of the goods
    d = order_detail(app.ctx, order_id)
    assert (d["margin"]["revenue_total"], d["margin"]["tax_total"]) == ("50.83", "10.17")
    assert d["margin"]["margin"] == "19.66"  # 50.83 - 8.47 store fees - 22.70 supplier

    desk.stated = _eur("16.60")
    with app.ctx.uow(read_only=True) as uow:
        (so,) = uow.supplier_orders.for_order(order_id)
    assert place_supplier_order(app.ctx, so.id) == "submitted"
    variance = [e for e in order_detail(app.ctx, order_id)["ledger"] if e["kind"] == "cost_variance"]
    assert [(e["amount"], e["supplier"]) for e in variance] == [("-0.60", "pod")]
    assert "supplier states 16.60 EUR for goods, estimated 16.00 EUR" in variance[0]["memo"]
    # Restated lower later: only the change is appended; the same statement again appends nothing.
    for _ in range(2):
        record_supplier_cost(app.ctx, so.supplier_id, CostReported(so.idempotency_key, _eur("15.90")))
    assert [e["amount"] for e in order_detail(app.ctx, order_id)["ledger"] if e["kind"] == "cost_variance"] == [
        "-0.60", "0.70"]

    report = margin_summary(app.ctx, "order")
    (row,) = report["rows"]
    assert (row["basis"], row["revenue"], row["tax_collected"], row["margin"]) == ("expected", "50.83", "10.17",
                                                                                  "19.76")
    (sup,) = margin_summary(app.ctx, "supplier")["rows"]
    assert {k: sup[k] for k in ("goods_cost", "shipping_cost", "fees", "cost_variance", "total_cost")} == {
        "goods_cost": "16.00", "shipping_cost": "4.00", "fees": "2.70", "cost_variance": "-0.10",
        "total_cost": "22.60"}
    assert "margin" not in sup

    assert cancel_order(app.ctx, order_id) == "cancelled"
    # Submitted: the supplier is asked to cancel (a job); the customer's money and the tax on it go back.
    after = _entries(app, order_id)
    assert ("refund", "-50.83") in after and ("tax_collected", "-10.17") in after
    (row,) = margin_summary(app.ctx, "order")["rows"]
    assert (row["basis"], row["revenue"], row["tax_collected"]) == ("cancelled", "50.83", "0.00")


def test_store_and_supplier_fee_settings_are_validated(app):
    with pytest.raises(ValidationError, match="platform_fee_percent"):
        add_store(app.ctx, "s", "headless", "http://127.0.0.1:9/e", {"webhook_secret": "s"},
                  {"platform_fee_percent": "120"})
    with pytest.raises(ValidationError, match="handling_fee_per_unit"):
        add_supplier(app.ctx, "x", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"handling_fee_per_unit": "-1"})
    with pytest.raises(ValidationError, match="taxes_included"):
        add_store(app.ctx, "s", "headless", "http://127.0.0.1:9/e", {"webhook_secret": "s"},
                  {"taxes_included": "perhaps"})


def test_an_order_held_for_an_unroutable_line_is_never_margin(shop):
    app, _ = shop
    ext = ExternalOrder(external_id="H-1", currency="EUR", ship_to=Address(name="J", address1="1", city="P",
                                                                           country_code="FR"),
                        lines=[ExternalOrderLine("1", "NOPE", 1, _eur("100.00"), tax=_eur("16.67"))])
    order_id = ingest_order(app.ctx, "eu", ext).order_id
    assert route_order(app.ctx, order_id) == "on hold"
    (row,) = margin_summary(app.ctx, "order")["rows"]
    assert (row["basis"], row["revenue"], row["tax_collected"]) == ("unroutable", "83.33", "16.67")
    assert [t["basis"] for t in margin_summary(app.ctx, "order")["totals"]] == ["unroutable"]
    with app.ctx.uow(read_only=True) as uow:
        assert uow.supplier_orders.for_order(order_id) == []


def test_a_cost_stated_on_acknowledgement_records_the_variance_once(shop):
    app, desk = shop
    ext = ExternalOrder(external_id="A-1", currency="EUR", ship_to=Address(name="J", address1="1", city="P",
                                                                           country_code="FR"),
                        lines=[ExternalOrderLine("1", "TEE", 3, _eur("20.00"))])
    order_id = ingest_order(app.ctx, "eu", ext).order_id
    route_order(app.ctx, order_id)
    with app.ctx.uow(read_only=True) as uow:
        (so,) = uow.supplier_orders.for_order(order_id)
    place_supplier_order(app.ctx, so.id)  # states nothing
    assert not [e for e in order_detail(app.ctx, order_id)["ledger"] if e["kind"] == "cost_variance"]
    for _ in range(2):  # an 855 re-delivered
        acknowledge_supplier_order(app.ctx, so.supplier_id, OrderAcknowledged(so.idempotency_key, "S-1",
                                                                              cost=_eur("23.10")))
    assert [e["amount"] for e in order_detail(app.ctx, order_id)["ledger"] if e["kind"] == "cost_variance"] == [
        "0.90"]  # 3 x 8.00 estimated, 23.10 stated: cheaper than expected
