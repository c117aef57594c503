"""Partial refunds from the stores, over real HTTP: the store's emulator refunds part of a shipped order and
sends the platform's webhooks; dropbridge records one refund entry set of exactly the refunded amount (tax
refunded as negative tax collected), a re-delivery records nothing more, the supplier side is untouched, and
the margin report's realised figure is net of it."""

from __future__ import annotations

import httpx
import pytest

from dropbridge.connectors.stores.woocommerce import WooCommerceOAuth1
from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.model import LedgerEntry, Order
from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.margin_report import margin_summary
from dropbridge.services.order_view import order_detail

from .helpers import load_feed, running, wait_for


def _entries(app, order_id: int) -> list[LedgerEntry]:
    with app.ctx.uow(read_only=True) as uow:
        return uow.ledger.for_order(order_id)


def _refund_rows(app, order_id: int) -> list[tuple[str, int, str | None]]:
    with app.ctx.uow(read_only=True) as uow:
        skus = {ln.id: ln.sku for ln in uow.get(Order, order_id).lines}
        rows = []
        for e in uow.ledger.for_order(order_id):
            if "[refund " in e.memo:
                rows.append((e.kind, e.amount_minor, skus.get(e.order_line_id, e.order_line_id)))
        return sorted(rows, key=str)


def _realised(app) -> dict:
    return next(r for r in margin_summary(app.ctx, "order")["totals"] if r["basis"] == "realised")


def _order_id(app, store: str, external_id: str) -> int | None:
    with app.ctx.uow(read_only=True) as uow:
        st = uow.stores.by_name(store)
        o = uow.orders.by_external_id(st.id, external_id)
        return o.id if o else None


