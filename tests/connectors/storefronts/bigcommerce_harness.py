"""The BigCommerce emulator and connector, wired for the storefront contract suite."""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.responses import Response

from dropbridge.connectors.bigcommerce import BigCommerceStore, from_config
from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
from dropbridge.sandbox.server import RunningServer, start_server

STORE_HASH = "hx4rn5"
ACCESS_TOKEN = "bc-harness-token"
CLIENT_SECRET = "bc-harness-client-secret"


class WebhookReceiver:
    """A real HTTP endpoint that records every delivery and answers `status` (200 by default)."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.status = 200
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

        @app.post("/{path:path}")
        async def receive(path: str, request: Request):
            self.received.put((dict(request.headers), await request.body()))
            return Response(b"", self.status)

        self.server: RunningServer = start_server(app)
        self.url = self.server.url + "/webhooks/bigcommerce/harness"

    def stop(self) -> None:
        self.server.stop()


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
        order = self.emulator.create_order([{"sku": sku, "quantity": quantity, "price": price}], currency=currency)
        return str(order["id"])

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
    receiver = WebhookReceiver()
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
