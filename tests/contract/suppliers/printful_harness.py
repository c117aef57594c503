"""The `printful` supplier kind against its emulator (dropbridge.sandbox.printful), every exchange checked
against Printful's OpenAPI documents (a request or response they do not define fails the test)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dropbridge.sandbox.printful import PrintfulEmulator
from dropbridge.services.sync_catalog import sync_catalog
from tests.connectors.printful.openapi_check import SpecCheck, checked

RATE = 6000  # requests a minute: the suites send orders faster than one account's 120 would let through


class PrintfulHarness:
    kind = "printful"
    can_look_up = True
    fault_trials = 30
    contract_sku = "CONTRACT-SKU"

    def __init__(self, emulator: PrintfulEmulator):
        self.emulator = emulator

    def connection(self) -> dict:
        conn = self.emulator.connection()
        return {**conn, "config": {**conn["config"], "rate_limit_per_minute": RATE, "catalog_products": [71]}}

    def offer(self, app, supplier_name: str, sku: str, stock: int, cost: str) -> None:
        # The merchant's own product in the Printful store, its external id their SKU; pulled as a catalog.
        # Print on demand has no stock count: Printful says in stock, and the supplier's config promises `stock`.
        self.emulator.add_store_variant(sku)
        with app.ctx.uow() as uow:
            supplier = uow.suppliers.by_name(supplier_name)
            supplier.config = {**(supplier.config or {}), "available_quantity": stock}
            uow.commit()
        app.ctx.forget_connectors()
        outcome = sync_catalog(app.ctx, supplier_name)
        assert outcome.status == "applied", outcome.reason

    def inject(self, mode: str, count: int = 1, *, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        self.emulator.faults.inject(mode, count, operation="orders.create", seconds=seconds, retry_after=retry_after)

    def orders(self) -> list[dict[str, str]]:
        return [{"reference": o["external_id"], "external_id": str(o["id"])} for o in self.emulator.order_list()]

    def ship(self, reference: str) -> None:
        self.emulator.ship(f"@{reference}")


@contextlib.contextmanager
def open_harness(webhook_url: str | None = None) -> Iterator[PrintfulHarness]:
    check = SpecCheck()
    emulator = checked(PrintfulEmulator(api_token="contract-token", ship_after_seconds=None, cost_delay_seconds=0.1,
                                        webhook_url=webhook_url, rate_limit_per_minute=RATE), check)
    emulator.add_store_variant(PrintfulHarness.contract_sku)
    emulator.start()
    try:
        yield PrintfulHarness(emulator)
    finally:
        emulator.stop()
    assert check.violations == [], "\n\n".join(check.violations[:10])
