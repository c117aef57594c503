"""Landed cost from shipping quotes: a supplier with Capability.SHIPPING_QUOTE is asked what shipping costs
before the routing transaction, its cheapest quote replaces its configured shipping, the method travels on
the supplier order, and a failed quote falls back to the configured terms with the reason said. On SQLite
and PostgreSQL, with a fake connector behind the real registry."""

from __future__ import annotations

import contextlib
import io

import pytest

from dropbridge.connectors.config import SupplierConfig
from dropbridge.connectors.registry import ConnectorSpec, Registry
from dropbridge.domain.errors import RetryableError
from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.model import Order
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.ports import (
    Address,
    Capability,
    ExternalOrder,
    ExternalOrderLine,
    PlacedOrder,
    ShippingOption,
)
from dropbridge.services.route_order import route_order
from dropbridge.services.sync_feed import sync_feed


class QuotingSupplier:
    """An order desk that prices shipping; records each quote request and whether a write transaction was
    open when it was asked."""

    def __init__(self, watch):
        self.watch = watch
        self.options: list[ShippingOption] = []
        self.error: Exception | None = None
        self.requests = []
        self.asked_inside_transaction = []

    def place_order(self, request):
        return PlacedOrder(external_id="Q-1", reference=request.reference, status="accepted")

    def find_order(self, reference):
        return None

    def quote_shipping(self, request):
        self.requests.append(request)
        self.asked_inside_transaction.append(self.watch.open > 0)
        if self.error is not None:
            raise self.error
        return list(self.options)


class TransactionWatch:
    """The unit-of-work factory, counting write transactions open right now."""

    def __init__(self, inner):
        self.inner = inner
        self.open = 0

    def __call__(self, read_only: bool = False):
        @contextlib.contextmanager
        def tracked():
            if not read_only:
                self.open += 1
            try:
                with self.inner(read_only=read_only) as uow:
                    yield uow
            finally:
                if not read_only:
                    self.open -= 1
        return tracked()

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def quoting(app):
    watch = TransactionWatch(app.ctx.uow)
    app.ctx.uow = watch
    supplier = QuotingSupplier(watch)
    spec = ConnectorSpec(name="quoting", role="supplier", config_model=SupplierConfig, needs_url=False,
                         capabilities=frozenset({Capability.ORDERS, Capability.SHIPPING_QUOTE}),
                         factory=lambda url, creds, cfg: supplier, implementation=QuotingSupplier)
    app.ctx.connectors = Registry([*Registry.default().specs(), spec])
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"})
    # Configured shipping says 1.00: only a quote can make this supplier dearer than `other`.
    add_supplier(app.ctx, "pod", "quoting", "", {}, {"currency": "USD", "shipping_per_order": "1.00"})
    add_supplier(app.ctx, "other", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                 {"currency": "USD", "shipping_per_order": "4.00"})
    _feed(app, "pod", [("TEE", 50, "8.00")])
    _feed(app, "other", [("TEE", 50, "9.00")])
    return supplier


def _feed(app, supplier, rows):
    text = "sku,qty,cost\n" + "".join(f"{s},{q},{c}\n" for s, q, c in rows)
    return sync_feed(app.ctx, supplier, io.BytesIO(text.encode()), f"{supplier}.csv")


def _order(app, external_id, qty=1):
    ext = ExternalOrder(external_id=external_id, currency="USD",
                        ship_to=Address(name="J", address1="1 Main", city="Chatsworth", country_code="US",
                                        postal_code="91311", province_code="CA"),
                        lines=[ExternalOrderLine("1", "TEE", qty, Money(2000, "USD"))])
    return ingest_order(app.ctx, "shop", ext).order_id


def _routed(app, order_id):
    with app.ctx.uow(read_only=True) as uow:
        order = uow.get(Order, order_id)
        sos = uow.supplier_orders.for_order(order_id)
        suppliers = {s.id: s.name for s in uow.suppliers.all()}
        ledger = [(e.kind, e.amount_minor, e.memo) for e in uow.ledger.for_order(order_id)]
        reasons = {c["supplier"]: c["reason"] for c in order.lines[0].routing["candidates"]}
        return [(suppliers[so.supplier_id], so.shipping_method, so.shipping_cost_minor) for so in sos], reasons, ledger


