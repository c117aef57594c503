"""Collections: custom (manual) and smart ones, `collections` / `collection` queries, `Product.collections`, and
the `collectionCreate` / `collectionAddProducts` mutations (storefronts.md §1.10).

collectionCreate takes `input: CollectionInput!` (2026-01; a title is required, the handle is made from it and
kept unique). collectionAddProducts adds to a manual collection only, and adds nothing when any of the products
is already in it or does not exist; its errors are plain UserErrors (`field`, `message`: no `code`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .graphql import GraphQLError
from .values import _connection, _iso_utc, _search_terms, gid, gid_number


def _err(field: list[str], message: str) -> dict[str, Any]:
    """A UserError as these mutations return it (§1.10: the type has no `code`)."""
    return {"__typename": "UserError", "field": field, "message": message}


class CollectionsMixin:
    collections: dict[str, dict[str, Any]]

    def _collection_obj(self, ident: Any) -> dict[str, Any] | None:
        c = self.collections.get(ident)
        if c is None:
            return None
        rules = c["ruleSet"]
        return {
            "__typename": "Collection", "__implements": ("Node",), "id": c["id"],
            "legacyResourceId": str(gid_number(c["id"])), "title": c["title"], "handle": c["handle"],
            "descriptionHtml": c["descriptionHtml"], "updatedAt": c["updatedAt"], "sortOrder": c["sortOrder"],
            "ruleSet": None if rules is None else {"__typename": "CollectionRuleSet",
                                                  "appliedDisjunctively": rules.get("appliedDisjunctively", False),
                                                  "rules": []},
            "productsCount": lambda a: {"__typename": "Count", "count": len(c["products"]), "precision": "EXACT"},
            "products": lambda a: _connection([((n,), self._product_obj(p)) for n, p in enumerate(c["products"])
                                               if p in self.products], a, "ProductConnection", self.max_page),
            "hasProduct": lambda a: a.get("id") in c["products"],
        }

    def _product_collections(self, product_id: str) -> Any:
        """Product.collections: the collections the product is in, oldest first."""
        def field(a: dict[str, Any]) -> dict[str, Any]:
            rows = [c for c in self.collections.values() if product_id in c["products"]]
            return _connection([((gid_number(c["id"]),), self._collection_obj(c["id"])) for c in rows], a,
                               "CollectionConnection", self.max_page)
        return field

    def _q_collections(self, a: dict[str, Any]) -> dict[str, Any]:
        rows = list(self.collections.values())
        for field, _op, value in _search_terms(a.get("query")):
            if field == "title":  # [U] word matching: every word of the value in the title, any case
                words = value.casefold().split()
                rows = [c for c in rows if all(w in c["title"].casefold().split() for w in words)]
            elif field == "handle":
                rows = [c for c in rows if c["handle"] == value]
            elif field == "collection_type":
                rows = [c for c in rows if (c["ruleSet"] is None) == (value == "custom")]
        return _connection([((gid_number(c["id"]),), self._collection_obj(c["id"])) for c in rows], a,
                           "CollectionConnection", self.max_page)

    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/collectionCreate
    def _m_collection_create(self, a: dict[str, Any]) -> dict[str, Any]:
        data = a.get("input")
        if not isinstance(data, dict):
            raise GraphQLError("Argument 'input' (CollectionInput!) is required", "missingRequiredArguments")
        result: dict[str, Any] = {"__typename": "CollectionCreatePayload", "collection": None, "userErrors": []}
        title = str(data.get("title") or "").strip()
        if not title:
            result["userErrors"] = [_err(["title"], "Title can't be blank")]
            return result
        if len(title) > 255:
            result["userErrors"] = [_err(["title"], "Title is too long (maximum is 255 characters)")]
            return result
        products = data.get("products") or []
        if data.get("ruleSet") and products:
            result["userErrors"] = [_err(["products"], "Products can't be added to a smart collection")]
            return result
        missing = [p for p in products if p not in self.products]
        if missing:
            result["userErrors"] = [_err(["products"], f"Product {missing[0]} does not exist")]
            return result
        cid = gid("Collection", self._new_id())
        self.collections[cid] = {
            "id": cid, "title": title, "handle": self._collection_handle(data.get("handle") or title),
            "descriptionHtml": data.get("descriptionHtml") or "", "sortOrder": data.get("sortOrder") or "MANUAL",
            "ruleSet": data.get("ruleSet"), "products": list(dict.fromkeys(products)),
            "updatedAt": _iso_utc(datetime.now(UTC)),
        }
        result["collection"] = self._collection_obj(cid)
        return result

    def _collection_handle(self, text: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "collection"
        handle, n = base, 1
        while any(c["handle"] == handle for c in self.collections.values()):
            handle = f"{base}-{n}"
            n += 1
        return handle

    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/collectionAddProducts
    def _m_collection_add_products(self, a: dict[str, Any]) -> dict[str, Any]:
        ids = a.get("productIds")
        if not a.get("id") or not isinstance(ids, list):
            raise GraphQLError("Arguments 'id' (ID!) and 'productIds' ([ID!]!) are required",
                               "missingRequiredArguments")
        if len(ids) > self.max_array:
            raise GraphQLError(f"The input array size of {len(ids)} is greater than the maximum allowed of "
                               f"{self.max_array}.", "MAX_INPUT_SIZE_EXCEEDED", ["collectionAddProducts", "productIds"])
        result: dict[str, Any] = {"__typename": "CollectionAddProductsPayload", "collection": None, "userErrors": []}
        c = self.collections.get(a["id"])
        if c is None:
            result["userErrors"] = [_err(["id"], "Collection does not exist")]
        elif c["ruleSet"] is not None:
            result["userErrors"] = [_err(["id"], "Can't manually add products to a smart collection")]
        elif any(p not in self.products for p in ids):
            result["userErrors"] = [_err(["productIds"], "Product does not exist")]
        elif any(p in c["products"] for p in ids):  # §1.10 [V]: then no product is added
            result["userErrors"] = [_err(["productIds"], "Error adding products to collection: product is "
                                         "already in the collection")]
        if result["userErrors"]:
            return result
        c["products"].extend(dict.fromkeys(ids))
        c["updatedAt"] = _iso_utc(datetime.now(UTC))
        result["collection"] = self._collection_obj(c["id"])
        return result

    # -- in-process (tests, demo) -------------------------------------------------------------------

    def seed_collection(self, title: str, *, smart: bool = False) -> str:
        """A collection the merchant made in the admin (a smart one matches by rules we do not model)."""
        with self._lock:
            out = self._m_collection_create({"input": {"title": title,
                                                       "ruleSet": {"appliedDisjunctively": False} if smart else None}})
            return out["collection"]["id"]

    def collection_titles(self, product_id: str) -> list[str]:
        """The titles of the collections a product is in, oldest collection first."""
        with self._lock:
            return [c["title"] for c in self.collections.values() if product_id in c["products"]]
