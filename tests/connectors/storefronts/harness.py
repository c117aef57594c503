"""What the storefront contract suite needs from each platform's emulator.

Each `<platform>_harness.py` beside this file exposes `open_harness()`, a context manager yielding an
object with this shape, with the emulator running on a real localhost port and the connector under test
pointed at it.
"""

from __future__ import annotations

from typing import Protocol

from dropbridge.connectors.base import Storefront


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
