"""`ManualSupplier`: an order desk that is a person. Placing an order puts it in dropbridge's purchase-order
queue (placement `awaiting_person`) and sends nothing anywhere; `dropbridge po placed` records what the
person ordered.

Because nothing leaves the building, an attempt that did not commit left no order anywhere: `find_order`
answers None (it never landed), and placing it again is safe; it is never CANNOT_KNOW."""

from __future__ import annotations

from typing import Any

from dropbridge.services.ports import PlacedOrder, Placement, SupplierOrderRequest


class ManualSupplier:
    kind = "manual"

    def place_order(self, request: SupplierOrderRequest) -> PlacedOrder:
        return PlacedOrder(external_id="", reference=request.reference, status="queued for a person",
                           placement=Placement.AWAITING_PERSON)

    def find_order(self, reference: str) -> PlacedOrder | None:
        return None  # an attempt that did not commit left nothing anywhere: placing it again is safe

    def close(self) -> None:
        pass


def from_config(base_url: str, credentials: dict[str, Any], config: dict[str, Any]) -> ManualSupplier:
    return ManualSupplier()
