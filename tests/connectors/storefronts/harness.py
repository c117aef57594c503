"""What the storefront contract suite needs from each platform's emulator.

Each `<platform>_harness.py` beside this file exposes `open_harness()`, a context manager yielding an
object with this shape, with the emulator running on a real localhost port and the connector under test
pointed at it.
"""

from __future__ import annotations

import queue
from decimal import Decimal
from typing import Protocol

from fastapi import FastAPI, Request, Response

from dropbridge.domain.money import Money
from dropbridge.sandbox.kit.server import RunningServer, start_server
from dropbridge.services.ports import Storefront

# What every harness's create_order charges: a flat shipping price and exclusive tax on the items,
# rounded half-even per line. test_contract.py asserts the mapped orders against these.
CONTRACT_SHIPPING = {"USD": "4.90", "EUR": "4.90", "JPY": "490"}
CONTRACT_TAX_RATE = Decimal("0.10")


def contract_tax(price: str, quantity: int, currency: str) -> Money:
    return Money.from_decimal_rounded(Decimal(price) * quantity * CONTRACT_TAX_RATE, currency)


class StorefrontHarness(Protocol):
    platform: str
    connector: Storefront

    def seed_product(self, sku: str, quantity: int, price: str) -> str:
        """Create a product with one variant in the emulated store; return the external variant id."""

    def create_order(self, sku: str, quantity: int, price: str, currency: str = "USD") -> str:
        """Place an order in the emulated store as a shopper would; return its external id. The
        emulator then delivers its order webhook, which `next_webhook` returns."""

    def next_webhook(self, timeout: float = 5.0) -> tuple[dict[str, str], bytes]:
        """The next webhook the emulator actually delivered (headers, raw body), signed as the platform signs."""

    def stock_of(self, external_variant_id: str) -> int: ...

    def fulfillments_of(self, external_order_id: str) -> list[dict]:
        """Each fulfillment: {"tracking_number", "carrier", "tracking_url", "notified"}."""

    def throttle_next(self, calls: int) -> None:
        """Make the emulator answer the next `calls` API calls as rate limited (the platform's own way)."""

    def api_calls(self) -> int:
        """How many API calls the emulator has served so far (for batching assertions)."""


class WebhookReceiver:
    """A real HTTP endpoint that records every delivery (headers, raw body) and answers `status`."""

    def __init__(self, platform: str) -> None:
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.status = 200
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

        @app.post("/{path:path}")
        async def receive(path: str, request: Request):
            self.received.put((dict(request.headers), await request.body()))
            return Response(b"", self.status)

        self.server: RunningServer = start_server(app)
        self.url = f"{self.server.url}/webhooks/{platform}/harness"

    def stop(self) -> None:
        self.server.stop()
