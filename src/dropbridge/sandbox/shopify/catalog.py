"""Products, variants, inventory items and locations (storefronts.md §1.3 model, §1.4 productSet).

`productSet` replaces list fields (variants not given are deleted; §1.4) and leaves omitted scalars
alone; a given variant keeps its id when it matches an existing one by id or by option combination ([U]).
Connections take `sortKey` and `reverse` as the Admin API does; `query` understands the search terms the
connectors use (`sku:`, `handle:`, `title:`, `vendor:`, `status:`, `product_id:`).
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

from .graphql import GraphQLError
from .values import (
    _connection,
    _dec,
    _iso_utc,
    _search_terms,
    _uerr,
    _UserErrors,
    gid,
    gid_number,
    gql_decimal,
    sort_keyed,
)

# https://shopify.dev/docs/api/admin-graphql/2026-01/enums/ProductSortKeys
PRODUCT_SORT_KEYS = {
    "ID": lambda p: 0,
    "TITLE": lambda p: p["title"].lower(),
    "CREATED_AT": lambda p: p["createdAt"],
    "UPDATED_AT": lambda p: p["updatedAt"],
    "VENDOR": lambda p: p["vendor"].lower(),
    "PRODUCT_TYPE": lambda p: p.get("productType", "").lower(),
    "RELEVANCE": lambda p: 0,
}


class CatalogMixin:
    def _product_obj(self, ident: Any) -> dict[str, Any] | None:
        p = self.products.get(ident)
        if p is None:
            return None
        return {
            "__typename": "Product",
            "__implements": ("Node",),
            "id": p["id"],
            "legacyResourceId": str(gid_number(p["id"])),
            "title": p["title"],
            "handle": p["handle"],
            "descriptionHtml": p["descriptionHtml"],
            "vendor": p["vendor"],
            "productType": p.get("productType", ""),
            "status": p["status"],
            "createdAt": p["createdAt"],
            "updatedAt": p["updatedAt"],
            "options": lambda a: [
                {"__typename": "ProductOption", "name": o["name"], "position": i + 1,
                 "values": list(o["values"]),
                 "optionValues": [{"__typename": "ProductOptionValue", "name": v} for v in o["values"]]}
                for i, o in enumerate(p["options"])
            ][: a.get("first") or None],
            "variants": lambda a: _connection(
                [((gid_number(v),), self._variant_obj(v)) for v in p["variants"]], a,
                "ProductVariantConnection", self.max_page),
            "media": lambda a: _connection(
                [((i,), self._media_obj(m)) for i, m in enumerate(p["media"])], a, "MediaConnection",
                self.max_page),
            "images": lambda a: _connection(
                [((i,), {"__typename": "Image", "id": m["imageId"], "url": m["url"], "altText": m["alt"]})
                 for i, m in enumerate(p["media"])], a, "ImageConnection", self.max_page),
            "collections": self._product_collections(p["id"]),
            **self._owner_metafields(p["id"]),
        }

    @staticmethod
    def _media_obj(m: dict[str, Any]) -> dict[str, Any]:
        return {
            "__typename": "MediaImage",
            "__implements": ("Media", "Node"),
            "id": m["id"],
            "alt": m["alt"],
            "mediaContentType": "IMAGE",
            "status": "READY",
            "image": {"__typename": "Image", "id": m["imageId"], "url": m["url"], "altText": m["alt"]},
        }

    def _variant_obj(self, ident: Any) -> dict[str, Any] | None:
        v = self.variants.get(ident)
        if v is None:
            return None
        return {
            "__typename": "ProductVariant",
            "__implements": ("Node",),
            "id": v["id"],
            "legacyResourceId": str(gid_number(v["id"])),
            "sku": v["sku"],
            "title": self._variant_title(v),
            "price": gql_decimal(v["price"]),
            "compareAtPrice": gql_decimal(v["compareAtPrice"]) if v["compareAtPrice"] is not None else None,
            "barcode": v["barcode"],
            "inventoryPolicy": v["inventoryPolicy"],
            "inventoryQuantity": self._total_available(v["inventoryItemId"]),
            "selectedOptions": [{"__typename": "SelectedOption", **o} for o in v["selectedOptions"]],
            "product": lambda a: self._product_obj(v["productId"]),
            "inventoryItem": lambda a: self._item_obj(v["inventoryItemId"]),
            **self._owner_metafields(v["id"]),
        }

    def _total_available(self, item_id: str) -> int:
        item = self.items.get(item_id)
        return sum(level["available"] for level in item["levels"].values()) if item else 0

    def _item_obj(self, ident: Any) -> dict[str, Any] | None:
        item = self.items.get(ident)
        if item is None:
            return None

        def level_obj(loc: str) -> dict[str, Any] | None:
            level = item["levels"].get(loc)
            if level is None:
                return None
            return {
                "__typename": "InventoryLevel",
                "id": f"gid://shopify/InventoryLevel/{gid_number(item['id'])}?inventory_item_id="
                f"{gid_number(item['id'])}&location_id={gid_number(loc)}",
                "location": self._location_obj(loc),
                "quantities": lambda a: [
                    {"__typename": "InventoryQuantity", "name": n, "quantity": level.get(n, 0)}
                    for n in (a.get("names") or ["available"])
                ],
            }

        return {
            "__typename": "InventoryItem",
            "__implements": ("Node",),
            "id": item["id"],
            "sku": item["sku"],
            "tracked": item["tracked"],
            "variant": lambda a: self._variant_obj(item["variantId"]),
            "inventoryLevel": lambda a: level_obj(a.get("locationId")),
            "inventoryLevels": lambda a: _connection(
                [((gid_number(loc),), level_obj(loc)) for loc in item["levels"]], a, "InventoryLevelConnection",
                self.max_page),
        }

    def _location_obj(self, ident: Any) -> dict[str, Any] | None:
        loc = self.locations.get(ident)
        if loc is None:
            return None
        return {"__typename": "Location", "__implements": ("Node",), **loc}

    def _q_products(self, a: dict[str, Any]) -> dict[str, Any]:
        products = list(self.products.values())
        for field, _op, value in _search_terms(a.get("query")):
            if field == "sku":
                products = [p for p in products if any(self.variants[v]["sku"] == value for v in p["variants"])]
            elif field in ("handle", "title", "vendor", "status"):
                products = [p for p in products if str(p[field]).lower() == value.lower()]
        keyed = sort_keyed(products, a, PRODUCT_SORT_KEYS, "products", lambda p: gid_number(p["id"]))
        return _connection([(k, self._product_obj(p["id"])) for k, p in keyed], a, "ProductConnection", self.max_page)

    def _q_variants(self, a: dict[str, Any]) -> dict[str, Any]:
        variants = list(self.variants.values())
        for field, _op, value in _search_terms(a.get("query")):
            if field == "sku":
                variants = [v for v in variants if v["sku"] == value]
            elif field == "product_id":
                variants = [v for v in variants if str(gid_number(v["productId"])) == value]
        keys = {  # https://shopify.dev/docs/api/admin-graphql/2026-01/enums/ProductVariantSortKeys
            "ID": lambda v: 0, "SKU": lambda v: v["sku"] or "", "TITLE": lambda v: self._variant_title(v).lower(),
            "POSITION": lambda v: (gid_number(v["productId"]),
                                   self.products[v["productId"]]["variants"].index(v["id"])),
            "INVENTORY_QUANTITY": lambda v: self._total_available(v["inventoryItemId"]), "RELEVANCE": lambda v: 0,
        }
        keyed = sort_keyed(variants, a, keys, "productVariants", lambda v: gid_number(v["id"]))
        return _connection([(k, self._variant_obj(v["id"])) for k, v in keyed], a, "ProductVariantConnection",
                           self.max_page)

    @staticmethod
    def _variant_title(v: dict[str, Any]) -> str:
        return " / ".join(o["value"] for o in v["selectedOptions"]) or "Default Title"

    # -- productSet --------------------------------------------------------------------------------
    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productSet

    def _m_product_set(self, a: dict[str, Any]) -> dict[str, Any]:
        data = a.get("productSet") if a.get("productSet") is not None else a.get("input")
        result: dict[str, Any] = {"__typename": "ProductSetPayload", "product": None,
                                  "productSetOperation": None, "userErrors": []}
        if not isinstance(data, dict):
            raise GraphQLError("Argument 'productSet' (ProductSetInput!) is required", "missingRequiredArguments")
        try:
            product_id = self._product_set(data, a.get("identifier") or {})
        except _UserErrors as exc:
            result["userErrors"] = exc.errors
            return result
        if a.get("synchronous"):
            result["product"] = self._product_obj(product_id)
        else:
            op_id = gid("ProductSetOperation", self._new_id())
            self.operations[op_id] = {"id": op_id, "productId": product_id}
            result["productSetOperation"] = {"__typename": "ProductSetOperation", "id": op_id,
                                             "status": "CREATED", "product": None, "userErrors": []}
        return result

    def _operation_obj(self, ident: Any) -> dict[str, Any] | None:
        op = self.operations.get(ident)
        if op is None:
            return None
        return {"__typename": "ProductSetOperation", "id": op["id"], "status": "COMPLETE",
                "product": self._product_obj(op["productId"]), "userErrors": []}

    def _product_set(self, data: dict[str, Any], identifier: dict[str, Any]) -> str:
        now = _iso_utc(datetime.now(UTC))
        errors: list[dict[str, Any]] = []
        existing = None
        if identifier.get("id") or data.get("id"):
            existing = self.products.get(identifier.get("id") or data.get("id"))
            if existing is None:
                raise _UserErrors([_uerr(["identifier", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")])
        elif identifier.get("handle"):
            existing = next((p for p in self.products.values() if p["handle"] == identifier["handle"]), None)
        if existing is None and not data.get("title"):
            errors.append(_uerr(["input", "title"], "Title can't be blank", "BLANK"))
        options = data.get("productOptions")
        if options is None and existing is not None:
            option_list = [{"name": o["name"], "values": list(o["values"])} for o in existing["options"]]
        else:
            option_list = [
                {"name": o.get("name"), "values": [v.get("name") for v in (o.get("values") or [])]}
                for o in (options or [])
            ]
        if len(option_list) > 3:
            errors.append(_uerr(["input", "productOptions"], "Products can have at most 3 options",
                                "OPTIONS_OVER_LIMIT"))
        option_names = [o["name"] for o in option_list]
        variants_in = data.get("variants")
        if variants_in is not None and len(variants_in) > 2048:
            errors.append(_uerr(["input", "variants"], "Too many variants", "VARIANTS_OVER_LIMIT"))
        parsed_variants = []
        seen_combos: set[tuple] = set()
        for i, vin in enumerate(variants_in or []):
            combo = {ov.get("optionName"): ov.get("name") for ov in (vin.get("optionValues") or [])}
            if option_names and set(combo) != set(option_names):
                errors.append(_uerr(["input", "variants", str(i), "optionValues"],
                                    "Option values must be given for every product option",
                                    "INVALID_VARIANT"))
                continue
            for name, value in combo.items():
                option = next((o for o in option_list if o["name"] == name), None)
                if option is not None and value not in option["values"]:
                    errors.append(_uerr(["input", "variants", str(i), "optionValues"],
                                        f"Option value '{value}' does not exist for option '{name}'",
                                        "OPTION_VALUE_DOES_NOT_EXIST"))
            key = tuple(combo.get(n) for n in option_names)
            if key in seen_combos:
                errors.append(_uerr(["input", "variants", str(i)], f"The variant '{' / '.join(map(str, key))}' "
                                    "already exists.", "DUPLICATE_VARIANT"))
            seen_combos.add(key)
            try:
                price = _dec(vin.get("price", "0"), "price")
                compare = _dec(vin["compareAtPrice"], "compareAtPrice") if vin.get("compareAtPrice") is not None \
                    else None
            except ValueError as exc:
                errors.append(_uerr(["input", "variants", str(i), "price"], str(exc), "INVALID"))
                continue
            if price < 0:
                errors.append(_uerr(["input", "variants", str(i), "price"], "Price must be >= 0", "INVALID"))
            sku = vin.get("sku")
            if sku is None and isinstance(vin.get("inventoryItem"), dict):
                sku = vin["inventoryItem"].get("sku")
            parsed_variants.append((vin, [{"name": n, "value": combo[n]} for n in option_names] if option_names
                                    else [], price, compare, sku))
        if errors:
            raise _UserErrors(errors)
        media = [
            {"id": gid("MediaImage", self._new_id()), "imageId": gid("ProductImage", self._new_id()),
             "url": f.get("originalSource"), "alt": f.get("alt") or ""}
            for f in (data.get("files") or [])
            if f.get("originalSource")
        ]
        if existing is None:
            pid = gid("Product", self._new_id())
            handle = identifier.get("handle") or data.get("handle") or re.sub(
                r"[^a-z0-9]+", "-", str(data.get("title", "product")).lower()).strip("-")
            base, n = handle, 1
            while any(p["handle"] == handle for p in self.products.values()):
                handle = f"{base}-{n}"
                n += 1
            existing = {"id": pid, "handle": handle, "title": "", "descriptionHtml": "", "vendor": "",
                        "status": "ACTIVE", "options": [], "variants": [], "media": [], "createdAt": now}
            self.products[pid] = existing
        p = existing
        for src, dst in (("title", "title"), ("descriptionHtml", "descriptionHtml"), ("vendor", "vendor"),
                         ("status", "status"), ("handle", "handle"), ("productType", "productType")):
            if data.get(src) is not None:
                p[dst] = data[src]
        p["options"] = option_list
        p["updatedAt"] = now
        if data.get("files") is not None:
            p["media"] = media
        if variants_in is not None:
            # List fields are replaced: variants not given are deleted. A given variant matches an existing
            # one by id, else by its option combination ([U]), so re-publishing keeps ids stable.
            old = {v: self.variants[v] for v in p["variants"]}
            by_combo = {tuple(o["value"] for o in v["selectedOptions"]): v["id"] for v in old.values()}
            keep: list[str] = []
            for vin, selected, price, compare, sku in parsed_variants:
                vid = vin.get("id") if vin.get("id") in old else by_combo.get(tuple(o["value"] for o in selected))
                if vid is None:
                    vid = gid("ProductVariant", self._new_id())
                    item_id = gid("InventoryItem", self._new_id())
                    levels: dict[str, dict[str, int]] = {}
                    if self.stock_new_items_at_primary:
                        levels[self.primary_location] = {"available": 0, "on_hand": 0, "committed": 0}
                    for q in vin.get("inventoryQuantities") or []:
                        loc = q.get("locationId")
                        if loc not in self.locations:
                            raise _UserErrors([_uerr(["input", "variants", "inventoryQuantities"],
                                                     "Location does not exist", "INVALID_LOCATION")])
                        level = levels.setdefault(loc, {"available": 0, "on_hand": 0, "committed": 0})
                        qty = int(q.get("quantity") or 0)
                        if q.get("name", "available") == "on_hand":
                            level["on_hand"] = qty
                            level["available"] = qty - level["committed"]
                        else:
                            level["available"] = qty
                            level["on_hand"] = qty + level["committed"]
                    tracked = True
                    if isinstance(vin.get("inventoryItem"), dict) and vin["inventoryItem"].get("tracked") is not None:
                        tracked = bool(vin["inventoryItem"]["tracked"])
                    self.items[item_id] = {"id": item_id, "sku": sku, "tracked": tracked, "variantId": vid,
                                           "levels": levels}
                    self.variants[vid] = {"id": vid, "productId": p["id"], "inventoryItemId": item_id}
                v = self.variants[vid]
                v.update({"sku": sku, "price": price, "compareAtPrice": compare, "barcode": vin.get("barcode"),
                          "inventoryPolicy": vin.get("inventoryPolicy") or "DENY", "selectedOptions": selected})
                self.items[v["inventoryItemId"]]["sku"] = sku
                keep.append(vid)
            for vid in set(old) - set(keep):
                self.items.pop(self.variants[vid]["inventoryItemId"], None)
                self.variants.pop(vid, None)
            p["variants"] = keep
        return p["id"]

    # -- productVariantsBulkUpdate ------------------------------------------------------------------
    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productVariantsBulkUpdate

    def _bulk_variants(self, a: dict[str, Any], mutation: str) -> list:
        """The `variants` argument of a productVariantsBulk* mutation, checked as Shopify checks it."""
        variants = a.get("variants")
        if not isinstance(variants, list) or not a.get("productId"):
            raise GraphQLError("Arguments 'productId' (ID!) and 'variants' ([ProductVariantsBulkInput!]!) are "
                               "required", "missingRequiredArguments")
        if len(variants) > self.max_array:
            raise GraphQLError(
                f"The input array size of {len(variants)} is greater than the maximum allowed of "
                f"{self.max_array}.", "MAX_INPUT_SIZE_EXCEEDED", [mutation, "variants"])
        return variants

    def _m_variants_bulk_update(self, a: dict[str, Any]) -> dict[str, Any]:
        """Update variants of one product (§1.4): the given fields only; at most `max_array` variants. A bad
        variant is a userError; without `allowPartialUpdates` it stops the whole call, with it the others apply."""
        variants = self._bulk_variants(a, "productVariantsBulkUpdate")
        result: dict[str, Any] = {"__typename": "ProductVariantsBulkUpdatePayload", "product": None,
                                  "productVariants": None, "userErrors": []}
        product = self.products.get(a["productId"])
        if product is None:
            result["userErrors"] = [_uerr(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]
            return result
        errors: list[dict[str, Any]] = []
        ready: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for i, vin in enumerate(variants):
            variant = self.variants.get(vin.get("id")) if isinstance(vin, dict) else None
            if variant is None or variant["productId"] != product["id"]:
                errors.append(_uerr(["variants", str(i), "id"], "Product variant does not exist",
                                    "PRODUCT_VARIANT_DOES_NOT_EXIST"))
                continue
            change: dict[str, Any] = {}
            try:
                if "price" in vin:
                    change["price"] = _dec(vin["price"], "price")
                if "compareAtPrice" in vin:
                    change["compareAtPrice"] = (None if vin["compareAtPrice"] is None
                                                else _dec(vin["compareAtPrice"], "compareAtPrice"))
            except ValueError as exc:
                errors.append(_uerr(["variants", str(i), "price"], str(exc), "INVALID_INPUT"))
                continue
            if change.get("price") is not None and change["price"] < 0:
                errors.append(_uerr(["variants", str(i), "price"], "Price must be greater than or equal to 0",
                                    "GREATER_THAN_OR_EQUAL_TO"))
                continue
            if "inventoryPolicy" in vin:
                if vin["inventoryPolicy"] not in ("DENY", "CONTINUE"):
                    raise GraphQLError(f"Variable $variants of type [ProductVariantsBulkInput!]! was provided invalid "
                                       f"value for {i}.inventoryPolicy", "INVALID_VARIABLE")
                change["inventoryPolicy"] = vin["inventoryPolicy"]
            if "barcode" in vin:
                change["barcode"] = vin["barcode"]
            if vin.get("optionValues") is not None:
                selected = self._selected_options(product, vin["optionValues"], ["variants", str(i), "optionValues"],
                                                  errors)
                if selected is None:
                    continue
                change["selectedOptions"] = selected
            ready.append((variant, change))
        combos = {v: tuple(o["value"] for o in self.variants[v]["selectedOptions"]) for v in product["variants"]}
        for variant, change in ready:
            if "selectedOptions" in change:
                combos[variant["id"]] = tuple(o["value"] for o in change["selectedOptions"])
        if len(set(combos.values())) < len(combos):
            errors.append(_uerr(["variants"], "The variant already exists.", "VARIANT_ALREADY_EXISTS"))
            ready = []
        result["userErrors"] = errors
        if errors and not a.get("allowPartialUpdates"):
            return result
        now = _iso_utc(datetime.now(UTC))
        for variant, change in ready:
            variant.update(change)
        if any("selectedOptions" in change for _, change in ready):
            self._sync_option_values(product)
        if ready:
            product["updatedAt"] = now
        result["product"] = self._product_obj(product["id"])
        result["productVariants"] = [self._variant_obj(v["id"]) for v, _ in ready]
        return result

    # -- productVariantsBulkCreate ------------------------------------------------------------------
    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productVariantsBulkCreate

    def _selected_options(self, product: dict[str, Any], values: Any, field: list[str],
                          errors: list[dict[str, Any]]) -> list[dict[str, str]] | None:
        """A variant's optionValues against the product's options: every option named once; a value the option
        lacks is added to it (Shopify creates option values on variant create/update)."""
        names = [o["name"] for o in product["options"]]
        combo = {ov.get("optionName"): ov.get("name") for ov in values or [] if isinstance(ov, dict)}
        if set(combo) != set(names) or any(not v for v in combo.values()):
            errors.append(_uerr(field, "Option values must be given for every product option",
                                "NEED_TO_ADD_OPTION_VALUES" if set(combo) < set(names) else "OPTION_DOES_NOT_EXIST"))
            return None
        return [{"name": n, "value": str(combo[n])} for n in names]

    def _sync_option_values(self, product: dict[str, Any]) -> None:
        """Option values follow the variants: new ones are appended, ones no variant uses any more go."""
        used = [self.variants[v]["selectedOptions"] for v in product["variants"]]
        for i, option in enumerate(product["options"]):
            values = [sel[i]["value"] for sel in used if i < len(sel)]
            option["values"] = [v for v in option["values"] if v in values]
            option["values"] += [v for v in dict.fromkeys(values) if v not in option["values"]]

    def _m_variants_bulk_create(self, a: dict[str, Any]) -> dict[str, Any]:
        """Add variants to a product beside the existing ones (strategy DEFAULT; §1.4: the SKU in
        inventoryItem.sku, inventoryQuantities with `availableQuantity`). All or nothing: any userError and
        no variant is created. A combination the product has already is VARIANT_ALREADY_EXISTS."""
        variants = self._bulk_variants(a, "productVariantsBulkCreate")
        strategy = a.get("strategy") or "DEFAULT"
        if strategy not in ("DEFAULT", "REMOVE_STANDALONE_VARIANT", "PRESERVE_STANDALONE_VARIANT"):
            raise GraphQLError(f"Argument 'strategy' has an invalid value ({strategy}).",
                               "argumentLiteralsIncompatible")
        result: dict[str, Any] = {"__typename": "ProductVariantsBulkCreatePayload", "product": None,
                                  "productVariants": None, "userErrors": []}
        product = self.products.get(a["productId"])
        if product is None:
            result["userErrors"] = [_uerr(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]
            return result
        errors: list[dict[str, Any]] = []
        combos = {tuple(o["value"] for o in self.variants[v]["selectedOptions"]) for v in product["variants"]}
        if len(product["variants"]) + len(variants) > 2048:
            errors.append(_uerr(["variants"], "Too many variants", "TOO_MANY_VARIANTS"))
        parsed = []
        for i, vin in enumerate(variants):
            if not isinstance(vin, dict):
                continue
            if "id" in vin:
                errors.append(_uerr(["variants", str(i), "id"], "id cannot be specified when creating a variant",
                                    "INVALID_INPUT"))
                continue
            selected = self._selected_options(product, vin.get("optionValues"), ["variants", str(i), "optionValues"],
                                              errors)
            if selected is None:
                continue
            key = tuple(o["value"] for o in selected)
            if key in combos:
                errors.append(_uerr(["variants", str(i)], f"The variant '{' / '.join(key)}' already exists.",
                                    "VARIANT_ALREADY_EXISTS"))
                continue
            combos.add(key)
            try:
                price = _dec(vin.get("price", "0"), "price")
                compare = _dec(vin["compareAtPrice"], "compareAtPrice") if vin.get("compareAtPrice") is not None \
                    else None
            except ValueError as exc:
                errors.append(_uerr(["variants", str(i), "price"], str(exc), "INVALID_INPUT"))
                continue
            levels: dict[str, dict[str, int]] = {}
            for q in vin.get("inventoryQuantities") or []:
                loc = q.get("locationId")
                if loc not in self.locations:
                    errors.append(_uerr(["variants", str(i), "inventoryQuantities"], "Location does not exist",
                                        "INVALID_INVENTORY_LOCATION"))
                    break
                qty = int(q.get("availableQuantity") or 0)
                levels[loc] = {"available": qty, "on_hand": qty, "committed": 0}
            item = vin.get("inventoryItem") if isinstance(vin.get("inventoryItem"), dict) else {}
            parsed.append((vin, selected, price, compare, item, levels))
        if errors:
            result["userErrors"] = errors
            return result
        created = []
        for vin, selected, price, compare, item, levels in parsed:
            vid = gid("ProductVariant", self._new_id())
            item_id = gid("InventoryItem", self._new_id())
            if self.stock_new_items_at_primary and self.primary_location not in levels:
                levels[self.primary_location] = {"available": 0, "on_hand": 0, "committed": 0}
            self.items[item_id] = {"id": item_id, "sku": item.get("sku"), "tracked": bool(item.get("tracked", True)),
                                   "variantId": vid, "levels": levels}
            self.variants[vid] = {"id": vid, "productId": product["id"], "inventoryItemId": item_id,
                                  "sku": item.get("sku"), "price": price, "compareAtPrice": compare,
                                  "barcode": vin.get("barcode"),
                                  "inventoryPolicy": vin.get("inventoryPolicy") or "DENY",
                                  "selectedOptions": selected}
            product["variants"].append(vid)
            created.append(vid)
        self._sync_option_values(product)
        product["updatedAt"] = _iso_utc(datetime.now(UTC))
        result["product"] = self._product_obj(product["id"])
        result["productVariants"] = [self._variant_obj(v) for v in created]
        return result

    # -- productUpdate ---------------------------------------------------------------------------------
    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productUpdate (`product:` since 2024-10)

    def _m_product_update(self, a: dict[str, Any]) -> dict[str, Any]:
        data = a.get("product") if a.get("product") is not None else a.get("input")
        if not isinstance(data, dict):
            raise GraphQLError("Argument 'product' (ProductUpdateInput) is required", "missingRequiredArguments")
        result: dict[str, Any] = {"__typename": "ProductUpdatePayload", "product": None, "userErrors": []}
        product = self.products.get(data.get("id"))
        if product is None:
            result["userErrors"] = [_uerr(["id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]
            return result
        if "title" in data and not str(data["title"] or "").strip():
            result["userErrors"] = [_uerr(["title"], "Title can't be blank", "BLANK")]
            return result
        if "status" in data and data["status"] not in ("ACTIVE", "ARCHIVED", "DRAFT"):
            raise GraphQLError(f"Variable $product of type ProductUpdateInput! was provided invalid value for status "
                               f"(Expected \"{data['status']}\" to be one of: ACTIVE, ARCHIVED, DRAFT)",
                               "INVALID_VARIABLE")
        for name in ("title", "descriptionHtml", "vendor", "productType", "status", "handle"):
            if data.get(name) is not None:
                product[name] = data[name]
        product["updatedAt"] = _iso_utc(datetime.now(UTC))
        result["product"] = self._product_obj(product["id"])
        return result

    # -- in-process (tests, demo) -------------------------------------------------------------------

    def product(self, product_id: str) -> dict[str, Any]:
        """A plain view of a product: options, variants (price/compareAtPrice as decimal strings), images."""
        with self._lock:
            p = self.products[product_id]
            return {
                "id": p["id"], "title": p["title"], "handle": p["handle"], "vendor": p["vendor"],
                "descriptionHtml": p["descriptionHtml"], "status": p["status"],
                "productType": p.get("productType", ""),
                "options": copy.deepcopy(p["options"]),
                "images": [m["url"] for m in p["media"]],
                "variants": [
                    {"id": v["id"], "sku": v["sku"], "price": str(v["price"]),
                     "compareAtPrice": str(v["compareAtPrice"]) if v["compareAtPrice"] is not None else None,
                     "barcode": v["barcode"], "inventoryItemId": v["inventoryItemId"],
                     "inventoryPolicy": v["inventoryPolicy"],
                     "options": {o["name"]: o["value"] for o in v["selectedOptions"]}}
                    for v in (self.variants[x] for x in p["variants"])
                ],
            }

    def seed_product(self, title: str, variants: list[dict[str, Any]], options: list[str] | None = None,
                     quantity_location: str | None = None) -> dict[str, Any]:
        """In-process product creation (as the merchant would in the admin): variants are
        {"sku", "price", "compareAtPrice"?, "options"?: {name: value}, "quantity"?}."""
        with self._lock:
            names = options or sorted({k for v in variants for k in (v.get("options") or {})})
            data = {
                "title": title,
                "productOptions": [
                    {"name": n, "values": [{"name": x} for x in dict.fromkeys(
                        (v.get("options") or {}).get(n) for v in variants)]}
                    for n in names
                ] or None,
                "variants": [
                    {"sku": v["sku"], "price": v["price"], "compareAtPrice": v.get("compareAtPrice"),
                     "optionValues": [{"optionName": n, "name": v["options"][n]} for n in names],
                     "inventoryQuantities": [{"locationId": quantity_location or self.primary_location,
                                              "name": "available", "quantity": int(v.get("quantity", 0))}]}
                    for v in variants
                ],
            }
            if data["productOptions"] is None:
                del data["productOptions"]
            pid = self._product_set(data, {})
            return self.product(pid)

    def add_location(self, name: str, location_id: str | None = None) -> str:
        """A location of the shop (https://shopify.dev/docs/api/admin-graphql/2026-01/objects/Location)."""
        with self._lock:
            loc = location_id or gid("Location", self._new_id())
            self.locations[loc] = {
                "id": loc, "legacyResourceId": str(gid_number(loc)), "name": name, "isActive": True,
                "fulfillsOnlineOrders": True, "hasActiveInventory": True, "shipsInventory": True,
                "address": {"__typename": "LocationAddress", "address1": "150 Elgin Street", "address2": None,
                            "city": "Ottawa", "province": "Ontario", "provinceCode": "ON", "zip": "K2P 1L4",
                            "country": "Canada", "countryCode": "CA", "phone": None},
            }
            return loc
