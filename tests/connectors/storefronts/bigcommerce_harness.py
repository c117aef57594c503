"""The BigCommerce emulator and connector, wired for the storefront contract suite."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from decimal import Decimal

from dropbridge.connectors.stores.bigcommerce import BigCommerceStore, from_config
from dropbridge.connectors.stores.bigcommerce.webhooks import signature
from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
from tests.connectors.storefronts.harness import CONTRACT_SHIPPING, WebhookReceiver, contract_tax

# What the contract suite's create_order promises (test_contract.py): ship-to, flat shipping, 10% tax.
SHIP_TO = {
    "first_name": "Bob",
    "last_name": "Norman",
    "company": "Acme",
    "street_1": "Chestnut Street 92",
    "street_2": "Apt 3",
    "city": "Louisville",
    "state": "Kentucky",  # v2 addresses carry the state's name
    "zip": "40202",
    "country": "United States",
    "country_iso2": "US",
    "phone": "555-625-1199",
}
STORE_HASH = "hx4rn5"
ACCESS_TOKEN = "bc-harness-token"
CLIENT_SECRET = "bc-harness-client-secret"


class BigCommerceHarness:
    platform = "bigcommerce"

    def __init__(self, emulator: BigCommerceEmulator, connector: BigCommerceStore, receiver: WebhookReceiver):
        self.emulator = emulator
        self.connector = connector
        self.receiver = receiver

    def seed_product(self, sku: str, quantity: int, price: str) -> str:
        product = self.emulator.add_product(
            {
                "name": f"Product {sku}",
                "type": "physical",
                "weight": 1,
                "price": price,
                "sku": f"{sku}-P",
                "inventory_tracking": "variant",
                "variants": [
                    {
                        "sku": sku,
                        "price": price,
                        "inventory_level": quantity,
                        "option_values": [{"option_display_name": "Size", "label": "One size"}],
                    }
                ],
            }
        )
        return str(product["variants"][0]["id"])

    def create_order(self, sku: str, quantity: int, price: str, currency: str = "USD") -> str:
        tax = contract_tax(price, quantity, currency).to_decimal()
        order = self.emulator.create_order(
            [{"sku": sku, "quantity": quantity, "price": price, "tax": str(tax)}],
            currency=currency,
            address=SHIP_TO,
            shipping_cost=CONTRACT_SHIPPING[currency],
        )
        return str(order["id"])

    def stale_webhook(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        """The same delivery correctly signed with a timestamp ten minutes old (a replay, or a retry
        whose signature was computed long ago)."""
        ts = str(int(time.time()) - 600)
        wid = next(v for k, v in headers.items() if k.lower() == "webhook-id")
        stale = {k: v for k, v in headers.items() if k.lower() not in ("webhook-timestamp", "webhook-signature")}
        stale["webhook-timestamp"] = ts
        stale["webhook-signature"] = "v1," + signature(CLIENT_SECRET, wid, ts, body)
        return stale, body

    def product_of(self, external_product_id: str) -> dict:
        """{"title", "options", "images", "variants": {sku: {"price", "compare_at_price", "options"}}}."""
        p = self.emulator.product(external_product_id)
        options: dict[str, list[str]] = {}
        for v in p["variants"]:
            for ov in v["option_values"]:
                values = options.setdefault(ov["option_display_name"], [])
                if ov["label"] not in values:
                    values.append(ov["label"])

        def dec(value) -> Decimal | None:
            return None if value in (None, 0, 0.0) else Decimal(json.dumps(value))

        return {
            "title": p["name"],
            "options": options,
            "images": [i["image_url"] for i in sorted(p["images"], key=lambda i: i["sort_order"])],
            "variants": {
                v["sku"]: {
                    "price": dec(v["price"] if v["price"] is not None else p["price"]),
                    "compare_at_price": dec(v["retail_price"]),
                    "options": {ov["option_display_name"]: ov["label"] for ov in v["option_values"]},
                }
                for v in p["variants"]
            },
        }

    def next_webhook(self, timeout: float = 5.0) -> tuple[dict[str, str], bytes]:
        return self.receiver.received.get(timeout=timeout)

    def stock_of(self, external_variant_id: str) -> int:
        # Adjustments apply asynchronously: read once the store has caught up, as a merchant would.
        self.emulator.wait_inventory()
        return self.emulator.stock_of(external_variant_id)

    def fulfillments_of(self, external_order_id: str) -> list[dict]:
        return self.emulator.fulfillments_of(external_order_id)

    def throttle_next(self, calls: int) -> None:
        self.emulator.throttle_next(calls)

    def api_calls(self) -> int:
        return self.emulator.api_calls()


@contextlib.contextmanager
def open_harness(**emulator_options) -> Iterator[BigCommerceHarness]:
    options = {
        "store_hash": STORE_HASH,
        "access_token": ACCESS_TOKEN,
        "client_secret": CLIENT_SECRET,
        "throttle_reset_ms": 50,
        "inventory_delay": 0.2,
        "retry_intervals": (0.1, 0.2, 0.3),
    }
    options.update(emulator_options)
    emulator = BigCommerceEmulator(**options)
    emulator.start()
    receiver = WebhookReceiver("bigcommerce")
    connector = from_config(
        emulator.url,
        {"access_token": ACCESS_TOKEN, "client_secret": CLIENT_SECRET},
        {"store_hash": STORE_HASH, "page_size": 2, "backoff_base": 0.05, "timeout": 5.0},
    )
    try:
        connector.subscribe_webhooks(receiver.url)
        yield BigCommerceHarness(emulator, connector, receiver)
    finally:
        connector.close()
        receiver.stop()
        emulator.stop()
