"""The v3 Inventory API over several locations (storefronts.md §3.3).

- `PUT /v3/inventory/adjustments/absolute` (<= `inventory_batch_limit` items, 413 beyond): each item names
  its location and exactly one of `variant_id`, `sku`, `product_id`; a variant of a product tracked by
  product is 422. The answer is `{"transaction_id"}` at once; the quantities apply `inventory_delay`
  seconds later (reads are eventually consistent).
- `POST /v3/inventory/adjustments/relative`: the same with signed quantities; it needs an absolute
  adjustment first and never takes stock below zero (422).
- `GET /v3/inventory/items` (every location per item) and `GET /v3/inventory/locations/{id}/items`.
- `GET /v3/inventory/locations`: the store's locations; `add_location()` adds one (multi-location stores).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from .errors import BcError

MAX_QUANTITY = 2_147_483_647  # §3.3


class InventoryMixin:
    # ---- in-process --------------------------------------------------------------------------

    def add_location(self, label: str, code: str | None = None) -> int:
        with self._lock:
            lid = max(self.locations) + 1 if self.locations else 1
            self._new_location(lid, label, code or f"LOC-{lid}")
            return lid

    def wait_inventory(self, timeout: float = 10.0) -> None:
        """Block until every accepted inventory adjustment has been applied."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                self._settle()
                if not self.pending_adjustments:
                    return
                wait = min(t for t, _, _ in self.pending_adjustments) - time.monotonic()
            time.sleep(max(0.005, min(wait, 0.05)))
        raise TimeoutError("inventory adjustments still pending")

    # ---- state -------------------------------------------------------------------------------

    def _new_location(self, lid: int, label: str, code: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        hours = {"open": True, "opening": "09:00", "closing": "17:00"}
        self.locations[lid] = {
            "id": lid, "code": code, "label": label, "description": "", "managed_by_external_source": False,
            "type_id": "PHYSICAL", "enabled": True, "time_zone": "Etc/UTC", "storefront_visibility": True,
            "operating_hours": {day: dict(hours) for day in ("sunday", "monday", "tuesday", "wednesday", "thursday",
                                                            "friday", "saturday")},
            "special_hours": [], "created_at": stamp, "updated_at": stamp,
            "address": {"address1": "1 Warehouse Way", "address2": "", "city": "Austin", "state": "Texas",
                        "zip": "78701", "email": "", "phone": "", "geo_coordinates": {"latitude": 0, "longitude": 0},
                        "country_code": "US"},
        }

    def _resolve_item(self, item: dict[str, Any], index: int) -> tuple[str, int]:
        keys = [k for k in ("variant_id", "sku", "product_id") if item.get(k) not in (None, "")]
        if len(keys) != 1:
            raise BcError(422, f"items.{index}: exactly one of variant_id, sku, product_id is required")
        key = keys[0]
        if key == "product_id":
            product = self.products.get(item["product_id"])
            if product is None:
                raise BcError(422, f"[Product with id {item['product_id']} not found]")
            if product["inventory_tracking"] == "variant":
                raise BcError(422, f"[Product with id {product['id']} is tracked by variant, please update stock "
                              "by variant id]")
            return "product", product["id"]
        if key == "sku":
            owner = self._sku_owner(item["sku"])
            if owner is None:
                raise BcError(422, f"[Item with sku {item['sku']} not found]")
            if owner in self.products:
                return "product", owner
            vid = owner
        else:
            vid = item["variant_id"]
        variant = self.variants.get(vid)
        if variant is None:
            raise BcError(422, f"[Item with variant_id {vid} not found]")
        if self.products[variant["product_id"]]["inventory_tracking"] == "product":
            raise BcError(422, f"[Item with variant_id {vid} is tracked by product, please update stock by "
                          "product id]")  # §3.3
        return "variant", vid

    def _target(self, kind: str, ident: int) -> dict[str, Any]:
        return self.products[ident] if kind == "product" else self.variants[ident]

    def _adjust(self, body: Any, relative: bool) -> dict[str, Any]:
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise BcError(422, "JSON data is missing or invalid", {"items": "items is required"})
        if len(items) > self.inventory_batch_limit:
            raise BcError(413, "The request payload is too large. The maximum items allowed is "
                          f"{self.inventory_batch_limit}")
        self._settle()
        resolved = []
        for i, item in enumerate(items):
            location = item.get("location_id")
            if location not in self.locations:
                raise BcError(422, f"[Location with id {location} not found]")
            qty = item.get("quantity")
            if not isinstance(qty, int) or isinstance(qty, bool) or abs(qty) > MAX_QUANTITY or (
                    not relative and qty < 0):
                raise BcError(422, f"items.{i}.quantity is invalid")
            kind, ident = self._resolve_item(item, i)
            if relative:
                target = self._target(kind, ident)
                if (kind, ident, location) not in self.absolute_done:
                    raise BcError(422, "[Relative adjustment requires absolute adjustment before relative]")
                if target["levels"].get(location, 0) + qty < 0:
                    raise BcError(422, f"[Not enough stock for item {ident} at location {location}]")
            resolved.append((kind, ident, location, qty))
        transaction_id = str(uuid.uuid4())
        self.pending_adjustments.append((time.monotonic() + self.inventory_delay, transaction_id,
                                         [(relative, *r) for r in resolved]))
        if not relative:
            self.absolute_done.update((k, i, loc) for k, i, loc, _ in resolved)
        self.transactions.append({"transaction_id": transaction_id, "reason": body.get("reason"),
                                  "items": len(resolved), "relative": relative})
        return {"transaction_id": transaction_id}

    def _settle(self) -> None:
        now = time.monotonic()
        due = [a for a in self.pending_adjustments if a[0] <= now]
        if not due:
            return
        self.pending_adjustments = [a for a in self.pending_adjustments if a[0] > now]
        for _, _, items in sorted(due, key=lambda a: a[0]):
            for relative, kind, ident, location, qty in items:
                target = self._target(kind, ident)
                base = target["levels"].get(location, 0) if relative else 0
                target["levels"][location] = base + qty

    def _inventory_rows(self, location_id: int | None, variant_ids: set[int] | None) -> list[dict[str, Any]]:
        self._settle()
        rows = []
        for v in sorted(self.variants.values(), key=lambda x: x["id"]):
            if variant_ids is not None and v["id"] not in variant_ids:
                continue
            product = self.products[v["product_id"]]
            holder = self._holder(v)
            identity = {"sku": v["sku"], "variant_id": v["id"], "product_id": product["id"]}

            def at(lid: int, holder=holder, v=v) -> dict[str, Any]:
                level = holder["levels"].get(lid, 0)
                return {"available_to_sell": level, "total_inventory_onhand": level,
                        "settings": {"safety_stock": 0, "is_in_stock": level > 0, "warning_level": 0,
                                     "bin_picking_number": v["bin_picking_number"]}}

            if location_id is None:
                rows.append({"identity": {**identity, "sku_id": v["sku_id"]},
                             "locations": [{"location_id": lid, "location_code": loc["code"],
                                            "location_name": loc["label"], "location_enabled": loc["enabled"],
                                            **at(lid)} for lid, loc in sorted(self.locations.items())]})
            else:
                rows.append({"identity": identity, **at(location_id)})
        return rows
