"""The `rest` supplier kind against its emulator (dropbridge.sandbox.rest_supplier)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.services.sync_feed import sync_feed


class RestHarness:
    kind = "rest"
    can_look_up = True
    fault_trials = 100

    def __init__(self, emulator: RestSupplierEmulator):
        self.emulator = emulator

    def connection(self) -> dict:
        return self.emulator.connection()

    def offer(self, app, supplier_name: str, sku: str, stock: int, cost: str) -> None:
        # The REST kind's stock comes by feed file.
        feed = f"sku,qty,cost\n{sku},{stock},{cost}\n".encode()
        sync_feed(app.ctx, supplier_name, io.BytesIO(feed), f"{supplier_name}.csv", mode="delta")

    def inject(self, mode: str, count: int = 1, *, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        self.emulator.inject(mode, count, seconds=seconds, retry_after=retry_after)

    def orders(self) -> list[dict[str, str]]:
        return [{"reference": o["reference"], "external_id": o["order_id"]} for o in self.emulator.orders()]

    def ship(self, reference: str) -> None:
        (order,) = self.emulator.orders_with_reference(reference)
        self.emulator.ship(order["order_id"])


@contextlib.contextmanager
def open_harness(webhook_url: str | None = None) -> Iterator[RestHarness]:
    emulator = RestSupplierEmulator(api_key="contract-key", name="rest", ship_after_seconds=None,
                                    webhook_url=webhook_url, webhook_secret="contract-secret")
    emulator.start()
    try:
        yield RestHarness(emulator)
    finally:
        emulator.stop()
