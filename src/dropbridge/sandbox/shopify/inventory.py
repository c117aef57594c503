"""`inventorySetQuantities` (storefronts.md §1.3): absolute `available` or `on_hand` quantities at a
location, with the compare-and-set rules of the request's API version (§1.3's table: `compareQuantity`
up to 2025-10, optional `changeFromQuantity` in 2026-01, mandatory `changeFromQuantity` from 2026-04),
the user error codes §1.3 lists, and at most `max_array` quantities per call ([U] 250).
`inventory_all_or_nothing` ([U]) decides whether one bad quantity refuses the whole call.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

from .graphql import GraphQLError
from .values import _iso_utc, _uerr, gid

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/inventorySetQuantities (reason)
INVENTORY_REASONS = {
    "correction", "cycle_count_available", "damaged", "movement_created", "movement_updated",
    "movement_received", "movement_canceled", "other", "promotion", "quality_control", "received",
    "reservation_created", "reservation_deleted", "reservation_updated", "restock", "safety_stock",
    "shrinkage",
}


class InventoryMixin:

    def _m_inventory_set(self, a: dict[str, Any]) -> dict[str, Any]:
        data = a.get("input")
        if not isinstance(data, dict):
            raise GraphQLError("Argument 'input' (InventorySetQuantitiesInput!) is required",
                               "missingRequiredArguments")
        v2026_04 = self.request_version >= "2026-04"
        if v2026_04 and "ignoreCompareQuantity" in data:
            raise GraphQLError("InputObject 'InventorySetQuantitiesInput' doesn't accept argument "
                               "'ignoreCompareQuantity'", "argumentNotAccepted", ["inventorySetQuantities"])
        quantities = data.get("quantities") or []
        if len(quantities) > self.max_array:
            raise GraphQLError(
                f"The input array size of {len(quantities)} is greater than the maximum allowed of "
                f"{self.max_array}.", "MAX_INPUT_SIZE_EXCEEDED", ["inventorySetQuantities", "input", "quantities"])
        payload: dict[str, Any] = {"__typename": "InventorySetQuantitiesPayload",
                                   "inventoryAdjustmentGroup": None, "userErrors": []}
        errors: list[dict[str, Any]] = []
        name = data.get("name")
        if name not in ("available", "on_hand"):
            errors.append(_uerr(["input", "name"], "The quantity name must be available or on_hand", "INVALID_NAME"))
        if data.get("reason") not in INVENTORY_REASONS:
            errors.append(_uerr(["input", "reason"], "The reason is not valid", "INVALID_REASON"))
        ref = data.get("referenceDocumentUri")
        if ref is not None and not re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", str(ref)):
            errors.append(_uerr(["input", "referenceDocumentUri"], "The reference document URI is not valid",
                                "INVALID_REFERENCE_DOCUMENT"))
        seen: set[tuple[str, str]] = set()
        valid: list[tuple[int, dict[str, Any], dict[str, int], int]] = []
        for i, q in enumerate(quantities):
            path = ["input", "quantities", str(i)]
            if v2026_04 and "compareQuantity" in q:
                raise GraphQLError("InputObject 'InventoryQuantityInput' doesn't accept argument 'compareQuantity'",
                                   "argumentNotAccepted", ["inventorySetQuantities"])
            item = self.items.get(q.get("inventoryItemId"))
            loc = q.get("locationId")
            qty = q.get("quantity")
            pair = (q.get("inventoryItemId"), loc)
            if pair in seen:
                errors.append(_uerr(path, "The combination of inventoryItemId and locationId must be unique",
                                    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"))
                continue
            seen.add(pair)
            if item is None:
                errors.append(_uerr(path + ["inventoryItemId"], "The specified inventory item could not be found.",
                                    "INVALID_INVENTORY_ITEM"))
                continue
            if loc not in self.locations:
                errors.append(_uerr(path + ["locationId"], "The specified location could not be found.",
                                    "INVALID_LOCATION"))
                continue
            level = item["levels"].get(loc)
            if level is None:
                errors.append(_uerr(path + ["locationId"], "The specified inventory item is not stocked at the "
                                    "location.", "ITEM_NOT_STOCKED_AT_LOCATION"))
                continue
            if not isinstance(qty, int) or isinstance(qty, bool):
                errors.append(_uerr(path + ["quantity"], "The quantity must be an integer", "INVALID_QUANTITY"))
                continue
            if qty < 0 and name == "on_hand":
                errors.append(_uerr(path + ["quantity"], "The quantity can't be negative.",
                                    "INVALID_QUANTITY_NEGATIVE"))
                continue
            if qty > 1_000_000_000:
                errors.append(_uerr(path + ["quantity"], "The quantity can't be higher than 1,000,000,000.",
                                    "INVALID_QUANTITY_TOO_HIGH"))
                continue
            if qty < -1_000_000_000:
                errors.append(_uerr(path + ["quantity"], "The quantity can't be lower than -1,000,000,000.",
                                    "INVALID_QUANTITY_TOO_LOW"))
                continue
            current = level.get(name or "available", 0)
            # Compare-and-set, by version: see the contract's table in section 1.3.
            if v2026_04 and "changeFromQuantity" not in q:
                # [U] code: the changelog says omitting it "is an error".
                errors.append(_uerr(path + ["changeFromQuantity"], "changeFromQuantity is required; pass null "
                                    "to opt out of the compare check", "CHANGE_FROM_QUANTITY_REQUIRED"))
                continue
            if q.get("changeFromQuantity") is not None and q["changeFromQuantity"] != current:
                errors.append(_uerr(path + ["changeFromQuantity"], "The changeFromQuantity is stale: the current "
                                    f"quantity is {current}.", "CHANGE_FROM_QUANTITY_STALE"))
                continue
            if (not v2026_04 and not data.get("ignoreCompareQuantity") and q.get("compareQuantity") is not None
                    and q["compareQuantity"] != current):
                errors.append(_uerr(path + ["compareQuantity"], "The compareQuantity value does not match the "
                                    "stored quantity.", "COMPARE_QUANTITY_STALE"))
                continue
            if (self.request_version < "2026-01" and not data.get("ignoreCompareQuantity")
                    and q.get("compareQuantity") is None):
                errors.append(_uerr(path + ["compareQuantity"], "The compareQuantity argument must be given to "
                                    "each quantity or ignored using ignoreCompareQuantity.",
                                    "COMPARE_QUANTITY_REQUIRED"))
                continue
            valid.append((i, item, level, qty))
        if errors and (self.inventory_all_or_nothing or not valid):
            payload["userErrors"] = errors
            return payload
        changes = []
        for _i, item, level, qty in valid:
            key = name or "available"
            delta = qty - level.get(key, 0)
            if key == "available":
                level["available"] = qty
                level["on_hand"] = level.get("on_hand", 0) + delta
            else:
                level["on_hand"] = qty
                level["available"] = level.get("available", 0) + delta
            loc = next(k for k, v in item["levels"].items() if v is level)
            changes.append({"__typename": "InventoryChange", "name": key, "delta": delta,
                            "quantityAfterChange": qty, "item": {"__typename": "InventoryItem", "id": item["id"],
                                                                 "sku": item["sku"]},
                            "location": {"__typename": "Location", "id": loc}})
        group = {"__typename": "InventoryAdjustmentGroup", "id": gid("InventoryAdjustmentGroup", self._new_id()),
                 "reason": data.get("reason"), "referenceDocumentUri": ref, "createdAt": _iso_utc(datetime.now(UTC)),
                 "changes": changes}
        self.adjustment_groups.append(group)
        payload["inventoryAdjustmentGroup"] = group
        payload["userErrors"] = errors
        return copy.deepcopy(payload)

    # -- in-process (tests, demo) -------------------------------------------------------------------

    def inventory_levels(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"inventory_item_id": item["id"], "variant_id": item["variantId"], "sku": item["sku"],
                 "location_id": loc, **level}
                for item in self.items.values() for loc, level in item["levels"].items()
            ]

    def available(self, variant_id: str, location_id: str | None = None) -> int:
        with self._lock:
            item = self.items[self.variants[variant_id]["inventoryItemId"]]
            return item["levels"][location_id or self.primary_location]["available"]

