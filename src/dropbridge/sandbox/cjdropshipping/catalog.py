"""The emulator's product catalog: generated deterministically (so a test or the bench can ask for 50,000
variants and know them), or given as a list of products. Shapes follow contract 2.3 and 2.4."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

COLORS = ("Black", "White", "Red", "Blue", "Green", "Grey", "Pink", "Navy", "Khaki", "Purple")
SIZES = ("XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL", "5XL", "6XL")
CATEGORIES = (("2252588B-72E3-4397-8C92-7D9967161084", "Office & School Supplies"),
              ("87CF251F-8D11-4DE0-A154-9694D9858EB3", "Women's Clothing"),
              ("D9E66BF8-4E81-4C19-BD38-7E4BB4D9A1E6", "Phone Cases"))
# Warehouses a variant may sit in (contract 2.4: CJ's own stock and its suppliers' "factory" stock).
WAREHOUSES = (("1", "China Warehouse", "CN"), ("2", "US Warehouse", "US"))


@dataclass
class Variant:
    vid: str
    pid: str
    sku: str
    key: str  # "Black-M"
    name: str
    price: Decimal
    weight: int  # grams
    stock: dict[str, tuple[int, int]] = field(default_factory=dict)  # country -> (cj, factory)


@dataclass
class Product:
    pid: str
    sku: str
    name: str
    category: tuple[str, str]
    key_names: str  # "Color-Size"
    variants: list[Variant]
    image: str | None = None


def _uuid(*parts: object) -> str:
    h = hashlib.md5("/".join(map(str, parts)).encode()).hexdigest().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def generate(products: int, variants_per_product: int, *, seed: str = "cj", image_base: str | None = None,
             first_stock: int = 40) -> list[Product]:
    """`products` products of `variants_per_product` variants each (colors x sizes), with stock in CN and some
    in the US, prices in USD with cents."""
    out = []
    for n in range(products):
        pid = str(1424608189734850560 + n)
        sku = f"CJ{seed.upper()[:4]}{n:07d}"
        category = CATEGORIES[n % len(CATEGORIES)]
        variants = []
        for k in range(variants_per_product):
            color, size = COLORS[k // len(SIZES) % len(COLORS)], SIZES[k % len(SIZES)]
            suffix = f"{color}-{size}" if k < len(COLORS) * len(SIZES) else f"{color}-{size}-{k}"
            price = Decimal(200 + (n * 37 + k * 11) % 1800) / 100
            cn = (first_stock + (n + k) % 60, (n * 7 + k) % 25)
            us = ((n + 3 * k) % 9, 0)
            variants.append(Variant(vid=_uuid(seed, n, k), pid=pid, sku=f"{sku}-{suffix}", key=suffix,
                                    name=f"Product {n} {suffix}", price=price, weight=100 + k % 400,
                                    stock={"CN": cn, "US": us}))
        out.append(Product(pid=pid, sku=sku, name=f"{seed} product {n}", category=category,
                           key_names="Color-Size", variants=variants,
                           image=f"{image_base}/_images/{pid}.png" if image_base else None))
    return out


def from_spec(items: list[dict[str, Any]], image_base: str | None = None) -> list[Product]:
    """Products named by the caller: [{"sku": "TEE", "name": ..., "variants": [{"sku", "price", "stock":
    {"CN": 10} or 10, "key": "Black-M"}]}] (ids made from the SKUs)."""
    out = []
    for n, item in enumerate(items):
        pid = str(item.get("pid") or 1500000000000000000 + int(hashlib.md5(item["sku"].encode()).hexdigest()[:14], 16))
        variants = []
        for v in item.get("variants") or []:
            stock = v.get("stock", 0)
            stock = {c: (int(q), 0) for c, q in stock.items()} if isinstance(stock, dict) else {"CN": (int(stock), 0)}
            variants.append(Variant(vid=str(v.get("vid") or _uuid("spec", item["sku"], v["sku"])), pid=pid,
                                    sku=v["sku"], key=v.get("key") or v["sku"], name=v.get("name") or v["sku"],
                                    price=Decimal(str(v["price"])), weight=int(v.get("weight", 200)), stock=stock))
        out.append(Product(pid=pid, sku=item["sku"], name=item.get("name") or item["sku"],
                           category=CATEGORIES[n % len(CATEGORIES)], key_names=item.get("key_names", ""),
                           variants=variants, image=f"{image_base}/_images/{pid}.png" if image_base else None))
    return out


# ---- replies (contract 2.3 / 2.4 field names) ----------------------------------------------------------------


def price_text(p: Product) -> str:
    prices = sorted(v.price for v in p.variants) or [Decimal(0)]
    low, high = prices[0], prices[-1]
    return f"{low:.2f}" if low == high else f"{low:.2f} -- {high:.2f}"


def list_item(p: Product) -> dict[str, Any]:
    """A listV2 item (data.content[].productList[]): [C] id, nameEn, sku, bigImage, sellPrice, ..."""
    total = sum(cj + f for v in p.variants for cj, f in v.stock.values())
    return {"id": p.pid, "nameEn": p.name, "sku": p.sku, "spu": p.sku, "bigImage": p.image or "",
            "sellPrice": price_text(p), "nowPrice": price_text(p), "categoryId": p.category[0],
            "threeCategoryName": p.category[1], "warehouseInventoryNum": total, "listedNum": 0,
            "productType": "ORDINARY_PRODUCT", "isVideo": 0}


def variant_json(v: Variant, image: str | None) -> dict[str, Any]:
    return {"vid": v.vid, "pid": v.pid, "variantNameEn": v.name, "variantSku": v.sku, "variantKey": v.key,
            "variantImage": image or "", "variantSellPrice": float(v.price), "variantSugSellPrice": float(v.price * 3),
            "variantWeight": v.weight, "variantLength": 100, "variantWidth": 80, "variantHeight": 20,
            "inventoryNum": sum(cj + f for cj, f in v.stock.values()), "createTime": "2024-01-05T10:00:00+08:00"}


def product_json(p: Product) -> dict[str, Any]:
    return {"pid": p.pid, "productNameEn": p.name, "productSku": p.sku, "productImage": p.image or "",
            "productImageSet": [p.image] if p.image else [], "productKeyEn": p.key_names,
            "sellPrice": price_text(p), "categoryId": p.category[0], "categoryName": p.category[1],
            "productWeight": max((v.weight for v in p.variants), default=0), "productUnit": "unit(s)",
            "description": f"<p>{p.name}: soft, durable, ships worldwide.</p>", "sourceFrom": 1,
            "variants": [variant_json(v, p.image) for v in p.variants]}


def stock_rows(v: Variant) -> list[dict[str, Any]]:
    """One row per warehouse holding (or able to hold) the variant: [C] contract 2.4."""
    rows = []
    for area_id, area, country in WAREHOUSES:
        if country in v.stock:
            cj, factory = v.stock[country]
            rows.append({"vid": v.vid, "areaId": area_id, "areaEn": area, "countryCode": country,
                         "totalInventoryNum": cj + factory, "cjInventoryNum": cj, "factoryInventoryNum": factory,
                         "storageNum": cj + factory})
    return rows