def test_the_cheapest_quote_prices_landed_cost_and_its_method_travels(app, quoting):
    quoting.options = [ShippingOption("EXPRESS", "Express", Money(1500, "USD"), 2, 3),
                       ShippingOption("STANDARD", "Flat Rate", Money(399, "USD"), 4, 7)]
    order_id = _order(app, "Q-1", qty=2)
    assert route_order(app.ctx, order_id) == "routed"
    sos, reasons, ledger = _routed(app, order_id)
    # pod: 2 x 8.00 + 3.99 = 19.99 against other: 2 x 9.00 + 4.00 = 22.00
    assert sos == [("pod", "STANDARD", 399)]
    assert reasons["pod"] == "lowest landed cost (shipping quoted: Flat Rate 3.99 USD)"
    assert reasons["other"] == "landed cost 22.00 USD above 19.99 USD"
    assert [(k, a) for k, a, _ in ledger if k == EntryKind.SUPPLIER_SHIPPING] == [(EntryKind.SUPPLIER_SHIPPING, -399)]
    (request,) = quoting.requests
    assert [(i.supplier_sku, i.quantity) for i in request.items] == [("TEE", 2)]
    assert (request.country_code, request.postal_code, request.province_code, request.currency, request.city,
            request.address1) == ("US", "91311", "CA", "USD", "Chatsworth", "1 Main")
    assert quoting.asked_inside_transaction == [False]


def test_a_dear_quote_loses_to_a_supplier_with_configured_terms(app, quoting):
    quoting.options = [ShippingOption("STANDARD", "Flat Rate", Money(900, "USD"))]
    order_id = _order(app, "Q-2")
    route_order(app.ctx, order_id)
    sos, reasons, _ = _routed(app, order_id)
    # pod: 8.00 + 9.00 = 17.00 against other: 9.00 + 4.00 = 13.00 (pod's configured 1.00 would have won)
    assert sos == [("other", None, 400)]
    assert reasons["pod"] == "landed cost 17.00 USD above 13.00 USD (shipping quoted: Flat Rate 9.00 USD)"


def test_a_failed_quote_falls_back_to_configured_terms_and_says_so(app, quoting):
    quoting.error = RetryableError("printful: HTTP 503")
    order_id = _order(app, "Q-3")
    assert route_order(app.ctx, order_id) == "routed"
    sos, reasons, _ = _routed(app, order_id)
    assert sos == [("pod", None, 100)]  # 8.00 + 1.00 configured: still the cheapest
    assert reasons["pod"] == ("lowest landed cost (shipping quote failed, configured shipping used: "
                              "printful: HTTP 503)")


def test_a_quote_in_another_currency_is_not_used(app, quoting):
    quoting.options = [ShippingOption("STANDARD", "Flat Rate", Money(100, "EUR"))]
    order_id = _order(app, "Q-4")
    route_order(app.ctx, order_id)
    sos, reasons, _ = _routed(app, order_id)
    assert sos == [("pod", None, 100)]
    assert reasons["pod"].endswith("(shipping quote offered no method in USD, configured shipping used)")


def test_a_supplier_quoting_nothing_keeps_its_terms_and_others_are_never_asked(app, quoting):
    with app.ctx.uow() as uow:
        uow.suppliers.by_name("pod").config = {"currency": "USD", "shipping_per_order": "1.00",
                                               "ships_to": ["DE"]}
        uow.commit()
    order_id = _order(app, "Q-5")
    route_order(app.ctx, order_id)
    sos, reasons, _ = _routed(app, order_id)
    assert len(quoting.requests) == 1 and sos == [("other", None, 400)]  # asked, but does not ship to US
    assert reasons["other"] == "only eligible offer"  # the rest kind cannot quote: never asked, no note
    assert reasons["pod"] == "does not ship to US (shipping quote offered no method, configured shipping used)"
