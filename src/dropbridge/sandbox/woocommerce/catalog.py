"""Products and variations (storefronts.md §2.3, §2.4).

Stored records keep what was written; `product_view` answers the documented shape in full
(https://woocommerce.github.io/woocommerce-rest-api-docs/#product-properties and
#product-variation-properties), derived fields included (`price`, `on_sale`, `price_html`, `permalink`,
`stock_status`, `backorders_allowed`, `_links`). `regular_price` is the "was" price, `sale_price` the one
charged, `price` read-only (§2.4). `stock_quantity` applies only with `manage_stock` and, like every
integer field WordPress validates, takes a number or a numeric string (§2.3). Batches take at most
`batch_limit` items (413 beyond) and answer 200 with a per-item `error` for items that fail (§2.3).
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import WooError
from .shapes import html_price, now, wp_date

PRODUCT_TYPES = ("simple", "grouped", "external", "variable")
BACKORDERS = ("no", "notify", "yes")
STOCK_STATUSES = ("instock", "outofstock", "onbackorder")
TAX_STATUSES = ("taxable", "shipping", "none")
# A product's (and a variation's) status; a private variation is not sold (wc product schema `status`).
POST_STATUSES = ("draft", "pending", "private", "publish", "future")
UNCATEGORIZED = {"id": 15, "name": "Uncategorized", "slug": "uncategorized"}


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "product"


def wp_integer(value: Any, name: str) -> int | None:
    """WordPress's rest_is_integer: an int, an integral float or a numeric string ("7") passes."""
    if value is None:
        return None
    if isinstance(value, bool):
        ok = False
    elif isinstance(value, int):
        return value
    else:
        try:
            number = Decimal(str(value).strip())
            ok = number.is_finite() and number == number.to_integral_value()
        except (InvalidOperation, ValueError):
            ok = False
        if ok:
            return int(number)
    raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}",
                   params={name: f"{name} is not of type integer."},
                   details={name: {"code": "rest_invalid_type", "message": f"{name} is not of type integer.",
                                   "data": {"param": name}}})


