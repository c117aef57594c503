"""AliExpress through dropbridge's services, against its emulator, on SQLite and PostgreSQL: a catalog pull, a
token renewed mid-pull and stored for the next process, an order that waits for payment (alerted when placed
and again past the window), and an order split across two sellers shipping in two parcels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dropbridge.domain.model import Supplier, SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.sandbox.aliexpress import AliExpressEmulator, generate
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.connector_secrets import VaultSecretStore
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_view import list_alerts, list_audit
from dropbridge.services.place_supplier_order import place_supplier_order
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.record_shipment import poll_tracking
from dropbridge.services.route_order import route_order
from dropbridge.services.sync_catalog import sync_catalog
from dropbridge.services.unpaid_orders import alert_unpaid_supplier_orders

SHIP_TO = Address(name="Jane Doe", address1="19749 Dearborn St", city="Chatsworth", province_code="CA",
                  postal_code="91311", country_code="US")


@pytest.fixture
def ali(app, request):
    options = {"products": generate(3, 2), **getattr(request, "param", {})}
    emulator = AliExpressEmulator(**options)
    emulator.start()
    conn = emulator.connection()
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"})
    add_supplier(app.ctx, "ali", "aliexpress", conn["base_url"], conn["credentials"], conn["config"])
    yield emulator
    emulator.stop()


def _skus(emulator) -> list[str]:
    return [f"{p.product_id}:{s.sku_id}" for p in emulator.products.values() for s in p.skus]


def _order(app, external_id, lines):
    ext = ExternalOrder(external_id=external_id, currency="USD", ship_to=SHIP_TO,
                        lines=[ExternalOrderLine(str(i + 1), sku, qty, Money(3000, "USD"))
                               for i, (sku, qty) in enumerate(lines)])
    order_id = ingest_order(app.ctx, "shop", ext).order_id
    assert route_order(app.ctx, order_id) == "routed"
    with app.ctx.uow(read_only=True) as uow:
        (so,) = uow.supplier_orders.for_order(order_id)
    return so


def _so(app, so_id) -> SupplierOrder:
    with app.ctx.uow(read_only=True) as uow:
        return uow.get(SupplierOrder, so_id)


@pytest.mark.parametrize("ali", [{"token_ttl_seconds": 120}], indirect=True)
def test_a_renewed_token_is_stored_encrypted_and_the_next_process_starts_from_it(app, ali):
    first = ali.connection()["credentials"]
    outcome = sync_catalog(app.ctx, "ali")
    assert (outcome.status, outcome.rows_read) == ("applied", 6)
    assert ali.calls["/auth/token/refresh"] == 1  # it expired within the renewal margin
    with app.ctx.uow(read_only=True) as uow:
        record = uow.suppliers.by_name("ali")
        configured = app.ctx.vault.decrypt(f"supplier:{record.id}", uow.get(Supplier, record.id).credentials)
    stored = VaultSecretStore(app.ctx, f"supplier:{record.id}").load()  # the runtime secrets, encrypted
    assert stored["access_token"] == ali.access_token != first["access_token"]
    assert stored["refresh_token"] == ali.refresh_token != first["refresh_token"]
    assert configured == first  # what the merchant configured is kept as given
    (event,) = [e for e in list_audit(app.ctx) if e["action"] == "connector.secrets_renewed"]
    assert event["detail"] == {"fields": ["access_token", "access_token_expires_at", "refresh_token"]}
    assert ali.access_token not in str(list_audit(app.ctx))
    # A new process: the refresh token it was first given is spent (rotated); the stored one works.
    app.ctx.forget_connectors()
    ali.expire_token()
    assert sync_catalog(app.ctx, "ali").status == "applied"
    assert ali.calls["/auth/token/refresh"] == 2


@pytest.mark.parametrize("ali", [{"auto_pay_allowed": False}], indirect=True)
def test_an_unpaid_order_is_alerted_when_placed_and_again_past_the_window_then_ships_once_paid(app, ali):
    sync_catalog(app.ctx, "ali")
    so = _order(app, "P-1", [(_skus(ali)[0], 2)])
    assert place_supplier_order(app.ctx, so.id) == "submitted"
    placed = _so(app, so.id)
    assert (placed.status, placed.placement) == ("submitted", "awaiting_payment")
    assert [c["out_order_id"] for c in ali.creations()] == [so.idempotency_key]
    assert any(a["kind"] == "supplier_order.awaiting_payment" for a in list_alerts(app.ctx, 20))
    now = app.ctx.clock()
    app.ctx.clock = lambda: now + timedelta(hours=25)
    assert alert_unpaid_supplier_orders(app.ctx) == 1
    assert alert_unpaid_supplier_orders(app.ctx) == 0
    assert poll_tracking(app.ctx) == 0  # unpaid: nothing ships
    ali.pay(placed.external_id)
    ali.ship(placed.external_id)
    assert poll_tracking(app.ctx) == 1
    shipped = _so(app, so.id)
    assert shipped.status == "shipped"
    app.ctx.clock = lambda: now + timedelta(hours=50)
    assert alert_unpaid_supplier_orders(app.ctx) == 0


@pytest.mark.parametrize("ali", [{"auto_pay_allowed": True}], indirect=True)
def test_an_order_split_between_two_sellers_ships_in_two_parcels(app, ali):
    add_supplier(app.ctx, "ali", "aliexpress", ali.url, {}, {"auto_pay": True})
    sync_catalog(app.ctx, "ali")
    a, b = _skus(ali)[0], _skus(ali)[2]  # two products, two stores
    so = _order(app, "S-1", [(a, 1), (b, 3)])
    place_supplier_order(app.ctx, so.id)
    placed = _so(app, so.id)
    assert placed.placement == "accepted"
    first, second = placed.external_id.split(",")
    ali.ship(second)
    assert poll_tracking(app.ctx) == 1
    assert _so(app, so.id).status == "partially_shipped"
    ali.ship(first)
    assert poll_tracking(app.ctx) == 1
    assert _so(app, so.id).status == "shipped"
    with app.ctx.uow(read_only=True) as uow:
        shipments = uow.shipments.for_order(so.order_id)
    assert sorted(sum(ln["quantity"] for ln in s.lines) for s in shipments) == [1, 3]