def _replay(delivery: dict) -> dict:
    """Send a delivery again, byte for byte with the headers of its last attempt (a platform's re-delivery)."""
    headers = dict(delivery["attempts"][-1]["headers"])
    r = httpx.post(delivery["url"], content=delivery["body"].encode(), headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _ship_everything(app, supplier: RestSupplierEmulator, order_id: int) -> None:
    wait_for(lambda: supplier.orders())
    supplier.ship(supplier.orders()[0]["order_id"])
    wait_for(lambda: order_detail(app.ctx, order_id)["status"] == "shipped")


def _supplier_side(app, order_id: int) -> list:
    d = order_detail(app.ctx, order_id)
    return [(so["supplier"], so["status"]) for so in d["supplier_orders"]] + [
        (e.kind, e.amount_minor) for e in _entries(app, order_id) if e.supplier_id is not None]


def _supplier(api) -> RestSupplierEmulator:
    emu = RestSupplierEmulator(api_key="key-acme", name="acme", ship_after_seconds=None,
                               webhook_url=f"{api.url}/webhooks/suppliers/acme", webhook_secret="whsec-acme")
    emu.start()
    return emu


class ShopifyScenario:
    platform, store = "shopify", "shop"

    def start(self, app, api):
        self.emu = ShopifyEmulator(shop="refunds", static_tokens=("shpat_t",), webhook_retry_delays=(0.2,))
        self.emu.start()
        add_store(app.ctx, self.store, "shopify", self.emu.url,
                  {"access_token": "shpat_t", "client_secret": self.emu.client_secret},
                  {"api_version": self.emu.api_version})
        self.emu.seed_product("Tee", [{"sku": "TEE", "price": "24.00", "quantity": 10}])
        self.emu.seed_product("Mug", [{"sku": "MUG", "price": "12.50", "quantity": 10}])
        app.ctx.store_connector(_store(app, self.store)).subscribe_webhooks(f"{api.url}/webhooks/shopify/shop")

    def place_order(self) -> str:
        """TEE x2 at 24.00, MUG x1 at 12.50, 10% tax on the lines, 5.00 shipping."""
        self.placed = self.emu.create_order([{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}],
                                            shipping_price="5.00", tax_rate="0.10")
        return self.placed["admin_graphql_api_id"]

    def refund(self) -> None:
        """One TEE back (24.00 and its 2.40 tax) and the shipping (5.00, untaxed in this shop)."""
        tee = next(li for li in self.placed["line_items"] if li["sku"] == "TEE")
        r = httpx.post(f"{self.emu.url}/_control/orders/{self.placed['id']}/refunds",
                       json={"lines": [{"line_item_id": tee["id"], "quantity": 1}], "shipping": "5.00",
                             "note": "damaged"})
        assert r.status_code == 200, r.text

    def refund_delivery(self) -> dict:
        self.emu.sender.wait_idle()
        done = [d for d in self.emu.sender.records() if d["done"]]
        # refunds/create, and the orders/updated that lists the same refund: both delivered, both seen.
        assert [d["topic"] for d in done].count("refunds/create") == 1
        assert any(d["topic"] == "orders/updated" and '"refunds":[{' in d["body"] for d in done)
        return next(d for d in done if d["topic"] == "refunds/create")

    def stop(self):
        self.emu.stop()


class WooCommerceScenario:
    platform, store = "woocommerce", "woo"

    def start(self, app, api):
        self.emu = WooCommerceEmulator(consumer_key="ck_x", consumer_secret="cs_x")
        self.emu.start()
        add_store(app.ctx, self.store, "woocommerce", self.emu.url,
                  {"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": "w"}, {})
        for name, sku, price in (("Tee", "TEE", "24.00"), ("Mug", "MUG", "12.50")):
            self.emu.add_product({"name": name, "sku": sku, "regular_price": price, "manage_stock": True,
                                  "stock_quantity": 10})
        app.ctx.store_connector(_store(app, self.store)).subscribe_webhooks(f"{api.url}/webhooks/woocommerce/woo")

    def place_order(self) -> str:
        self.placed = self.emu.create_order([{"sku": "TEE", "quantity": 2, "tax": "4.80"},
                                             {"sku": "MUG", "quantity": 1, "tax": "1.25"}], shipping_total="5.00")
        return str(self.placed["id"])

    def refund(self) -> None:
        """Through the REST API as the merchant's admin does: 24.00 + 2.40 tax for one TEE, 5.00 shipping."""
        tee = next(li for li in self.placed["line_items"] if li["sku"] == "TEE")
        ship = self.placed["shipping_lines"][0]
        r = httpx.post(f"{self.emu.url}/wp-json/wc/v3/orders/{self.placed['id']}/refunds",
                       json={"amount": "31.40", "reason": "damaged", "api_refund": False, "line_items": [
                           {"id": tee["id"], "quantity": 1, "refund_total": "24.00",
                            "refund_tax": [{"id": 1, "refund_total": "2.40"}]},
                           {"id": ship["id"], "refund_total": "5.00"}]},
                       auth=WooCommerceOAuth1("ck_x", "cs_x"))
        assert r.status_code == 201, r.text

    def refund_delivery(self) -> dict:
        self.emu.wait_deliveries()
        done = [d for d in self.emu.sender.records() if d["done"] and d["topic"] == "order.updated"]
        return next(d for d in reversed(done) if '"refunds":[{' in d["body"])

    def stop(self):
        self.emu.stop()


class BigCommerceScenario:
    platform, store = "bigcommerce", "bc"

    def start(self, app, api):
        self.emu = BigCommerceEmulator(store_hash="refunds", access_token="tok", client_secret="bc-secret",
                                       retry_intervals=(0.2,))
        self.emu.start()
        add_store(app.ctx, self.store, "bigcommerce", self.emu.url,
                  {"access_token": "tok", "client_secret": "bc-secret"}, {"store_hash": "refunds"})
        for name, sku, price in (("Tee", "TEE", 24.0), ("Mug", "MUG", 12.5)):
            self.emu.add_product({"name": name, "type": "physical", "sku": sku, "price": price, "weight": 1,
                                  "inventory_tracking": "product", "inventory_level": 10})
        app.ctx.store_connector(_store(app, self.store)).subscribe_webhooks(f"{api.url}/webhooks/bigcommerce/bc")

    def place_order(self) -> str:
        self.placed = self.emu.create_order([{"sku": "TEE", "quantity": 2, "tax": "4.80"},
                                             {"sku": "MUG", "quantity": 1, "tax": "1.25"}], shipping_cost="5.00")
        return str(self.placed["id"])

    def refund(self) -> None:
        """Through the v3 API: one TEE by quantity (BigCommerce works out 24.00 + 2.40 tax), 5.00 shipping."""
        products = self.emu.orders[self.placed["id"]]["_products"]
        tee = next(p for p in products if p["sku"] == "TEE")
        r = httpx.post(f"{self.emu.url}/stores/refunds/v3/orders/{self.placed['id']}/payment_actions/refunds",
                       json={"items": [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1},
                                       {"item_type": "SHIPPING", "item_id": tee["order_address_id"],
                                        "amount": 5.00}],
                             "payments": [{"provider_id": "custom", "amount": 31.40, "offline": True}],
                             "reason": "damaged"},
                       headers={"X-Auth-Token": "tok", "Accept": "application/json"})
        assert r.status_code == 201, r.text

    def refund_delivery(self) -> dict:
        self.emu.sender.wait_idle()
        done = [d for d in self.emu.sender.records() if d["done"]]
        return next(d for d in done if d.get("scope") == "store/order/refund/created")

    def stop(self):
        self.emu.stop()


