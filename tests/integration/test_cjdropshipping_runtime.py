"""CJdropshipping inside a deployment, on SQLite and PostgreSQL: the access token kept encrypted in the
database and shared by every connector of the connection, forgotten when the credentials change; orders that
wait for payment alerted at once and again when still unpaid; webhooks admitted by the secret in their URL
(which is never stored) and turned into a shipment."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dropbridge.api.app import create_app
from dropbridge.connectors.kit.budget import RateBudget
from dropbridge.domain.errors import ConfigurationError
from dropbridge.domain.model import SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.sandbox.cjdropshipping import CjEmulator
from dropbridge.sandbox.kit.server import start_server
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.connector_secrets import VaultSecretStore
from dropbridge.services.inbound_events import process_webhook
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_view import list_alerts, list_audit
from dropbridge.services.place_supplier_order import place_supplier_order
from dropbridge.services.ports import Address, Capability, ExternalOrder, ExternalOrderLine
from dropbridge.services.route_order import route_order
from dropbridge.services.sync_catalog import sync_catalog
from dropbridge.services.unpaid_orders import alert_unpaid_supplier_orders
from dropbridge.storage import tables as t


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def cj(app):
    RateBudget._accounts.clear()
    emulator = CjEmulator(api_key="CJ7@api@integration", qps=30, images=False, ship_after_seconds=None,
                          catalog=[{"sku": "TEE", "variants": [{"sku": "TEE-BLK-M", "price": "8.50",
                                                                "stock": {"CN": 50}}]}])
    emulator.start()
    conn = emulator.connection()
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"})
    add_supplier(app.ctx, "cj", "cjdropshipping", conn["base_url"], conn["credentials"],
                 {**conn["config"], "pay_from_balance": False})
    yield emulator
    emulator.stop()


def _supplier(app):
    with app.ctx.uow(read_only=True) as uow:
        return uow.suppliers.by_name("cj")


def test_the_token_is_bought_once_stored_encrypted_and_shared(app, cj):
    assert sync_catalog(app.ctx, "cj").status == "applied"
    app.ctx.forget_connectors()  # another process, as it were: a new connector, the same database
    assert sync_catalog(app.ctx, "cj").status == "applied"
    assert cj.calls["/api2.0/v1/authentication/getAccessToken"] == 1
    with app.engine.connect() as conn:
        (owner, name, blob), = conn.execute(t.connector_secrets.select().with_only_columns(
            t.connector_secrets.c.owner, t.connector_secrets.c.name, t.connector_secrets.c.secret)).all()
    supplier = _supplier(app)
    assert (owner, name) == (f"supplier:{supplier.id}", "runtime")
    (token,) = cj.tokens
    assert token.encode() not in blob and b"access_token" not in blob  # encrypted at rest
    assert VaultSecretStore(app.ctx, owner).load()["access_token"] == token
    with pytest.raises(ConfigurationError):  # bound to its owner: useless on another connection
        app.ctx.vault.decrypt("supplier:999/runtime", blob)


def test_new_credentials_forget_the_token_bought_with_the_old_ones(app, cj):
    sync_catalog(app.ctx, "cj")
    supplier = _supplier(app)
    conn = cj.connection()
    add_supplier(app.ctx, "cj", "cjdropshipping", conn["base_url"], {}, {"qps": 5})  # config only: token kept
    assert VaultSecretStore(app.ctx, f"supplier:{supplier.id}").load()["access_token"]
    add_supplier(app.ctx, "cj", "cjdropshipping", conn["base_url"], {**conn["credentials"]}, {})
    assert VaultSecretStore(app.ctx, f"supplier:{supplier.id}").load() == {}
    events = [e for e in list_audit(app.ctx) if e["action"] == "supplier.updated"]
    assert [e["subject"] for e in events] == ["supplier:cj", "supplier:cj"]


def test_the_store_lets_one_writer_in_at_a_time(app, cj):
    store = VaultSecretStore(app.ctx, "supplier:1", "counter")

    def bump():
        for _ in range(5):
            store.update(lambda cur: {"n": cur.get("n", 0) + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert store.load() == {"n": 20}
    assert store.update(lambda cur: None) == {"n": 20}  # no change asked: nothing written


def _placed(app, external_id="C-1"):
    sync_catalog(app.ctx, "cj")
    ext = ExternalOrder(external_id=external_id, currency="USD",
                        ship_to=Address(name="J", address1="1 Main", city="X", country_code="US",
                                        postal_code="10001", province_code="NY"),
                        lines=[ExternalOrderLine("1", "TEE-BLK-M", 1, Money(2400, "USD"))])
    order_id = ingest_order(app.ctx, "shop", ext).order_id
    route_order(app.ctx, order_id)
    with app.ctx.uow(read_only=True) as uow:
        (so,) = uow.supplier_orders.for_order(order_id)
    assert place_supplier_order(app.ctx, so.id) == "submitted"
    with app.ctx.uow(read_only=True) as uow:
        return uow.get(SupplierOrder, so.id)


def test_an_unpaid_order_is_alerted_at_once_and_again_after_the_configured_time(app, cj):
    clock = Clock()
    app.ctx.clock = clock
    so = _placed(app)
    assert (so.placement, so.stated_cost_minor, so.stated_shipping_minor) == ("awaiting_payment", 850, 350)
    kinds = lambda: [a["kind"] for a in list_alerts(app.ctx, 50)]  # noqa: E731
    assert kinds().count("supplier_order.awaiting_payment") == 1
    clock.now += timedelta(hours=23)
    assert alert_unpaid_supplier_orders(app.ctx) == 0  # not yet: 24 h by default
    clock.now += timedelta(hours=2)
    assert alert_unpaid_supplier_orders(app.ctx) == 1
    assert alert_unpaid_supplier_orders(app.ctx) == 0  # the same condition: one alert, seen again
    (alert,) = [a for a in list_alerts(app.ctx, 50) if a["kind"] == "supplier_order.payment_overdue"]
    assert alert["occurrences"] == 2


def test_an_order_paid_at_cj_meanwhile_is_marked_accepted_without_an_alert(app, cj):
    clock = Clock()
    app.ctx.clock = clock
    add_supplier(app.ctx, "cj", "cjdropshipping", cj.connection()["base_url"], {}, {"unpaid_alert_hours": 1})
    so = _placed(app)
    cj.pay(so.external_id)  # the merchant paid at CJ
    clock.now += timedelta(hours=2)
    assert alert_unpaid_supplier_orders(app.ctx) == 0
    with app.ctx.uow(read_only=True) as uow:
        assert uow.get(SupplierOrder, so.id).placement == "accepted"
    assert "supplier_order.payment_overdue" not in [a["kind"] for a in list_alerts(app.ctx, 50)]


def test_webhooks_are_admitted_by_their_url_secret_which_is_not_kept(app, cj):
    so = _placed(app)
    cj.pay(so.external_id)
    cj.ship(so.external_id)
    api = start_server(create_app(app))
    try:
        message = {"messageId": "m-1", "type": "LOGISTICS", "messageType": "UPDATE", "openId": 1,
                   "params": {"orderId": so.external_id, "orderNumber": so.idempotency_key, "fields": []}}
        url = f"{api.url}/webhooks/suppliers/cj"
        secret = cj.webhook_secret
        with httpx.Client(timeout=10) as http:
            refused = [http.post(url, json=message, params=p, headers=h).status_code for p, h in [
                ({}, {}), ({"token": "wrong"}, {}), ({}, {"token": secret, "x-query": f"token={secret}"})]]
            assert refused == [401, 401, 401]
            ok = http.post(url, json=message, params={"token": secret})
            again = http.post(url, json=message, params={"token": secret})
        assert (ok.status_code, ok.json(), again.json()) == (200, {"status": "accepted"}, {"status": "duplicate"})
    finally:
        api.stop()
    with app.engine.connect() as conn:
        (row,) = conn.execute(t.webhook_events.select()).mappings().all()
    assert secret not in json.dumps(row["headers"]) and ":query" not in row["headers"]
    outcome = process_webhook(app.ctx, row["id"])
    assert "shipment recorded" in outcome
    with app.ctx.uow(read_only=True) as uow:
        assert uow.get(SupplierOrder, so.id).status == "shipped"
    assert app.ctx.supplier_can(_supplier(app), Capability.WEBHOOKS)
