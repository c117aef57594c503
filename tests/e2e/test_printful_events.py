"""What Printful tells dropbridge after an order is placed, over real HTTP on SQLite and PostgreSQL: its signed
webhooks reach the API, are stored and turned into facts by the worker. A store cancellation reaches Printful;
a failure at Printful reaches the merchant; a stock change reaches the offers. Every exchange with the
emulator is checked against Printful's OpenAPI documents."""

from __future__ import annotations

import uuid

import pytest

from dropbridge.domain.money import Money
from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.printful import PrintfulEmulator
from dropbridge.services.cancel_order import cancel_order
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.designs import attach_design
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_view import list_alerts
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.sync_catalog import sync_catalog
from tests.connectors.printful.openapi_check import SpecCheck, checked

from .helpers import running, wait_for


@pytest.fixture
def world(app):
    check = SpecCheck()
    store = HeadlessStoreEmulator("s")
    store.start()
    with running(app) as api:
        emulator = checked(PrintfulEmulator(api_token=f"pf-{uuid.uuid4().hex[:10]}", ship_after_seconds=None,
                                            cost_delay_seconds=0.1, webhook_url=f"{api.url}/webhooks/suppliers/pf",
                                            webhook_retry_delays=(0.2, 0.5, 1.0, 2.0)), check)
        emulator.start()
        conn = emulator.connection()
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "s"})
        add_supplier(app.ctx, "pf", "printful", conn["base_url"], conn["credentials"], conn["config"])
        assert sync_catalog(app.ctx, "pf").status == "applied"
        attach_design(app.ctx, "PF-4012", "front", "https://designs.example/front.png", "dtg")
        yield app, emulator
        emulator.stop()
    store.stop()
    assert check.violations == [], "\n\n".join(check.violations[:10])


def _order(app, external_id: str, sku: str = "PF-4012") -> int:
    ext = ExternalOrder(external_id=external_id, currency="USD",
                        ship_to=Address(name="J", address1="1 Main", city="Chatsworth", country_code="US",
                                        province_code="CA", postal_code="91311"),
                        lines=[ExternalOrderLine("1", sku, 1, Money(2400, "USD"))])
    return ingest_order(app.ctx, "shop", ext).order_id


def _supplier_order(app, order_id: int, status: str):
    def settled():
        with app.ctx.uow(read_only=True) as uow:
            sos = uow.supplier_orders.for_order(order_id)
            return sos[0] if sos and sos[0].status == status else None
    return wait_for(settled, timeout=45, interval=0.2)


def test_a_store_cancellation_cancels_the_order_at_printful(world):
    app, emulator = world
    order_id = _order(app, "C-1")
    so = _supplier_order(app, order_id, "submitted")
    assert cancel_order(app.ctx, order_id) == "cancelled"
    _supplier_order(app, order_id, "cancelled")
    assert [(o["external_id"], o["status"]) for o in emulator.order_list()] == [(so.idempotency_key, "canceled")]


def test_a_failure_at_printful_fails_the_supplier_order_and_tells_the_merchant(world):
    app, emulator = world
    order_id = _order(app, "F-1", "LOGO-TEE-WHT-L")  # a store product: placed through v1
    so = _supplier_order(app, order_id, "submitted")
    emulator.set_status(f"@{so.idempotency_key}", "failed", "The address could not be verified")
    failed = _supplier_order(app, order_id, "failed")
    assert failed.last_error == "failed at Printful: The address could not be verified"
    assert any(a["kind"] == "supplier_order.failed" and so.idempotency_key in a["message"]
               for a in list_alerts(app.ctx, 50))


def test_a_stock_change_at_printful_reaches_the_offer(world):
    app, emulator = world
    with app.ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name("pf")
        assert uow.offers.by_supplier_sku(supplier.id, "PF-4013").stock == 1000
    emulator.set_availability(4013, "out of stock")

    def zeroed():
        with app.ctx.uow(read_only=True) as uow:
            return uow.offers.by_supplier_sku(supplier.id, "PF-4013").stock == 0
    wait_for(zeroed, timeout=45, interval=0.2)
    with app.ctx.uow(read_only=True) as uow:
        assert uow.offers.by_supplier_sku(supplier.id, "PF-4012").stock == 1000  # a delta: the rest untouched


def test_a_draft_waits_for_the_merchant_who_is_told(world):
    app, emulator = world
    with app.ctx.uow() as uow:
        supplier = uow.suppliers.by_name("pf")
        supplier.config = {**supplier.config, "confirm": "draft"}
        uow.commit()
    app.ctx.forget_connectors()
    order_id = _order(app, "D-1")
    so = _supplier_order(app, order_id, "submitted")
    assert so.placement == "awaiting_payment"
    assert [o["status"] for o in emulator.order_list()] == ["draft"]
    assert any(a["kind"] == "supplier_order.awaiting_payment" for a in list_alerts(app.ctx, 50))
