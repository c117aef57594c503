"""The v3 Catalog: products with inline variants, options and images (storefronts.md §3.4).

A product answers its documented shape in full (`product_Full` in products_catalog.v3.yml: `date_modified`,
`custom_url`, `availability`, `calculated_price`, `upc`, `mpn`, `gtin`, ...), a variant `productVariant_Full`
(`cost_price`, `upc`, `image_url`, `calculated_price`, ...). Sub-resources (`variants`, `images`, `options`,
`custom_fields`, ...) come only with `include=` (§3.7). SKUs are unique across products and variants,
case-insensitively (§3.4); batch updates take at most 10 products or 50 variants (413 beyond, §3.3, §3.4).
Catalog `inventory_level` is the total over locations; catalog writes touch the default location (§3.3).
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .errors import BcError

INCLUDES = ("variants", "images", "custom_fields", "bulk_pricing_rules", "primary_image", "modifiers", "options",
            "videos")
MONEY_FIELDS = ("price", "cost_price", "retail_price", "sale_price", "map_price")


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _dec(value: Any, default: Decimal | None = Decimal(0)) -> Decimal | None:
    return default if value in (None, "") else Decimal(str(value))


class CatalogMixin:
    # ---- in-process --------------------------------------------------------------------------

    def product(self, product_id: int | str) -> dict[str, Any]:
        """The product's JSON with every sub-resource included."""
        with self._lock:
            return self._product_view(self.products[int(product_id)], include=INCLUDES)

    def stock_of(self, variant_id: int | str, location_id: int | None = None) -> int:
        """What the store shows now, in total or at one location (adjustments not yet applied are not
        visible)."""
        with self._lock:
            self._settle()
            holder = self._holder(self.variants[int(variant_id)])
            if location_id is None:
                return sum(holder["levels"].values())
            return holder["levels"].get(location_id, 0)

    # ---- stock holders: a variant, or its product when tracked by product -------------------------

    def _holder(self, variant: dict[str, Any]) -> dict[str, Any]:
        product = self.products[variant["product_id"]]
        return product if product["inventory_tracking"] == "product" else variant

    # ---- writes ------------------------------------------------------------------------------

    def _sku_owner(self, sku: str) -> int | None:
        if not sku:
            return None
        low = sku.lower()
        for p in self.products.values():
            if p["sku"].lower() == low:
                return p["id"]
        for v in self.variants.values():
            if v["sku"].lower() == low:
                return v["id"]
        return None

    def _option_value(self, product: dict[str, Any], display: str, label: str) -> dict[str, Any]:
        option = next((o for o in product["_options"] if o["display_name"] == display), None)
        if option is None:
            option = {"id": self._next_id(), "product_id": product["id"], "display_name": display,
                      "type": "dropdown", "config": {}, "sort_order": len(product["_options"]),
                      "option_values": []}
            product["_options"].append(option)
        value = next((v for v in option["option_values"] if v["label"] == label), None)
        if value is None:
            value = {"id": self._next_id(), "label": label, "sort_order": len(option["option_values"]),
                     "value_data": None, "is_default": False}
            option["option_values"].append(value)
        return {"id": value["id"], "label": label, "option_id": option["id"], "option_display_name": display}

    def add_product(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a product as `POST /v3/catalog/products` would; raises BcError on bad input."""
        with self._lock:
            if not isinstance(body, dict):
                raise BcError(422, "JSON data is missing or invalid")
            missing = [f for f in ("name", "type", "weight", "price") if body.get(f) in (None, "")]
            if missing:
                raise BcError(422, "JSON data is missing or invalid", {f: f"{f} is required" for f in missing})
            if any(p["name"] == body["name"] for p in self.products.values()):
                raise BcError(409, f"The product name is a duplicate: {body['name']}")
            skus = [body.get("sku") or ""] + [v.get("sku") or "" for v in body.get("variants") or []]
            seen: set[str] = set()
            for sku in skus:
                if sku and (sku.lower() in seen or self._sku_owner(sku) is not None):
                    raise BcError(409, f"Sku {sku} is not unique")
                if sku:
                    seen.add(sku.lower())
            tracking = body.get("inventory_tracking", "none")
            if tracking not in ("none", "product", "variant"):
                raise BcError(422, "JSON data is missing or invalid", {"inventory_tracking": "invalid"})
            pid = self._next_id()
            now = datetime.now(UTC)
            slug = re.sub(r"[^a-z0-9]+", "-", str(body["name"]).lower()).strip("-")
            product = {
                "id": pid, "name": body["name"], "type": body["type"], "sku": body.get("sku") or "",
                "description": body.get("description", ""), "weight": _dec(body["weight"]),
                "width": _dec(body.get("width")), "depth": _dec(body.get("depth")), "height": _dec(body.get("height")),
                "price": _dec(body["price"]), "cost_price": _dec(body.get("cost_price")),
                "retail_price": _dec(body.get("retail_price")), "sale_price": _dec(body.get("sale_price")),
                "map_price": _dec(body.get("map_price")), "tax_class_id": int(body.get("tax_class_id") or 0),
                "product_tax_code": body.get("product_tax_code", ""), "categories": list(body.get("categories") or []),
                "brand_id": int(body.get("brand_id") or 0), "brand_name": body.get("brand_name", ""),
                "inventory_warning_level": int(body.get("inventory_warning_level") or 0),
                "inventory_tracking": tracking,
                "fixed_cost_shipping_price": _dec(body.get("fixed_cost_shipping_price")),
                "is_free_shipping": bool(body.get("is_free_shipping", False)),
                "is_visible": bool(body.get("is_visible", True)), "is_featured": bool(body.get("is_featured", False)),
                "related_products": list(body.get("related_products") or [-1]), "warranty": body.get("warranty", ""),
                "bin_picking_number": body.get("bin_picking_number", ""), "layout_file": body.get("layout_file", ""),
                "upc": body.get("upc", ""), "mpn": body.get("mpn", ""), "gtin": body.get("gtin", ""),
                "search_keywords": body.get("search_keywords", ""),
                "availability": body.get("availability", "available"),
                "availability_description": body.get("availability_description", ""),
                "gift_wrapping_options_type": "any", "gift_wrapping_options_list": [],
                "sort_order": int(body.get("sort_order") or 0), "condition": body.get("condition", "New"),
                "is_condition_shown": bool(body.get("is_condition_shown", False)),
                "order_quantity_minimum": 0, "order_quantity_maximum": 0, "page_title": body.get("page_title", ""),
                "meta_keywords": list(body.get("meta_keywords") or []),
                "meta_description": body.get("meta_description", ""), "view_count": 0,
                "preorder_release_date": None, "preorder_message": "", "is_preorder_only": False,
                "is_price_hidden": False, "price_hidden_label": "",
                "custom_url": {"url": f"/{slug}/", "is_customized": False},
                "open_graph_type": "product", "open_graph_title": "", "open_graph_description": "",
                "open_graph_use_meta_description": True, "open_graph_use_product_name": True,
                "open_graph_use_image": True, "date_last_imported": None, "reviews_rating_sum": 0,
                "reviews_count": 0, "total_sold": 0, "option_set_id": None, "option_set_display": "right",
                "date_created": _iso(now), "date_modified": _iso(now),
                "levels": {self.default_location: int(body.get("inventory_level") or 0)},
                "_images": [
                    {"id": self._next_id(), "product_id": pid, "image_url": i.get("image_url", ""),
                     "is_thumbnail": bool(i.get("is_thumbnail")), "sort_order": i.get("sort_order", n),
                     "description": i.get("description", ""),
                     "url_zoom": i.get("image_url", ""), "url_standard": i.get("image_url", ""),
                     "url_thumbnail": i.get("image_url", ""), "url_tiny": i.get("image_url", ""),
                     "date_modified": _iso(now)}
                    for n, i in enumerate(body.get("images") or [])
                ],
                "_custom_fields": [{"id": self._next_id(), "name": c.get("name", ""), "value": c.get("value", "")}
                                   for c in body.get("custom_fields") or []],
                "variants": [], "_options": [],
            }
            self.products[pid] = product
            drafts = body.get("variants") or []
            if not drafts:  # the base variant every product has
                drafts = [{"sku": product["sku"], "price": None, "option_values": []}]
            for draft in drafts:
                values = [self._option_value(product, ov["option_display_name"], ov["label"])
                          for ov in draft.get("option_values") or []]
                self._new_variant(product, draft, values)
            product["base_variant_id"] = product["variants"][0]
            return self._product_view(product, include=INCLUDES)

    def _new_variant(self, product: dict[str, Any], draft: dict[str, Any], values: list[dict[str, Any]]) -> int:
        """A variant of `product` from a draft (inline on create, or POST .../variants)."""
        pid = product["id"]
        vid = self._next_id()
        self.variants[vid] = {
            "id": vid, "product_id": pid, "sku": draft.get("sku") or "", "sku_id": self._next_id(),
            "price": _dec(draft.get("price"), None), "sale_price": _dec(draft.get("sale_price"), None),
            "retail_price": _dec(draft.get("retail_price"), None),
            "map_price": _dec(draft.get("map_price"), None), "cost_price": _dec(draft.get("cost_price")),
            "weight": _dec(draft.get("weight"), None), "width": _dec(draft.get("width"), None),
            "height": _dec(draft.get("height"), None), "depth": _dec(draft.get("depth"), None),
            "is_free_shipping": bool(draft.get("is_free_shipping", False)),
            "fixed_cost_shipping_price": _dec(draft.get("fixed_cost_shipping_price"), None),
            "purchasing_disabled": bool(draft.get("purchasing_disabled", False)),
            "purchasing_disabled_message": draft.get("purchasing_disabled_message", ""),
            "image_url": draft.get("image_url", ""), "upc": draft.get("upc", ""),
            "mpn": draft.get("mpn", ""), "gtin": draft.get("gtin", ""),
            "inventory_warning_level": int(draft.get("inventory_warning_level") or 0),
            "bin_picking_number": draft.get("bin_picking_number", ""),
            "levels": {self.default_location: int(draft.get("inventory_level") or 0)},
            "option_values": values,
        }
        product["variants"].append(vid)
        return vid

    # ---- options, option values and variants of an existing product (storefronts.md §3.4) ----------------

    def _product_or_404(self, pid: int) -> dict[str, Any]:
        product = self.products.get(pid)
        if product is None:
            raise BcError(404, "The requested product was not found.")
        return product

    def _option_or_404(self, product: dict[str, Any], option_id: int) -> dict[str, Any]:
        option = next((o for o in product["_options"] if o["id"] == option_id), None)
        if option is None:
            raise BcError(404, "The requested option was not found.")
        return option

    def _add_option(self, pid: int, body: Any) -> dict[str, Any]:
        """POST /v3/catalog/products/{id}/options: a variant option with its values."""
        product = self._product_or_404(pid)
        if not isinstance(body, dict) or not body.get("display_name") or not body.get("type"):
            raise BcError(422, "JSON data is missing or invalid",
                          {"display_name": "display_name is required", "type": "type is required"})
        if any(o["display_name"] == body["display_name"] for o in product["_options"]):
            raise BcError(409, f"The option display name is a duplicate: {body['display_name']}")
        values = body.get("option_values") or []
        if not values:
            raise BcError(422, "JSON data is missing or invalid", {"option_values": "at least one value is required"})
        for v in values:
            self._option_value(product, body["display_name"], str(v.get("label")))
        self._touch_product(product)
        return copy.deepcopy(next(o for o in product["_options"] if o["display_name"] == body["display_name"]))

    def _add_option_value(self, pid: int, option_id: int, body: Any) -> dict[str, Any]:
        """POST /v3/catalog/products/{id}/options/{option_id}/values: a label the option lacks (409 if it has it)."""
        product = self._product_or_404(pid)
        option = self._option_or_404(product, option_id)
        label = str((body or {}).get("label") or "") if isinstance(body, dict) else ""
        if not label:
            raise BcError(422, "JSON data is missing or invalid", {"label": "label is required"})
        if any(v["label"] == label for v in option["option_values"]):
            raise BcError(409, f"The option value label is a duplicate: {label}")
        ref = self._option_value(product, option["display_name"], label)
        self._touch_product(product)
        return copy.deepcopy(next(v for v in option["option_values"] if v["id"] == ref["id"]))

    def _update_option_value(self, pid: int, option_id: int, value_id: int, body: Any) -> dict[str, Any]:
        """PUT /v3/catalog/products/{id}/options/{option_id}/values/{value_id}: renames the value in place; every
        variant using it shows the new label."""
        product = self._product_or_404(pid)
        option = self._option_or_404(product, option_id)
        value = next((v for v in option["option_values"] if v["id"] == value_id), None)
        if value is None:
            raise BcError(404, "The requested option value was not found.")
        label = (body or {}).get("label") if isinstance(body, dict) else None
        if label is not None:
            label = str(label)
            if not label:
                raise BcError(422, "JSON data is missing or invalid", {"label": "label cannot be empty"})
            if any(v["label"] == label and v["id"] != value_id for v in option["option_values"]):
                raise BcError(409, f"The option value label is a duplicate: {label}")
            value["label"] = label
            for vid in product["variants"]:
                for ov in self.variants[vid]["option_values"]:
                    if ov["id"] == value_id:
                        ov["label"] = label
        if isinstance(body, dict) and "sort_order" in body:
            value["sort_order"] = int(body["sort_order"])
        self._touch_product(product)
        return copy.deepcopy(value)

    def _create_variant(self, pid: int, body: Any) -> dict[str, Any]:
        """POST /v3/catalog/products/{id}/variants: option values named by the product's existing option and value
        ids (§3.4), one of each option; SKU unique across the catalog; a combination taken is 422."""
        product = self._product_or_404(pid)
        if not isinstance(body, dict) or not body.get("sku") or not isinstance(body.get("option_values"), list):
            raise BcError(422, "JSON data is missing or invalid",
                          {"sku": "sku is required", "option_values": "option_values is required"})
        if self._sku_owner(body["sku"]) is not None:
            raise BcError(409, f"Sku {body['sku']} is not unique")
        refs = []
        for i, ov in enumerate(body["option_values"]):
            option = next((o for o in product["_options"] if o["id"] == (ov or {}).get("option_id")), None)
            value = option and next((v for v in option["option_values"] if v["id"] == ov.get("id")), None)
            if not value:
                raise BcError(422, "JSON data is missing or invalid",
                              {f"option_values.{i}": "option value not found on this product; create it first"})
            refs.append({"id": value["id"], "label": value["label"], "option_id": option["id"],
                         "option_display_name": option["display_name"]})
        if sorted(r["option_id"] for r in refs) != sorted(o["id"] for o in product["_options"]):
            raise BcError(422, "JSON data is missing or invalid",
                          {"option_values": "a variant needs one value of every option of the product"})
        combo = sorted(r["id"] for r in refs)
        if any(sorted(ov["id"] for ov in self.variants[v]["option_values"]) == combo for v in product["variants"]):
            raise BcError(422, "A variant with the same option values already exists on this product")
        vid = self._new_variant(product, body, refs)
        self._touch_product(product)
        return self._variant_view(self.variants[vid])

    # ---- images ------------------------------------------------------------------------------------

    MAX_IMAGE_BYTES = 8 * 1024 * 1024  # §3.4

    def _add_image(self, pid: int, body: dict[str, Any], data: bytes | None, filename: str,
                   content_type: str) -> dict[str, Any]:
        """An image from `image_url` or an uploaded `image_file` (kept in `uploads`, served at the CDN-like
        URL the image answers with); a file that is not an image, or over 8 MB, is refused."""
        product = self._product_or_404(pid)
        if data is None and not body.get("image_url"):
            raise BcError(422, "JSON data is missing or invalid", {"image_url": "image_url or image_file is required"})
        if data is not None:
            if len(data) > self.MAX_IMAGE_BYTES:
                raise BcError(413, "The image file is larger than the 8 MB limit")
            if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG") or data[8:12] == b"WEBP"
                    or data[:6] in (b"GIF87a", b"GIF89a")):
                raise BcError(422, "JSON data is missing or invalid", {"image_file": "not a supported image"})
        image_id = self._next_id()
        if data is not None:
            url = f"{self.url}/_cdn/products/{pid}/images/{image_id}/{filename}"
            self.uploads[image_id] = {"data": data, "filename": filename, "content_type": content_type}
        else:
            url = str(body["image_url"])
        now = datetime.now(UTC)
        image = {"id": image_id, "product_id": pid, "image_url": url if data is None else "",
                 "is_thumbnail": str(body.get("is_thumbnail", "")).lower() in ("1", "true") or not product["_images"],
                 "sort_order": int(body.get("sort_order") or len(product["_images"])),
                 "description": str(body.get("description") or ""), "image_file": filename if data is not None else "",
                 "url_zoom": url, "url_standard": url, "url_thumbnail": url, "url_tiny": url,
                 "date_modified": _iso(now)}
        if image["is_thumbnail"]:
            for other in product["_images"]:
                other["is_thumbnail"] = False
        product["_images"].append(image)
        self._touch_product(product)
        return copy.deepcopy(image)

    def _update_image(self, pid: int, image_id: int, body: dict[str, Any]) -> dict[str, Any]:
        product = self._product_or_404(pid)
        image = next((i for i in product["_images"] if i["id"] == image_id), None)
        if image is None:
            raise BcError(404, "The requested image was not found.")
        if body.get("is_thumbnail"):
            for other in product["_images"]:
                other["is_thumbnail"] = False
            image["is_thumbnail"] = True
        for name in ("sort_order", "description"):
            if name in body:
                image[name] = body[name]
        return copy.deepcopy(image)

    # ---- categories (v3 Catalog) ------------------------------------------------------------------

    def _add_category(self, body: Any) -> dict[str, Any]:
        """POST /v3/catalog/categories: `name` and `parent_id` (0: top level); a name taken under the same parent
        is 409."""
        if not isinstance(body, dict) or not str(body.get("name") or "").strip() or "parent_id" not in body:
            raise BcError(422, "JSON data is missing or invalid",
                          {"name": "name is required", "parent_id": "parent_id is required"})
        parent = int(body.get("parent_id") or 0)
        if parent and parent not in self.categories:
            raise BcError(422, "JSON data is missing or invalid", {"parent_id": "parent category not found"})
        name = str(body["name"]).strip()
        if any(c["parent_id"] == parent and c["name"].casefold() == name.casefold() for c in self.categories.values()):
            raise BcError(409, f"Category name is a duplicate: {name}")
        cid = self._next_id()
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        self.categories[cid] = {"id": cid, "parent_id": parent, "name": name, "description": "", "views": 0,
                                "sort_order": int(body.get("sort_order") or 0), "page_title": "", "meta_keywords": [],
                                "meta_description": "", "layout_file": "", "image_url": "",
                                "is_visible": bool(body.get("is_visible", True)), "search_keywords": "",
                                "default_product_sort": "use_store_settings",
                                "custom_url": {"url": f"/{slug}/", "is_customized": False}}
        return copy.deepcopy(self.categories[cid])

    def _touch_product(self, product: dict[str, Any]) -> None:
        product["date_modified"] = _iso(datetime.now(UTC))

    def _update_product(self, item: dict[str, Any]) -> dict[str, Any]:
        product = self.products.get(item.get("id"))
        if product is None:
            raise BcError(404, f"Product {item.get('id')} not found")
        for name in MONEY_FIELDS:
            if name in item:
                product[name] = _dec(item[name])
        for name in ("name", "description", "upc", "mpn", "gtin", "availability", "is_visible", "sku"):
            if name in item:
                product[name] = item[name]
        if "categories" in item:
            unknown = [c for c in item["categories"] or [] if c not in self.categories]
            if unknown:
                raise BcError(422, "JSON data is missing or invalid",
                              {"categories": f"categories not found: {unknown}"})
            product["categories"] = list(item["categories"] or [])
        if "inventory_level" in item and product["inventory_tracking"] == "product":
            product["levels"][self.default_location] = int(item["inventory_level"])
        self._touch_product(product)
        return self._product_view(product)

    def _update_variant(self, item: dict[str, Any]) -> dict[str, Any]:
        variant = self.variants.get(item.get("id"))
        if variant is None:
            raise BcError(404, f"Variant {item.get('id')} not found")
        for name in MONEY_FIELDS:
            if name in item:
                variant[name] = None if item[name] is None else Decimal(str(item[name]))
        for name in ("upc", "mpn", "gtin", "image_url", "purchasing_disabled", "purchasing_disabled_message", "sku"):
            if name in item:
                variant[name] = item[name]
        if "inventory_level" in item:
            variant["levels"][self.default_location] = int(item["inventory_level"])
        self._touch_product(self.products[variant["product_id"]])
        return self._variant_view(variant)

    # ---- reads -------------------------------------------------------------------------------

    def _variant_view(self, v: dict[str, Any]) -> dict[str, Any]:
        product = self.products[v["product_id"]]
        price = v["price"] if v["price"] is not None else product["price"]
        sale = v["sale_price"] if v["sale_price"] is not None else product["sale_price"]
        weight = v["weight"] if v["weight"] is not None else product["weight"]
        holder = self._holder(v)
        return {
            "id": v["id"], "product_id": v["product_id"], "sku": v["sku"], "sku_id": v["sku_id"],
            "price": _num(v["price"]), "calculated_price": _num(sale if sale else price),
            "sale_price": _num(v["sale_price"]), "retail_price": _num(v["retail_price"]),
            "map_price": _num(v["map_price"]), "weight": _num(v["weight"]), "calculated_weight": _num(weight),
            "width": _num(v["width"]), "height": _num(v["height"]), "depth": _num(v["depth"]),
            "is_free_shipping": v["is_free_shipping"],
            "fixed_cost_shipping_price": _num(v["fixed_cost_shipping_price"]),
            "purchasing_disabled": v["purchasing_disabled"],
            "purchasing_disabled_message": v["purchasing_disabled_message"], "image_url": v["image_url"],
            "cost_price": _num(v["cost_price"]), "upc": v["upc"], "mpn": v["mpn"], "gtin": v["gtin"],
            "inventory_level": sum(holder["levels"].values()) if holder is v else 0,
            "inventory_warning_level": v["inventory_warning_level"], "bin_picking_number": v["bin_picking_number"],
            "option_values": copy.deepcopy(v["option_values"]),
        }

    def _product_view(self, p: dict[str, Any], include: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
        view = {k: copy.deepcopy(v) for k, v in p.items() if not k.startswith("_") and k not in ("variants", "levels")}
        for name in ("weight", "width", "depth", "height", "fixed_cost_shipping_price", *MONEY_FIELDS):
            view[name] = _num(p[name])
        view["calculated_price"] = _num(p["sale_price"] if p["sale_price"] else p["price"])
        if p["inventory_tracking"] == "variant":
            view["inventory_level"] = sum(sum(self.variants[v]["levels"].values()) for v in p["variants"])
        else:
            view["inventory_level"] = sum(p["levels"].values())
        if "variants" in include:
            view["variants"] = [self._variant_view(self.variants[v]) for v in p["variants"]]
        if "images" in include:
            view["images"] = copy.deepcopy(p["_images"])
        if "primary_image" in include:
            thumbs = [i for i in p["_images"] if i["is_thumbnail"]] or p["_images"][:1]
            view["primary_image"] = copy.deepcopy(thumbs[0]) if thumbs else None
        if "custom_fields" in include:
            view["custom_fields"] = copy.deepcopy(p["_custom_fields"])
        if "options" in include:
            view["options"] = copy.deepcopy(p["_options"])
        if "bulk_pricing_rules" in include:
            view["bulk_pricing_rules"] = []
        if "modifiers" in include:
            view["modifiers"] = []
        if "videos" in include:
            view["videos"] = []
        return view