class CatalogMixin:
    # ---- in-process --------------------------------------------------------------------------

    def add_product(self, body: dict[str, Any], parent_id: int | None = None) -> dict[str, Any]:
        """Create a product (or a variation of `parent_id`) as the merchant would in wp-admin."""
        with self._lock:
            parent = self.products[parent_id] if parent_id is not None else None
            return copy.deepcopy(self._product_view(self._new_product(body, parent)))

    def add_category(self, name: str, parent: int = 0) -> int:
        with self._lock:
            return self._new_category(name, parent)["id"]

    def _new_category(self, name: str, parent: int = 0) -> dict[str, Any]:
        """A product category (a WordPress term): a name taken under the same parent is `term_exists` (400) with
        the existing term's id, as wp_insert_term answers; an unknown parent is 400 too."""
        if parent and parent not in self.categories:
            raise WooError(400, "woocommerce_rest_term_invalid", "Parent term does not exist.")
        for c in self.categories.values():
            if c.get("parent", 0) == parent and c["name"].casefold() == name.casefold():
                raise WooError(400, "term_exists", "A term with the name provided already exists with this parent.",
                               resource_id=c["id"])
        cid = self._next_id()
        slug, n = slugify(name), 2
        while any(c["slug"] == slug for c in self.categories.values()):
            slug = f"{slugify(name)}-{n}"
            n += 1
        self.categories[cid] = {"id": cid, "name": name, "slug": slug, "parent": parent}
        return self.categories[cid]

    def _category_view(self, c: dict[str, Any]) -> dict[str, Any]:
        """https://woocommerce.github.io/woocommerce-rest-api-docs/#product-category-properties"""
        count = sum(1 for p in self.products.values() if any(x["id"] == c["id"] for x in p.get("categories") or []))
        return {"id": c["id"], "name": c["name"], "slug": c["slug"], "parent": c.get("parent", 0), "description": "",
                "display": "default", "image": None, "menu_order": 0, "count": count}

    def stock_of(self, product_id: int | str) -> int | None:
        with self._lock:
            return self.products[int(product_id)]["stock_quantity"]

    def product(self, product_id: int | str) -> dict[str, Any]:
        """The stored record (variations too, with `type: "variation"`), as written."""
        with self._lock:
            return copy.deepcopy(self.products[int(product_id)])

    # ---- writes ------------------------------------------------------------------------------

    def _sku_taken(self, sku: str, except_id: int | None = None) -> bool:
        return bool(sku) and any(
            p["sku"].lower() == sku.lower() and p["id"] != except_id for p in self.products.values()
        )

    def _unique_slug(self, wanted: str, except_id: int) -> str:
        slug, n = wanted, 2
        while any(p["slug"] == slug and p["id"] != except_id for p in self.products.values()):
            slug = f"{wanted}-{n}"
            n += 1
        return slug

    def _apply_product_fields(self, p: dict[str, Any], body: dict[str, Any]) -> None:
        if not isinstance(body, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        for name in ("name", "description", "short_description", "status", "tax_class", "purchase_note",
                     "weight", "shipping_class", "catalog_visibility", "external_url", "button_text"):
            if name in body and body[name] is not None:
                if name == "status" and body[name] not in POST_STATUSES:
                    raise WooError(400, "rest_invalid_param", "Invalid parameter(s): status",
                                   params={"status": f"status is not one of {', '.join(POST_STATUSES)}."})
                p[name] = body[name] if name == "status" else str(body[name])
        for name in ("featured", "virtual", "downloadable", "sold_individually", "reviews_allowed"):
            if name in body:
                p[name] = bool(body[name])
        if "menu_order" in body:
            p["menu_order"] = wp_integer(body["menu_order"], "menu_order") or 0
        if "tax_status" in body:
            if body["tax_status"] not in TAX_STATUSES:
                raise WooError(400, "rest_invalid_param", "Invalid parameter(s): tax_status",
                               params={"tax_status": f"tax_status is not one of {', '.join(TAX_STATUSES)}."})
            p["tax_status"] = body["tax_status"]
        if "backorders" in body:
            if body["backorders"] not in BACKORDERS:
                raise WooError(400, "rest_invalid_param", "Invalid parameter(s): backorders",
                               params={"backorders": f"backorders is not one of {', '.join(BACKORDERS)}."})
            p["backorders"] = body["backorders"]
        if isinstance(body.get("dimensions"), dict):
            for axis in ("length", "width", "height"):
                if axis in body["dimensions"]:
                    p["dimensions"][axis] = str(body["dimensions"][axis])
        if "slug" in body and body["slug"]:
            p["slug"] = self._unique_slug(slugify(str(body["slug"])), p["id"])
        elif not p["slug"] and p["type"] != "variation" and p["name"]:
            p["slug"] = self._unique_slug(slugify(p["name"]), p["id"])
        if "sku" in body:
            sku = str(body["sku"] or "")
            if self._sku_taken(sku, p["id"]):
                raise WooError(400, "product_invalid_sku", "Invalid or duplicated SKU.", resource_id=p["id"],
                               unique_sku=sku)  # §2.4 [S]
            p["sku"] = sku
        for name in ("regular_price", "sale_price"):
            if name in body:
                value = body[name]
                if value not in ("", None):
                    try:
                        Decimal(str(value))
                    except ArithmeticError:
                        raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}") from None
                p[name] = "" if value is None else str(value)
        if "manage_stock" in body:
            p["manage_stock"] = bool(body["manage_stock"])
        if "stock_quantity" in body:
            qty = wp_integer(body["stock_quantity"], "stock_quantity")
            if p["manage_stock"]:
                p["stock_quantity"] = qty
        if "stock_status" in body and not p["manage_stock"]:
            if body["stock_status"] not in STOCK_STATUSES:
                raise WooError(400, "rest_invalid_param", "Invalid parameter(s): stock_status")
            p["stock_status"] = body["stock_status"]
        if "categories" in body and p["type"] != "variation":
            p["categories"] = [{k: self.categories[c["id"]][k] for k in ("id", "name", "slug")}
                               for c in body["categories"] or []
                               if isinstance(c, dict) and c.get("id") in self.categories]
        if "images" in body and p["type"] != "variation":
            p["images"] = [self._image(img) for img in body["images"] or []]
        if "image" in body and p["type"] == "variation":
            p["image"] = self._image(body["image"]) if body["image"] else None
        if "attributes" in body:
            p["attributes"] = copy.deepcopy(body["attributes"] or [])
        if "default_attributes" in body and p["type"] != "variation":
            p["default_attributes"] = copy.deepcopy(body["default_attributes"] or [])
        if "meta_data" in body:
            meta = body["meta_data"] or []
            # The REST schema: an array of objects with a string `key` (rest_invalid_param otherwise).
            for i, m in enumerate(meta if isinstance(meta, list) else [None]):
                if not isinstance(m, dict) or (not m.get("id") and not isinstance(m.get("key"), str)):
                    raise WooError(400, "rest_invalid_param", "Invalid parameter(s): meta_data",
                                   params={"meta_data": f"meta_data[{i}] is not of type object with a key."})
            merge_meta(p["meta_data"], meta, self._next_meta_id)
        if p["manage_stock"] and p["stock_quantity"] is not None:
            # §2.3: derived when WooCommerce manages the stock
            if p["stock_quantity"] > 0:
                p["stock_status"] = "instock"
            else:
                p["stock_status"] = "onbackorder" if p["backorders"] != "no" else "outofstock"
        p["price"] = p["sale_price"] or p["regular_price"]
        p["on_sale"] = bool(p["sale_price"])
        p["date_modified_gmt"] = wp_date(now())
        p["date_modified"] = p["date_modified_gmt"]

    def _image(self, img: dict[str, Any]) -> dict[str, Any]:
        """Images are sideloaded from `src` or reuse a media `id` (§2.4)."""
        if not isinstance(img, dict):
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): images")
        if img.get("id") and img["id"] in self.media:
            return copy.deepcopy(self.media[img["id"]])
        stamp = wp_date(now())
        media = {"id": self._next_id(), "date_created": stamp, "date_created_gmt": stamp, "date_modified": stamp,
                 "date_modified_gmt": stamp, "src": str(img.get("src", "")), "name": str(img.get("name", "")),
                 "alt": str(img.get("alt", ""))}
        self.media[media["id"]] = media
        return copy.deepcopy(media)

    def _new_product(self, body: dict[str, Any], parent: dict[str, Any] | None = None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        kind = "variation" if parent else str(body.get("type") or "simple")
        if kind not in (*PRODUCT_TYPES, "variation"):
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): type",
                           params={"type": f"type is not one of {', '.join(PRODUCT_TYPES)}."})
        stamp = wp_date(now())
        p: dict[str, Any] = {
            "id": self._next_id(), "name": body.get("name", "") if not parent else parent["name"], "slug": "",
            "type": kind, "status": "publish", "featured": False, "catalog_visibility": "visible",
            "parent_id": parent["id"] if parent else 0, "sku": "", "price": "", "regular_price": "",
            "sale_price": "", "date_on_sale_from": None, "date_on_sale_from_gmt": None, "date_on_sale_to": None,
            "date_on_sale_to_gmt": None, "on_sale": False, "total_sales": 0, "virtual": False,
            "downloadable": False, "downloads": [], "download_limit": -1, "download_expiry": -1,
            "external_url": "", "button_text": "", "tax_status": "taxable", "tax_class": "",
            "manage_stock": False, "stock_quantity": None, "stock_status": "instock", "backorders": "no",
            "low_stock_amount": None, "sold_individually": False, "weight": "",
            "dimensions": {"length": "", "width": "", "height": ""}, "shipping_class": "", "shipping_class_id": 0,
            "reviews_allowed": True, "average_rating": "0.00", "rating_count": 0, "upsell_ids": [],
            "cross_sell_ids": [], "purchase_note": "", "categories": [copy.deepcopy(UNCATEGORIZED)], "tags": [],
            "description": "", "short_description": "", "images": [], "attributes": [], "default_attributes": [],
            "variations": [], "grouped_products": [], "menu_order": 0, "meta_data": [],
            "date_created": stamp, "date_created_gmt": stamp,
        }
        if parent:
            p["image"] = None
        self._apply_product_fields(p, body)
        if parent:
            parent["variations"].append(p["id"])
        self.products[p["id"]] = p
        return p

    # ---- reads -------------------------------------------------------------------------------

    def _product_view(self, p: dict[str, Any], base: str | None = None) -> dict[str, Any]:
        """The documented JSON of a product or variation."""
        site = (base or self.site_url).rstrip("/")
        api = f"{site}/wp-json/wc/v3"
        view = copy.deepcopy(p)
        price = p["price"]
        if p["type"] == "variable":
            prices = [Decimal(self.products[v]["price"]) for v in p["variations"]
                      if v in self.products and self.products[v]["price"]]
            price = str(min(prices)) if prices else ""
        view["price"] = price
        view["price_html"] = html_price(price, self.currency_symbol)
        view["purchasable"] = bool(price) and p["status"] == "publish"
        view["backorders_allowed"] = p["backorders"] != "no"
        view["backordered"] = bool(p["manage_stock"] and (p["stock_quantity"] or 0) < 0 and p["backorders"] != "no")
        if p["type"] == "variation":
            parent = self.products.get(p["parent_id"]) or {"slug": "", "id": p["parent_id"]}
            query = "&".join(f"attribute_{slugify(a.get('name', ''))}={slugify(str(a.get('option', '')))}"
                             for a in p["attributes"])
            view["permalink"] = f"{site}/product/{parent['slug']}/" + (f"?{query}" if query else "")
            view["attributes"] = [{"id": a.get("id", 0), "name": a.get("name", ""), "option": a.get("option", "")}
                                  for a in p["attributes"]]
            for gone in ("variations", "name", "slug", "type", "featured", "catalog_visibility", "short_description",
                         "total_sales", "external_url", "button_text", "sold_individually", "reviews_allowed",
                         "average_rating", "rating_count", "upsell_ids", "cross_sell_ids", "purchase_note",
                         "categories", "tags", "images", "default_attributes", "grouped_products", "parent_id"):
                view.pop(gone, None)
            view["_links"] = {"self": [{"href": f"{api}/products/{p['parent_id']}/variations/{p['id']}"}],
                              "collection": [{"href": f"{api}/products/{p['parent_id']}/variations"}],
                              "up": [{"href": f"{api}/products/{p['parent_id']}"}]}
            return view
        view["permalink"] = f"{site}/product/{p['slug']}/"
        view["shipping_required"] = not p["virtual"]
        view["shipping_taxable"] = p["tax_status"] in ("taxable", "shipping") and not p["virtual"]
        view["related_ids"] = []
        view["attributes"] = [{"id": a.get("id", 0), "name": a.get("name", ""), "position": a.get("position", i),
                               "visible": bool(a.get("visible", False)), "variation": bool(a.get("variation", False)),
                               "options": list(a.get("options") or [])} for i, a in enumerate(p["attributes"])]
        view["variations"] = [v for v in p["variations"] if v in self.products]
        view["_links"] = {"self": [{"href": f"{api}/products/{p['id']}"}],
                          "collection": [{"href": f"{api}/products"}]}
        return view

    def _batch(self, body: dict[str, Any], parent: dict[str, Any] | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        creates = body.get("create") or []
        updates = body.get("update") or []
        deletes = body.get("delete") or []
        if len(creates) + len(updates) + len(deletes) > self.batch_limit:
            raise WooError(413, "woocommerce_rest_request_entity_too_large",
                           f"Unable to accept more than {self.batch_limit} items for this request.")
        invalid = "woocommerce_rest_product_variation_invalid_id" if parent else "woocommerce_rest_product_invalid_id"
        out: dict[str, list[Any]] = {}
        if "create" in body:
            out["create"] = []
            for item in creates:
                try:
                    p = self._new_product(item, parent)
                    out["create"].append(self._product_view(p))
                    if parent is None:
                        self._trigger("product", "created", p["id"])
                except WooError as exc:
                    out["create"].append({"id": 0, "error": exc.body()})
        if "update" in body:
            out["update"] = []
            for item in updates:
                pid = item.get("id") if isinstance(item, dict) else None
                p = self.products.get(pid) if isinstance(pid, int) else None
                if (
                    p is None
                    or (parent is None and p["type"] == "variation")
                    or (parent is not None and p["parent_id"] != parent["id"])
                ):
                    exc = WooError(400 if parent is None else 404, invalid, "Invalid ID.")
                    out["update"].append({"id": pid, "error": exc.body()})
                    continue
                try:
                    self._apply_product_fields(p, item)
                    out["update"].append(self._product_view(p))
                    self._trigger("product", "updated", p["parent_id"] or p["id"])
                except WooError as exc:
                    out["update"].append({"id": pid, "error": exc.body()})
        if "delete" in body:
            out["delete"] = []
            for pid in deletes:
                p = self.products.pop(pid, None) if isinstance(pid, int) else None
                if p is None:
                    out["delete"].append({"id": pid, "error": WooError(400, invalid, "Invalid ID.").body()})
                else:
                    out["delete"].append(self._product_view(p))
        return out

    def _delete_product(self, p: dict[str, Any], force: bool) -> dict[str, Any]:
        """Products go to the trash unless `force`; variations cannot be trashed (501 without force)."""
        if p["type"] == "variation":
            if not force:
                raise WooError(501, "woocommerce_rest_trash_not_supported",
                               "Variations do not support trashing.")  # _product-variations.md: force required
            self.products.pop(p["id"], None)
            parent = self.products.get(p["parent_id"])
            if parent and p["id"] in parent["variations"]:
                parent["variations"].remove(p["id"])
            return p
        if force:
            self.products.pop(p["id"], None)
            for v in p["variations"]:
                self.products.pop(v, None)
            self._trigger("product", "deleted", p["id"])
            return p
        if p["status"] == "trash":
            raise WooError(410, "woocommerce_rest_already_trashed", "The product has already been deleted.")
        p["status"] = "trash"
        self._trigger("product", "deleted", p["id"])
        return p


def merge_meta(meta: list[dict[str, Any]], updates: list[dict[str, Any]], next_id=None) -> None:
    """WooCommerce's update_meta_data: replace by id or key, else add."""
    for update in updates:
        if not isinstance(update, dict) or "key" not in update:
            continue
        target = None
        if update.get("id"):
            target = next((m for m in meta if m["id"] == update["id"]), None)
        if target is None:
            target = next((m for m in meta if m["key"] == update["key"]), None)
        if target is None:
            meta.append({"id": next_id() if next_id else len(meta) + 1, "key": update["key"],
                         "value": copy.deepcopy(update.get("value"))})
        else:
            target["value"] = copy.deepcopy(update.get("value"))
