"""Metafields on products and variants: `metafieldsSet` and the `metafield(namespace:, key:)` /
`metafields(first:)` fields (storefronts.md §1.9).

metafieldsSet creates or updates up to 25 metafields a call and is atomic: one bad input is a userError
(with its `elementIndex`) and nothing is written. `type` is required when the metafield does not exist yet
(there is no definition in the emulator); the value is validated against it for the types we model.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from .graphql import GraphQLError
from .values import _connection, gid

MAX_METAFIELDS_SET = 25  # §1.9 [V]
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TYPES = {"single_line_text_field", "multi_line_text_field", "json", "number_integer", "number_decimal",
          "boolean", "date"}


def _merr(field: list, message: str, code: str, index: int) -> dict[str, Any]:
    return {"__typename": "MetafieldsSetUserError", "field": field, "message": message, "code": code,
            "elementIndex": index}


def _valid_value(kind: str, value: str) -> bool:
    if kind == "single_line_text_field":
        return "\n" not in value and len(value) <= 255
    if kind == "json":
        try:
            json.loads(value)
        except ValueError:
            return False
        return True
    if kind == "number_integer":
        return re.fullmatch(r"-?\d+", value) is not None
    if kind == "boolean":
        return value in ("true", "false")
    return True


class MetafieldsMixin:
    metafields: dict[tuple[str, str, str], dict[str, Any]]

    def _metafield_obj(self, m: dict[str, Any] | None) -> dict[str, Any] | None:
        if m is None:
            return None
        return {"__typename": "Metafield", "__implements": ("Node",), "id": m["id"], "namespace": m["namespace"],
                "key": m["key"], "type": m["type"], "value": m["value"], "ownerType": m["ownerType"],
                "updatedAt": m["updatedAt"]}

    def _owner_metafields(self, owner_id: str) -> dict[str, Any]:
        """The metafield fields every owner object exposes."""
        def one(a: dict[str, Any]) -> dict[str, Any] | None:
            return self._metafield_obj(self.metafields.get((owner_id, a.get("namespace") or "", a.get("key") or "")))

        def many(a: dict[str, Any]) -> dict[str, Any]:
            rows = [m for (owner, ns, _), m in sorted(self.metafields.items())
                    if owner == owner_id and (not a.get("namespace") or ns == a["namespace"])]
            return _connection([((n,), self._metafield_obj(m)) for n, m in enumerate(rows)], a,
                               "MetafieldConnection", self.max_page)
        return {"metafield": one, "metafields": many}

    def _m_metafields_set(self, a: dict[str, Any]) -> dict[str, Any]:
        items = a.get("metafields")
        if not isinstance(items, list):
            raise GraphQLError("Argument 'metafields' ([MetafieldsSetInput!]!) is required", "missingRequiredArguments")
        result: dict[str, Any] = {"__typename": "MetafieldsSetPayload", "metafields": None, "userErrors": []}
        if len(items) > MAX_METAFIELDS_SET:
            result["userErrors"] = [_merr(["metafields"], f"Exceeded the maximum metafields input limit of "
                                          f"{MAX_METAFIELDS_SET}.", "LESS_THAN_OR_EQUAL_TO", 0)]
            return result
        errors: list[dict[str, Any]] = []
        ready: list[tuple[tuple[str, str, str], dict[str, Any]]] = []
        for i, m in enumerate(items):
            if not isinstance(m, dict) or not all(isinstance(m.get(k), str) for k in ("ownerId", "key", "value")):
                raise GraphQLError(f"Variable $metafields of type [MetafieldsSetInput!]! was provided invalid value "
                                   f"for {i}", "INVALID_VARIABLE")
            owner, ns, key = m["ownerId"], m.get("namespace") or "app--emulator", m["key"]
            kind_of = owner.split("/")[3] if owner.startswith("gid://shopify/") and owner.count("/") >= 4 else ""
            if (kind_of == "Product" and owner not in self.products) or (
                    kind_of == "ProductVariant" and owner not in self.variants) or kind_of not in (
                    "Product", "ProductVariant"):
                errors.append(_merr(["metafields", str(i), "ownerId"], "Owner does not exist.", "INVALID", i))
                continue
            if not (2 <= len(key) <= 64 and _NAME.match(key)) or not (3 <= len(ns) <= 255 and _NAME.match(ns)):
                errors.append(_merr(["metafields", str(i), "key"], "Key or namespace is invalid.", "INVALID", i))
                continue
            existing = self.metafields.get((owner, ns, key))
            kind = m.get("type") or (existing or {}).get("type")
            if kind is None:
                errors.append(_merr(["metafields", str(i), "type"], "Type can't be blank.", "BLANK", i))
                continue
            if kind not in _TYPES:
                errors.append(_merr(["metafields", str(i), "type"], f"Type '{kind}' is not a valid type.",
                                    "INVALID_TYPE", i))
                continue
            if existing is not None and existing["type"] != kind:
                errors.append(_merr(["metafields", str(i), "type"], "Type must match the existing metafield's "
                                    "type.", "INVALID_TYPE", i))
                continue
            if not _valid_value(kind, m["value"]):
                errors.append(_merr(["metafields", str(i), "value"], f"Value is invalid for type {kind}.",
                                    "INVALID_VALUE", i))
                continue
            ready.append(((owner, ns, key), {"namespace": ns, "key": key, "type": kind, "value": m["value"],
                                             "ownerType": "PRODUCT" if kind_of == "Product" else "PRODUCTVARIANT"}))
        if errors:  # atomic: nothing is written
            result["userErrors"] = errors
            return result
        out = []
        now = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for ident, fields in ready:
            row = self.metafields.get(ident)
            if row is None:
                row = self.metafields[ident] = {"id": gid("Metafield", self._new_id())}
            row.update(fields, updatedAt=now)
            out.append(self._metafield_obj(row))
        result["metafields"] = out
        return result
