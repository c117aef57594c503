"""The `cjdropshipping` supplier kind against its emulator (dropbridge.sandbox.cjdropshipping)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal

from dropbridge.sandbox.cjdropshipping import CjEmulator
from dropbridge.services.sync_catalog import sync_catalog


class CjHarness:
    kind = "cjdropshipping"
    can_look_up = True
    fault_trials = 30
    contract_sku = "CONTRACT-SKU"

    def __init__(self, emulator: CjEmulator):
        self.emulator = emulator

    def connection(self) -> dict:
        return self.emulator.connection()

    def offer(self, app, supplier_name: str, sku: str, stock: int, cost: str) -> None:
        # CJ's offers come from its API: the product is listed at CJ, then dropbridge pulls the catalog.
        self.emulator.add_products([{"sku": f"P-{sku}", "variants": [{"sku": sku, "price": str(Decimal(cost)),
                                                                       "stock": {"CN": stock}}]}])
        outcome = sync_catalog(app.ctx, supplier_name)
        assert outcome.status == "applied", outcome

    def inject(self, mode: str, count: int = 1, *, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        self.emulator.faults.inject(mode, count, operation="orders.create", seconds=seconds, retry_after=retry_after)

    def orders(self) -> list[dict[str, str]]:
        with self.emulator.lock:
            return [{"reference": o["orderNum"], "external_id": o["orderId"]} for o in self.emulator.orders.values()]

    def ship(self, reference: str) -> None:
        (order,) = [o for o in self.orders() if o["reference"] == reference]
        self.emulator.ship(order["external_id"])


@contextlib.contextmanager
def open_harness(webhook_url: str | None = None) -> Iterator[CjHarness]:
    # 30 requests a second: CJ's ceiling for an account's calls, so the three workers of the fault test share it
    # without tripping it (each connector keeps to the 6 its config allows).
    emulator = CjEmulator(api_key="CJ0000042@api@contract", qps=30, images=False, ship_after_seconds=None,
                          webhook_url=webhook_url, webhook_secret="contract-secret",
                          catalog=[{"sku": "CONTRACT", "variants": [{"sku": "CONTRACT-SKU", "price": "8.50",
                                                                      "stock": {"CN": 10_000}}]}])
    emulator.start()
    try:
        yield CjHarness(emulator)
    finally:
        emulator.stop()
