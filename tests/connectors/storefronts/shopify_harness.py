"""Shopify harness for the storefront contract suite: the emulator on a real port, ShopifyStore pointed at it
with client credentials, and a webhook receiver subscribed through the connector itself."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dropbridge.connectors.stores.shopify import ShopifyStore, from_config
from dropbridge.sandbox.shopify import ShopifyEmulator, sign_webhook
from tests.connectors.storefronts.harness import CONTRACT_SHIPPING, CONTRACT_TAX_RATE, WebhookReceiver

# The contract's shopper (test_contract.CONTRACT_*): where create_order ships, what it charges.
SHIP_TO = {
    "first_name": "Bob", "last_name": "Norman", "name": "Bob Norman", "company": "Acme",
    "address1": "Chestnut Street 92", "address2": "Apt 3", "city": "Louisville", "province": "Kentucky",
    "province_code": "KY", "zip": "40202", "country": "United States", "country_code": "US",
    "phone": "555-625-1199",
}


class ShopifyHarness:
    platform = "shopify"

    def __init__(self, emulator: ShopifyEmulator, connector: ShopifyStore, receiver: WebhookReceiver):
        self.emulator = emulator
        self.connector = connector
        self.receiver = receiver

    def seed_product(self, sku: str, quantity: int, price: str) -> str:
        product = self.emulator.seed_product(sku, [{"sku": sku, "price": price, "quantity": quantity}])
        return product["variants"][0]["id"]

    def create_order(self, sku: str, quantity: int, price: str, currency: str = "USD") -> str:
        order = self.emulator.create_order(
            [{"sku": sku, "quantity": quantity, "price": price}],
            currency=currency,
            shipping_address=SHIP_TO,
            shipping_price=CONTRACT_SHIPPING[currency],
            tax_rate=str(CONTRACT_TAX_RATE),
        )
        return order["admin_graphql_api_id"]

    def next_webhook(self, timeout: float = 5.0) -> tuple[dict[str, str], bytes]:
        return self.receiver.received.get(timeout=timeout)

    def stock_of(self, external_variant_id: str) -> int:
        return self.emulator.available(external_variant_id)

    def fulfillments_of(self, external_order_id: str) -> list[dict]:
        out = []
        for f in self.emulator.fulfillments_for(external_order_id):
            for info in f["trackingInfo"]:
                out.append({"tracking_number": info["number"], "carrier": info["company"],
                            "tracking_url": info["url"], "notified": f["notifyCustomer"]})
        return out

    def throttle_next(self, calls: int) -> None:
        self.emulator.throttle_next(calls)

    def api_calls(self) -> int:
        return self.emulator.stats["calls"]

    # -- extensions the contract suite uses when a harness offers them ----------------------------

    def stale_webhook(self, headers: dict[str, str], raw_body: bytes) -> tuple[dict[str, str], bytes]:
        """The same delivery, correctly signed, as Shopify would retry it 25 hours after the trigger."""
        stale = {k: v for k, v in headers.items() if k.lower() not in ("x-shopify-triggered-at",
                                                                       "x-shopify-hmac-sha256")}
        stale["X-Shopify-Triggered-At"] = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
        stale["X-Shopify-Hmac-Sha256"] = sign_webhook(self.emulator.client_secret, raw_body)
        return stale, raw_body

    def product_of(self, external_product_id: str) -> dict:
        """{"title", "options": {name: [values]}, "images": [urls], "variants": {sku: {"price",
        "compare_at_price", "options"}}} with prices as Decimal."""
        p = self.emulator.product(external_product_id)
        return {
            "title": p["title"],
            "options": {o["name"]: o["values"] for o in p["options"]},
            "images": p["images"],
            "variants": {
                v["sku"]: {
                    "price": Decimal(v["price"]),
                    "compare_at_price": Decimal(v["compareAtPrice"]) if v["compareAtPrice"] else None,
                    "options": v["options"],
                }
                for v in p["variants"]
            },
        }


@contextlib.contextmanager
def open_harness(**emulator_options) -> Iterator[ShopifyHarness]:
    receiver = WebhookReceiver("shopify")
    options = {"bucket_size": 2000, "restore_rate": 100, "webhook_retry_delays": (0.05, 0.1, 0.2)}
    options.update(emulator_options)
    emulator = ShopifyEmulator(**options)
    emulator.start()
    connector = from_config(
        emulator.url,
        {"client_id": emulator.client_id, "client_secret": emulator.client_secret},
        {"api_version": emulator.api_version, "location_id": emulator.primary_location,
         "shop_domain": emulator.domain, "orders_page_size": 3},
    )
    try:
        connector.subscribe_webhooks(receiver.url, topics=("ORDERS_CREATE",))
        yield ShopifyHarness(emulator, connector, receiver)
    finally:
        connector.close()
        emulator.stop()
        receiver.stop()