SCENARIOS = {"shopify": ShopifyScenario, "woocommerce": WooCommerceScenario, "bigcommerce": BigCommerceScenario}


@pytest.mark.parametrize("platform", list(SCENARIOS))
def test_partial_refund_recorded_once_and_net_in_realised(app, platform):
    scenario = SCENARIOS[platform]()
    with running(app) as api:
        acme = _supplier(api)
        scenario.start(app, api)
        try:
            add_supplier(app.ctx, "acme", "rest", acme.url, {"api_key": "key-acme", "webhook_secret": "whsec-acme"},
                         {"currency": "USD", "shipping_per_order": "4.00"})
            load_feed(app.ctx, "acme", [("TEE", 20, "8.50"), ("MUG", 20, "3.20")])
            ext = scenario.place_order()
            order_id = wait_for(lambda: _order_id(app, scenario.store, ext))
            _ship_everything(app, acme, order_id)
            before = _realised(app)
            supplier_side = _supplier_side(app, order_id)

            scenario.refund()
            wanted = sorted([(EntryKind.REFUND, -2400, "TEE"), (EntryKind.TAX_COLLECTED, -240, "TEE"),
                             (EntryKind.REFUND, -500, None)], key=str)
            wait_for(lambda: _refund_rows(app, order_id) == wanted)
            delivery = scenario.refund_delivery()
            _settle(app)
            count = len(_entries(app, order_id))
            # The same webhook again: a duplicate, nothing new.
            assert _replay(delivery) == {"status": "duplicate"}
            _settle(app)
            assert _refund_rows(app, order_id) == wanted and len(_entries(app, order_id)) == count
            assert _supplier_side(app, order_id) == supplier_side

            after = _realised(app)
            assert _minor(after["revenue"]) == _minor(before["revenue"])  # a refund is a cost, revenue stays
            assert _minor(after["costs"]) == _minor(before["costs"]) + 2900
            assert _minor(after["margin"]) == _minor(before["margin"]) - 2900
            assert _minor(after["tax_collected"]) == _minor(before["tax_collected"]) - 240
        finally:
            acme.stop()
            scenario.stop()


def _store(app, name):
    with app.ctx.uow(read_only=True) as uow:
        return uow.stores.by_name(name)


def _minor(text: str) -> int:
    return int(round(float(text) * 100))


def _settle(app) -> None:
    """Wait until every stored inbox entry is processed (the replay's job included, if it made one)."""
    from sqlalchemy import select

    from dropbridge.storage import tables as t

    def done():
        with app.ctx.uow(read_only=True) as uow:
            return all(s != "received" for s in uow.session.scalars(select(t.webhook_events.c.status)))
    wait_for(done)
