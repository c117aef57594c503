"""The WooCommerce emulator and connector, wired for the storefront contract suite."""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.responses import Response

from dropbridge.connectors.woocommerce import WooCommerceStore, from_config
from dropbridge.sandbox.server import RunningServer, start_server
from dropbridge.sandbox.woocommerce import WooCommerceEmulator

CONSUMER_KEY = "ck_harness_4f1d2c"
CONSUMER_SECRET = "cs_harness_9a8b7c"
WEBHOOK_SECRET = "whsec-woo-harness"


class WebhookReceiver:
    """A real HTTP endpoint that records every delivery and answers 200 (or `status`)."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.status = 200
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

        @app.post("/{path:path}")
        async def receive(path: str, request: Request):
            self.received.put((dict(request.headers), await request.body()))
            return Response(b"", self.status)

        self.server: RunningServer = start_server(app)
        self.url = self.server.url + "/webhooks/woocommerce/harness"

    def stop(self) -> None:
        self.server.stop()


class WooCommerceHarness:
    platform = "woocommerce"

    def __init__(self, emulator: WooCommerceEmulator, connector: WooCommerceStore, receiver: WebhookReceiver):
        self.emulator = emulator
        self.connector = connector
        self.receiver = receiver

    def seed_product(self, sku: str, quantity: int, price: str) -> str:
        product = self.emulator.add_product(
            {"name": f"Product {sku}", "type": "simple", "sku": sku, "regular_price": price,
             "manage_stock": True, "stock_quantity": quantity}
        )
        return str(product["id"])

    def create_order(self, sku: str, quantity: int, price: str, currency: str = "USD") -> str:
        order = self.emulator.create_order([{"sku": sku, "quantity": quantity, "price": price}], currency=currency)
        return str(order["id"])

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
    receiver = WebhookReceiver()
    connector = from_config(
        emulator.url,
        {"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET, "webhook_secret": WEBHOOK_SECRET},
        {"page_size": 2, "backoff_base": 0.05, "timeout": 5.0},
    )
    try:
        connector.subscribe_webhooks(receiver.url)
        emulator.wait_deliveries()
        yield WooCommerceHarness(emulator, connector, receiver)
    finally:
        connector.close()
        receiver.stop()
        emulator.stop()
