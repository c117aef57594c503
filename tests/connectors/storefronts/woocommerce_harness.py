"""The WooCommerce emulator and connector, wired for the storefront contract suite."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dropbridge.connectors.stores.woocommerce import WooCommerceStore, from_config
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from tests.connectors.storefronts.harness import CONTRACT_SHIPPING, WebhookReceiver, contract_tax

# What the contract suite's create_order promises (test_contract.py): ship-to, flat shipping, 10% tax.
SHIP_TO = {
    "first_name": "Bob",
    "last_name": "Norman",
    "company": "Acme",
    "address_1": "Chestnut Street 92",
    "address_2": "Apt 3",
    "city": "Louisville",
    "state": "KY",
    "postcode": "40202",
    "country": "US",
    "phone": "555-625-1199",
}
CONSUMER_KEY = "ck_harness_4f1d2c"
CONSUMER_SECRET = "cs_harness_9a8b7c"
WEBHOOK_SECRET = "whsec-woo-harness"


class WooCommerceHarness:
    platform = "woocommerce"

    def __init__(self, emulator: WooCommerceEmulator, connector: WooCommerceStore, receiver: WebhookReceiver):
        self.emulator = emulator
        self.connector = connector
        self.receiver = receiver

    def seed_product(self, sku: str, quantity: int, price: str) -> str:
        product = self.emulator.add_product(
            {
                "name": f"Product {sku}",
                "type": "simple",
                "sku": sku,
                "regular_price": price,
                "manage_stock": True,
                "stock_quantity": quantity,
            }
        )
        return str(product["id"])

    def create_order(self, sku: str, quantity: int, price: str, currency: str = "USD") -> str:
        tax = contract_tax(price, quantity, currency).to_decimal()
        order = self.emulator.create_order(
            [{"sku": sku, "quantity": quantity, "price": price, "tax": str(tax)}],
            currency=currency,
            shipping=SHIP_TO,
            shipping_total=CONTRACT_SHIPPING[currency],
        )
        return str(order["id"])

    def stale_webhook(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        """The same delivery as WooCommerce would build it two hours after the order last changed
        (payloads are built at send time; there is no timestamp header), correctly signed."""
        payload = json.loads(body)
        old = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
        payload["date_modified"] = payload["date_modified_gmt"] = old
        stale = json.dumps(payload, separators=(",", ":")).encode()
        digest = hmac.new(WEBHOOK_SECRET.encode(), stale, hashlib.sha256).digest()
        signed = {k: v for k, v in headers.items() if k.lower() != "x-wc-webhook-signature"}
        signed["X-WC-Webhook-Signature"] = base64.b64encode(digest).decode()
        return signed, stale

    def product_of(self, external_product_id: str) -> dict:
        """{"title", "options", "images", "variants": {sku: {"price", "compare_at_price", "options"}}}."""
        p = self.emulator.product(external_product_id)
        variants = [self.emulator.product(v) for v in p["variations"]] if p["type"] == "variable" else [p]

        def prices(v: dict) -> tuple[Decimal, Decimal | None]:
            if v["sale_price"]:
                return Decimal(v["sale_price"]), Decimal(v["regular_price"])
            return Decimal(v["regular_price"]), None

        return {
            "title": p["name"],
            "options": {a["name"]: a["options"] for a in p["attributes"]},
            "images": [i["src"] for i in p["images"]],
            "variants": {
                v["sku"]: {
                    "price": prices(v)[0],
                    "compare_at_price": prices(v)[1],
                    "options": {a["name"]: a["option"] for a in v["attributes"]} if v["type"] == "variation" else {},
                }
                for v in variants
            },
        }

    def next_webhook(self, timeout: float = 5.0) -> tuple[dict[str, str], bytes]:
        while True:
            headers, body = self.receiver.received.get(timeout=timeout)
            if any(k.lower() == "x-wc-webhook-topic" for k in headers):
                return headers, body
            # the unsigned creation ping: not an event

    def stock_of(self, external_variant_id: str) -> int:
        quantity = self.emulator.stock_of(external_variant_id)
        assert quantity is not None, f"{external_variant_id} does not manage stock"
        return quantity

    def fulfillments_of(self, external_order_id: str) -> list[dict]:
        return self.emulator.fulfillments_of(external_order_id)

    def throttle_next(self, calls: int) -> None:
        self.emulator.throttle_next(calls)

    def api_calls(self) -> int:
        return self.emulator.api_calls()


@contextlib.contextmanager
def open_harness(**emulator_options) -> Iterator[WooCommerceHarness]:
    # A host limiter without Retry-After: the connector backs off on its own (fast here).
    options = {"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET, "retry_after": None}
    options.update(emulator_options)
    emulator = WooCommerceEmulator(**options)
    emulator.start()
    receiver = WebhookReceiver("woocommerce")
    # A site on plain http takes OAuth 1.0a signatures only ("auto" signs over http); one that sees TLS
    # reads Basic, though we reach it over http here.
    auth = "basic" if options.get("ssl") else "auto"
    connector = from_config(
        emulator.url,
        {"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET, "webhook_secret": WEBHOOK_SECRET},
        {"page_size": 2, "backoff_base": 0.05, "timeout": 5.0, "auth": auth},
    )
    try:
        connector.subscribe_webhooks(receiver.url)
        emulator.wait_deliveries()
        yield WooCommerceHarness(emulator, connector, receiver)
    finally:
        connector.close()
        receiver.stop()
        emulator.stop()
