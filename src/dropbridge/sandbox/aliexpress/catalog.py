"""The emulated catalog: products, their SKUs with stock and price as a ship-to country and a currency see
them (ds.product.get), and the delivery options of each (ds.freight.query). Shapes follow the methods' docs
(shared/contracts/suppliers.md 3.3; the doc examples in tests/connectors/aliexpress/fixtures/), lists wrapped
as `simplify=false` wraps them.

Per-country behaviour modelled: a SKU that ships from a local warehouse ("Ships From": United States) is sold
and delivered only to that country; a product may be barred from some countries (rsp_code 602); some
destinations get no delivery at all (freight: success false, code 505 DELIVERY_NOT_AVAILABLE_TO_YOUR_ADDRESS)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# USD -> currency, for target_currency (the emulator's own fixed rates) and each currency's minor digits.
RATES = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "CAD": Decimal("1.36"),
         "AUD": Decimal("1.52"), "BRL": Decimal("5.05"), "MXN": Decimal("17.1"), "PLN": Decimal("4.02"),
         "KRW": Decimal("1350"), "JPY": Decimal("150")}
NO_MINOR = {"KRW", "JPY"}
SHIPS_FROM_NAMES = {"CN": "CHINA", "US": "UNITED STATES", "ES": "SPAIN", "DE": "GERMANY", "FR": "FRANCE"}
UNDELIVERABLE = frozenset({"KP", "IR", "SY", "CU"})
# code, company, base fee USD, per extra unit USD, min days, max days (the docs' example: CAINIAO_STANDARD)
SERVICES = (
    ("CAINIAO_STANDARD", "AliExpress standard shipping", Decimal("1.99"), Decimal("0.50"), 15, 30),
    ("CAINIAO_FULFILLMENT_STD", "AliExpress Selection Standard", Decimal("0.00"), Decimal("0.00"), 12, 20),
    ("EMS", "EMS", Decimal("14.50"), Decimal("2.00"), 7, 12),
)
LOCAL_SERVICE = ("CAINIAO_LOCAL", "AliExpress local delivery", Decimal("3.49"), Decimal("0.50"), 3, 7)
COLOURS = [("Black", 193), ("White", 29), ("Red", 10), ("Blue", 173), ("Green", 175), ("Grey", 691),
           ("Pink", 1052), ("Yellow", 366), ("Beige", 200004889), ("Navy", 200004890)]
SIZES = [("XS", 100014063), ("S", 100014064), ("M", 100014065), ("L", 100014066), ("XL", 100014067),
         ("XXL", 100014068), ("3XL", 361386), ("4XL", 361385), ("5XL", 100014069), ("6XL", 100014070)]


def money_text(usd: Decimal, currency: str) -> str:
    value = usd * RATES.get(currency, Decimal(1))
    quantum = Decimal(1) if currency in NO_MINOR else Decimal("0.01")
    return str(value.quantize(quantum, rounding=ROUND_HALF_UP))


def ean13(seed: int) -> str:
    digits = f"{seed % 10**12:012d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


@dataclass
class Sku:
    sku_id: str
    attr: str  # "14:193#Black;5:100014065" ("" for a product's only SKU)
    properties: list[dict[str, Any]]
    price: Decimal  # offer price, USD
    list_price: Decimal
    stock: int
    ships_from: str = "CN"
    ean: str | None = None

    def sold_to(self, country: str) -> bool:
        return self.ships_from == "CN" or self.ships_from == country


@dataclass
class Product:
    product_id: str
    title: str
    store_id: int
    store_name: str
    category_id: int
    skus: list[Sku]
    images: list[str] = field(default_factory=list)
    delivery_days: int = 7
    status: str = "onSelling"
    barred: frozenset[str] = frozenset()  # countries it may not be sold to (602)

    def sku(self, sku_id: str) -> Sku | None:
        return next((s for s in self.skus if s.sku_id == sku_id), None)

    def sku_by_attr(self, attr: str) -> Sku | None:
        if not attr and len(self.skus) == 1:
            return self.skus[0]
        return next((s for s in self.skus if s.attr == attr), None)

    # ---- ds.product.get ------------------------------------------------------------------------------

    def answer(self, country: str, currency: str, image_host: str = "") -> dict[str, Any]:
        """`image_host` is put before image paths ("/kf/..."): the emulator serves its own pictures."""
        def url(path: str) -> str:
            return image_host + path if path.startswith("/") else path

        skus = []
        for s in self.skus:
            props = [{**p, "sku_image": url(p["sku_image"])} if p.get("sku_image") else {**p} for p in s.properties]
            price = money_text(s.price, currency)
            entry = {"sku_id": s.sku_id, "sku_attr": s.attr, "id": s.attr, "offer_sale_price": price,
                     "sku_price": money_text(s.list_price, currency), "offer_bulk_sale_price": price,
                     "currency_code": currency, "sku_available_stock": s.stock if s.sold_to(country) else 0,
                     "sku_stock": s.stock > 0 and s.sold_to(country), "price_include_tax": False,
                     "ae_sku_property_dtos": {"ae_sku_property_d_t_o": props}}
            if s.ean:
                entry["ean_code"] = s.ean
            skus.append(entry)
        return {
            "ae_item_base_info_dto": {"product_id": int(self.product_id), "subject": self.title,
                                      "category_id": self.category_id, "currency_code": currency,
                                      "product_status_type": self.status, "avg_evaluation_rating": "4.7",
                                      "evaluation_count": "128", "sales_count": "1000+",
                                      "detail": f"<div><p>{self.title}</p><p>Ships in {self.delivery_days} days."
                                                "</p></div>"},
            "ae_item_sku_info_dtos": {"ae_item_sku_info_d_t_o": skus},
            "ae_multimedia_info_dto": {"image_urls": ";".join(url(i) for i in self.images)},
            "logistics_info_dto": {"delivery_time": self.delivery_days, "ship_to_country": country},
            "package_info_dto": {"package_length": 20, "package_width": 15, "package_height": 3,
                                 "gross_weight": "0.250", "package_type": False},
            "ae_store_info": {"store_id": self.store_id, "store_name": self.store_name, "store_country_code": "CN",
                              "item_as_described_rating": "4.8", "communication_rating": "4.8",
                              "shipping_speed_rating": "4.7"},
        }

    # ---- ds.freight.query ----------------------------------------------------------------------------

    def delivery_options(self, sku: Sku, country: str, quantity: int, currency: str) -> list[dict[str, Any]]:
        if country in UNDELIVERABLE or country in self.barred or not sku.sold_to(country):
            return []
        services = (LOCAL_SERVICE,) if sku.ships_from != "CN" else SERVICES
        out = []
        for code, company, base, extra, low, high in services:
            fee = base + extra * max(0, quantity - 1)
            text = money_text(fee, currency)
            out.append({"code": code, "company": company, "shipping_fee_cent": text,
                        "shipping_fee_currency": currency, "shipping_fee_format": f"{currency} {text}",
                        "free_shipping": fee == 0, "mayHavePFS": False, "min_delivery_days": low,
                        "max_delivery_days": high, "guaranteed_delivery_days": str(high + 15),
                        "ship_from_country": sku.ships_from, "tracking": True,
                        "available_stock": str(sku.stock), "delivery_date_desc": f"{low}-{high} days"})
        return out

    def fee(self, sku: Sku, country: str, quantity: int, code: str) -> Decimal | None:
        """The USD fee of one delivery option (None when it does not exist for this route)."""
        services = (LOCAL_SERVICE,) if sku.ships_from != "CN" else SERVICES
        for service_code, _, base, extra, _, _ in services:
            if service_code == code and country not in UNDELIVERABLE and sku.sold_to(country):
                return base + extra * max(0, quantity - 1)
        return None


def generate(products: int, skus_per_product: int = 4, *, seed: int = 7, stock: int = 500,
             first_id: int = 1005006000000001) -> list[Product]:
    """A deterministic catalog: colour x size SKUs, a few shipping from a US warehouse as well."""
    if not 1 <= skus_per_product <= len(COLOURS) * len(SIZES):
        raise ValueError(f"skus_per_product must be 1..{len(COLOURS) * len(SIZES)}")
    rng = random.Random(seed)
    out = []
    for n in range(products):
        pid = str(first_id + n * 7)
        store = 1100000 + n % 50
        skus = []
        for k in range(skus_per_product):
            colour, cid = COLOURS[k % len(COLOURS)]
            size, sid = SIZES[(k // len(COLOURS)) % len(SIZES)]
            # the last SKU of every fifth product ships from a US warehouse (sold to the US only)
            warehouse = "US" if skus_per_product > 2 and k == skus_per_product - 1 and n % 5 == 0 else "CN"
            props = [{"sku_property_id": 14, "sku_property_name": "Color", "sku_property_value": colour.lower(),
                      "property_value_id": cid, "property_value_definition_name": colour,
                      "sku_image": f"/kf/S{pid}{k:03d}.jpg"},
                     {"sku_property_id": 5, "sku_property_name": "Size", "sku_property_value": size,
                      "property_value_id": sid}]
            attr = f"14:{cid}#{colour};5:{sid}"
            if warehouse != "CN":
                props.append({"sku_property_id": 200007763, "sku_property_name": "Ships From",
                              "sku_property_value": SHIPS_FROM_NAMES[warehouse], "property_value_id": 201336106})
                attr += ";200007763:201336106"
            if skus_per_product == 1:
                attr = ""
            price = Decimal(rng.randrange(199, 4999)) / 100
            skus.append(Sku(sku_id=str(12000030000000000 + n * 1000 + k), attr=attr, properties=props,
                            price=price, list_price=(price * Decimal("1.8")).quantize(Decimal("0.01")),
                            stock=stock, ships_from=warehouse, ean=ean13(int(pid) * 100 + k) if k % 2 == 0 else None))
        out.append(Product(product_id=pid, title=f"Emulated AliExpress item {n + 1}", store_id=store,
                           store_name=f"Emulated Store {store}", category_id=200000345 + n % 9, skus=skus,
                           images=[f"/kf/H{pid}a.jpg", f"/kf/H{pid}b.jpg"],
                           delivery_days=5 + n % 10))
    return out
