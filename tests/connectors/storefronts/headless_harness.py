"""The headless store emulator and connector, wired for the storefront contract suite. A headless store has
no platform API: its backend posts signed `order.created` events to us and lists its orders at `orders_url`;
we post signed events (stock, fulfillments, products) to it."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

from dropbridge.connectors.stores.headless import HeadlessStore, from_config
from dropbridge.domain.money import Money, exponent
from dropbridge.sandbox.headless import HeadlessStoreEmulator
from dropbridge.sandbox.headless.signing import signature
from tests.connectors.storefronts.harness import CONTRACT_SHIPPING, WebhookReceiver, contract_tax

SECRET = "whsec-headless-harness"
SHIP_TO = {"name": "Bob Norman", "address1": "Chestnut Street 92", "address2": "Apt 3", "city": "Louisville",
           "province_code": "KY", "postal_code": "40202", "country_code": "US", "company": "Acme",
           "phone": "555-625-1199"}


def _text(money: Money) -> str:
    return f"{money.to_decimal():.{exponent(money.currency)}f}"


class HeadlessHarness:
    platform = "headless"

    def __init__(self, emulator: HeadlessStoreEmulator, connector: HeadlessStore, receiver: WebhookReceiver):
        self.emulator = emulator
        self.connector = connector
        self.receiver = receiver
        self._numbers = itertools.count(5001)

    def seed_product(self, sku: str, quantity: int, price: str) -> str:
        return self.emulator.seed_product(sku, quantity, price)

    def create_order(self, sku: str, quantity: int, price: str, currency: str = "USD") -> str:
        unit = Money.parse(price, currency)
        tax = contract_tax(price, quantity, currency)
        shipping = Money.parse(CONTRACT_SHIPPING[currency], currency)
        external_id = f"web-{next(self._numbers)}"
        order = {"external_id": external_id, "currency": currency, "ship_to": dict(SHIP_TO),
                 "created_at": datetime.now(UTC).isoformat(), "shipping_price": _text(shipping),
                 "total_tax": _text(tax), "total_price": _text(unit * quantity + shipping + tax),
                 "lines": [{"external_id": "1", "sku": sku, "variant_id": sku, "quantity": quantity,
                            "unit_price": price, "tax": _text(tax)}]}
        self.emulator.add_order(order)
        status = self.emulator.send_event(self.receiver.url, "order.created", order)
        assert status == 200, status
        return external_id

    def stale_webhook(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        """The same event as the backend would sign it an hour later (a replay): correctly signed, old stamp."""
        old = str(int(datetime.now(UTC).timestamp()) - 3600)
        resigned = {k: v for k, v in headers.items() if k.lower() not in ("x-dropbridge-timestamp",
                                                                            "x-dropbridge-signature")}
        resigned |= {"X-Dropbridge-Timestamp": old, "X-Dropbridge-Signature": signature(SECRET, old, body)}
        return resigned, body

    def next_webhook(self, timeout: float = 5.0) -> tuple[dict[str, str], bytes]:
        return self.receiver.received.get(timeout=timeout)

    def stock_of(self, external_variant_id: str) -> int:
        return self.emulator.stock()[external_variant_id]

    def fulfillments_of(self, external_order_id: str) -> list[dict]:
        return [{"tracking_number": f["tracking_number"], "carrier": f["carrier"], "tracking_url": f["tracking_url"],
                 "notified": f["notify_customer"]}
                for f in self.emulator.fulfillments() if f["order_external_id"] == external_order_id]

    def product_of(self, external_product_id: str) -> dict:
        (product,) = [p for p in self.emulator.products() if p["sku"] == external_product_id]
        options: dict[str, list[str]] = {}
        for v in product["variants"]:
            for name, value in v["options"].items():
                if value not in options.setdefault(name, []):
                    options[name].append(value)
        return {"title": product["title"], "options": options, "images": product["images"],
                "variants": {v["sku"]: {"price": Decimal(v["price"]),
                                        "compare_at_price": Decimal(v["compare_at_price"])
                                        if v["compare_at_price"] else None,
                                        "options": v["options"]} for v in product["variants"]}}

    def throttle_next(self, calls: int) -> None:
        self.emulator.inject("rate_limit", calls, retry_after=0.05)

    def api_calls(self) -> int:
        return len(self.emulator.deliveries())


@contextlib.contextmanager
def open_harness() -> Iterator[HeadlessHarness]:
    emulator = HeadlessStoreEmulator(SECRET, page_size=3)
    emulator.start()
    receiver = WebhookReceiver("headless")
    conn = emulator.connection()
    connector = from_config(conn["base_url"], conn["credentials"], {**conn["config"], "timeout": 5.0})
    try:
        yield HeadlessHarness(emulator, connector, receiver)
    finally:
        connector.close()
        receiver.stop()
        emulator.stop()
