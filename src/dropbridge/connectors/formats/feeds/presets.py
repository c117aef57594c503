"""Column mapping presets as plain dicts (ColumnMapping.from_dict, or {"preset": name, ...} in config).

Vendor column names come from contracts/suppliers.md section 6. Within a field, earlier aliases win
when a file has several of them (Doba's item_sku is the variant, product_sku the parent).
"""

from __future__ import annotations

from typing import Any

GENERIC: dict[str, Any] = {
    "fields": {
        "sku": [
            "supplier sku", "variant sku", "item sku", "sku", "sku/variant sku", "product sku", "vendor sku",
            "item number", "item no", "part number", "article number",
        ],
        "qty": [
            "qty_avail", "quantity available", "qty available", "available quantity", "inventory quantity",
            "quantity", "qty", "stock quantity", "stock qty", "quantity on hand", "qty on hand", "on hand",
            "inventory", "available", "stock level", "stock",
        ],
        "cost": [
            "cost", "base cost", "retailer's cost", "wholesale price", "wholesale cost", "unit cost",
            "dealer price", "your cost", "cost price", "price",
        ],
        "currency": ["currency", "currency code", "cost currency"],
        "lead_time_days": ["lead time days", "lead time", "handling time", "processing time", "ship days"],
        "gtin": ["gtin", "gtin14", "barcode"],
        "upc": ["upc", "upc code", "upc-a"],
        "ean": ["ean", "ean13", "ean code"],
        "title": ["title", "product name", "item name", "name", "product title"],
        "description": ["description", "long description", "product description", "body html"],
        "parent_sku": ["parent sku", "product id", "parent id", "group id", "handle"],
        "option1_name": ["option1 name", "option name"],
        "option1_value": ["option1 value", "option value"],
        "option2_name": ["option2 name"],
        "option2_value": ["option2 value"],
        "option3_name": ["option3 name"],
        "option3_value": ["option3 value"],
        "image_url": ["image url", "image urls", "images", "image", "image src", "main image"],
        "brand": ["brand", "brand name", "manufacturer", "vendor"],
        "mpn": ["mpn", "manufacturer part number"],
        "msrp": ["msrp", "price msrp", "retail price", "list price", "rrp"],
        "map": ["map", "price map", "map price", "minimum advertised price"],
        "weight": ["weight", "item weight", "ship weight"],
        "status": ["status", "product status", "availability"],
        "category": ["category", "categories", "product type"],
    },
}

# Doba: an item is the variant (item_sku), a product its parent; "stock" is a status word, not a count.
DOBA: dict[str, Any] = {
    "fields": {
        "sku": ["item_sku"],
        "qty": ["qty_avail"],
        "cost": ["price"],
        "upc": ["upc"],
        "ean": ["ean"],
        "title": ["title", "item_name"],
        "description": ["description"],
        "parent_sku": ["product_sku", "product_id"],
        "image_url": ["images", "image_url"],
        "brand": ["brand_name", "manufacturer"],
        "mpn": ["mpn"],
        "msrp": ["msrp"],
        "map": ["map"],
        "weight": ["item_weight", "ship_weight"],
        "status": ["stock", "product_status"],
        "category": ["categories"],
    },
    "zero_stock_statuses": ["out-of-stock", "discontinued", "inactive"],
}

# HubLogix marks required headers with "**" ("SKU**"); header matching ignores punctuation.
HUBLOGIX: dict[str, Any] = {
    "fields": {
        "sku": ["SKU**", "SKU"],
        "qty": ["Quantity Available"],
        "cost": ["Retailer's Cost"],
        "title": ["Product Name"],
        "brand": ["Brand Name**", "Brand Name"],
        "mpn": ["MPN"],
        "upc": ["UPC"],
        "msrp": ["MSRP"],
    },
}

LOGICBROKER: dict[str, Any] = {
    "fields": {
        "sku": ["SupplierSKU"],
        "qty": ["Quantity", "QuantityAvailable", "Qty"],
        "cost": ["Cost", "UnitCost"],
        "upc": ["UPC"],
        "title": ["Description", "ProductName"],
    },
}

SYNCEE: dict[str, Any] = {
    "fields": {
        "sku": ["variant sku", "SKU/variant SKU", "sku"],
        "qty": ["inventory quantity"],
        "cost": ["price"],
        "gtin": ["barcode"],
        "title": ["title"],
        "description": ["description"],
        "parent_sku": ["product id"],
        "option1_name": ["option name", "option1 name"],
        "option1_value": ["option value", "option1 value"],
        "option2_name": ["option2 name"],
        "option2_value": ["option2 value"],
        "option3_name": ["option3 name"],
        "option3_value": ["option3 value"],
        "image_url": ["image URL", "image url"],
    },
}

# fabric's offer import documents Supplier SKU, Base Cost, Shipping Cost and MAP; quantity is expected
# in a "Quantity"-like column (its offers file alone carries no stock).
FABRIC: dict[str, Any] = {
    "fields": {
        "sku": ["Supplier SKU"],
        "qty": ["Quantity", "Available Quantity", "Inventory"],
        "cost": ["Base Cost"],
        "map": ["MAP"],
    },
}

# Duoplane's product import (exact headers published); its wholesale cost and quantity columns are not
# named in the excerpt we have, so those two aliases are guesses.
DUOPLANE: dict[str, Any] = {
    "fields": {
        "sku": ["retailer_sku"],
        "qty": ["quantity", "inventory_quantity", "quantity_available"],
        "cost": ["cost", "wholesale_cost", "price_wholesale"],
        "title": ["name"],
        "upc": ["upc"],
        "mpn": ["mpn"],
        "msrp": ["price_msrp"],
        "map": ["price_map"],
        "brand": ["vendor_name"],
    },
}

PRESETS: dict[str, dict[str, Any]] = {
    "generic": GENERIC,
    "doba": DOBA,
    "hublogix": HUBLOGIX,
    "logicbroker": LOGICBROKER,
    "syncee": SYNCEE,
    "fabric": FABRIC,
    "duoplane": DUOPLANE,
}

# How sure each preset is (../shared/contracts/suppliers.md section 6): "verified" when every column it
# relies on is named in the vendor's published spec, "guessed" when some are inferred.
STATUS: dict[str, tuple[str, str]] = {
    "generic": ("guessed", "common spellings across wholesaler exports, matched case- and punctuation-blind"),
    "doba": ("verified", "Doba product/inventory export column list (Doba knowledge base)"),
    "hublogix": ("verified", "HubLogix inventory setup: exact headers"),
    "logicbroker": ("guessed", "Logicbroker inventory spec names SupplierSKU; quantity and cost headers inferred"),
    "syncee": ("guessed", "Syncee DataFeed Manager describes the fields, not exact headers"),
    "fabric": ("guessed", "fabric offers import names Supplier SKU, Base Cost, MAP; quantity inferred"),
    "duoplane": ("guessed", "Duoplane product import headers; cost and quantity headers inferred"),
}


def preset(name: str):
    """The ColumnMapping for a preset name."""
    from .mapping import ColumnMapping

    return ColumnMapping.from_dict({"preset": name})
