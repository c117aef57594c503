"""The periodic pull catches an order whose webhook never came (WooCommerce never retries one)."""

from __future__ import annotations

import httpx

from dropbridge.connectors.stores.woocommerce import WooCommerceOAuth1
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.order_view import list_orders
from dropbridge.services.pull_orders import pull_all

from .helpers import load_feed


def test_pull_takes_in_missed_orders_once_and_sees_cancellations(app):
    emu = WooCommerceEmulator(consumer_key="ck_x", consumer_secret="cs_x")
    emu.start()
    try:
        emu.add_product({"name": "Tee", "sku": "TEE", "regular_price": "24.00", "manage_stock": True,
                         "stock_quantity": 10})
        add_store(app.ctx, "woo", "woocommerce", emu.url, {"consumer_key": "ck_x", "consumer_secret": "cs_x",
                                                           "webhook_secret": "w"}, {"page_size": 2})
        add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
        load_feed(app.ctx, "acme", [("TEE", 50, "8.50")])
        created = [emu.create_order([{"sku": "TEE", "quantity": n}]) for n in (1, 2, 3)]  # no webhook subscribed
        assert pull_all(app.ctx) == {"woo": {"seen": 3, "created": 3, "cancelled": 0}}
        orders = list_orders(app.ctx)
        assert sorted(o["external_id"] for o in orders) == sorted(str(c["id"]) for c in created)
        assert pull_all(app.ctx)["woo"]["created"] == 0  # the overlap re-reads; nothing doubles
        assert len(list_orders(app.ctx)) == 3
        # The shopper cancels one in the store; the webhook is lost again; the pull notices.
        r = httpx.put(f"{emu.url}/wp-json/wc/v3/orders/{created[1]['id']}", json={"status": "cancelled"},
                      auth=WooCommerceOAuth1("ck_x", "cs_x"))  # the site is on plain http
        assert r.status_code == 200
        assert pull_all(app.ctx)["woo"] == {"seen": 3, "created": 0, "cancelled": 1}
        statuses = {o["external_id"]: o["status"] for o in list_orders(app.ctx)}
        assert statuses[str(created[1]["id"])] == "cancelled"
    finally:
        emu.stop()
