"""The `manual` supplier kind: its order desk is dropbridge's own purchase-order queue, so there is no emulator
and nothing to fault; a PO "at the supplier" is one waiting in the queue for a person."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

from dropbridge.services.import_shipments import add_shipment
from dropbridge.services.purchase_orders import list_purchase_orders
from dropbridge.services.sync_feed import sync_feed


class ManualHarness:
    kind = "manual"
    can_look_up = True  # nothing leaves the building: an attempt that did not commit left nothing anywhere
    remote = False  # the orders are held by dropbridge itself
    fault_trials = 0
    fault_modes: tuple[str, ...] = ()  # no transport to fail

    def __init__(self):
        self.app = None
        self.supplier = None
        self._shipped = 0

    def connection(self) -> dict:
        return {"name": "manual", "base_url": "", "credentials": {}, "config": {}}

    def offer(self, app, supplier_name: str, sku: str, stock: int, cost: str) -> None:
        self.app, self.supplier = app, supplier_name
        feed = f"sku,qty,cost\n{sku},{stock},{cost}\n".encode()
        sync_feed(app.ctx, supplier_name, io.BytesIO(feed), f"{supplier_name}.csv", mode="delta")

    def inject(self, mode: str, count: int = 1, *, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        raise NotImplementedError(f"the manual kind has no transport to fault ({mode})")

    def orders(self) -> list[dict[str, str]]:
        if self.app is None:
            return []
        return [{"reference": po["reference"], "external_id": po["external_id"]}
                for po in list_purchase_orders(self.app.ctx, supplier=self.supplier, status="all")
                if po["status"] != "pending"]

    def ship(self, reference: str) -> None:
        self._shipped += 1
        add_shipment(self.app.ctx, self.supplier, reference, carrier="UPS",
                     tracking_number=f"MANUAL{self._shipped:06d}")


@contextlib.contextmanager
def open_harness(webhook_url: str | None = None) -> Iterator[ManualHarness]:
    yield ManualHarness()
