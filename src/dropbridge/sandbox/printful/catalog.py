"""The emulated Printful catalog (contract 1.4, 1.5): catalog products with variants, prices per technique,
additional placement prices and stock status per selling region; and the store's own products (sync
products, 1.7 (A)) built on catalog variants. Deterministic, so tests and the demo can name what they use."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# contract 1.4: the selling_region_name enum
REGIONS = ("worldwide", "north_america", "canada", "europe", "spain", "latvia", "uk", "france", "australia",
           "japan", "new_zealand", "italy", "brazil", "southeast_asia", "republic_of_korea",
           "english_speaking_regions")
# contract 1.5: the availability statuses of GET /v2/catalog-*/availability
STATUSES = ("in stock", "out of stock", "not fulfillable", "unknown")
CDN = "https://files.cdn.printful.com"
SIZES = ("XS", "S", "M", "L", "XL", "2XL", "3XL", "4XL", "5XL")
COLORS = (("Black", "#0b0b0b"), ("White", "#ffffff"), ("Navy", "#1e2a44"), ("Heather Grey", "#b3b3b3"),
          ("Red", "#c21c1c"), ("Forest", "#224d2f"), ("Maroon", "#5b1f2c"), ("Royal", "#2850ad"),
          ("Gold", "#f6b21b"), ("Pink", "#f4a6c0"), ("Orange", "#f26b21"), ("Purple", "#4b2a6d"))


@dataclass
class Technique:
    key: str  # TechniqueEnum: dtg, digital, cut-sew, uv, embroidery, sublimation, dtfilm
    display_name: str
    is_default: bool = False


@dataclass
class CatalogVariant:
    id: int
    product_id: int
    name: str
    size: str
    color: str | None
    color_code: str | None
    image: str
    price: Decimal  # in USD, for the product's techniques
    availability: dict[str, str] = field(default_factory=dict)  # region -> status (absent: in stock)

    def status(self, region: str) -> str:
        return self.availability.get(region, self.availability.get("worldwide", "in stock"))


@dataclass
class CatalogProduct:
    id: int
    type: str
    name: str
    brand: str
    model: str
    image: str
    description: str
    main_category_id: int
    techniques: list[Technique]
    placements: list[str]  # the first is included in the variant price; each further one costs its price
    placement_price: Decimal
    variants: list[CatalogVariant] = field(default_factory=list)
    is_discontinued: bool = False

    @property
    def default_technique(self) -> str:
        return next((t.key for t in self.techniques if t.is_default), self.techniques[0].key)


@dataclass
class SyncVariant:
    id: int
    external_id: str
    sync_product_id: int
    name: str
    variant_id: int  # the catalog variant it is made from
    retail_price: Decimal
    sku: str
    files: list[dict]  # [{"type": placement, "url": ...}]
    availability_status: str = "active"  # active | discontinued | out_of_stock | temporary_out_of_stock
    synced: bool = True
    is_ignored: bool = False


@dataclass
class SyncProduct:
    id: int
    external_id: str
    name: str
    thumbnail_url: str
    variants: list[SyncVariant] = field(default_factory=list)
    is_ignored: bool = False


def _tee(cdn: str) -> CatalogProduct:
    product = CatalogProduct(
        id=71, type="T-SHIRT", name="Unisex Staple T-Shirt | Bella + Canvas 3001", brand="Bella + Canvas",
        model="3001", image=f"{cdn}/products/71/product_1613463122.jpg",
        description="This t-shirt is everything you've dreamed of and more. It feels soft and lightweight.",
        main_category_id=24, techniques=[Technique("dtg", "DTG printing", True), Technique("embroidery", "Embroidery")],
        placements=["front", "back", "sleeve_left", "sleeve_right"], placement_price=Decimal("5.95"))
    vid = 4011
    for color, code in (("White", "#ffffff"), ("Black", "#0b0b0b")):
        for size in ("S", "M", "L", "XL", "2XL"):
            price = Decimal("9.85") if size != "2XL" else Decimal("12.25")
            product.variants.append(CatalogVariant(
                vid, 71, f"Bella + Canvas 3001 ({color} / {size})", size, color, code,
                f"{cdn}/products/71/{vid}_1581412541.jpg", price))
            vid += 1
    product.variants[-1].availability = {"europe": "out of stock", "uk": "out of stock"}  # Black 2XL
    return product


def _mug(cdn: str) -> CatalogProduct:
    product = CatalogProduct(
        id=19, type="MUG", name="White Glossy Mug", brand="", model="White Glossy Mug",
        image=f"{cdn}/products/19/product_1550594502.jpg",
        description="A sturdy white ceramic mug with a glossy finish, printed on both sides.",
        main_category_id=112, techniques=[Technique("sublimation", "Sublimation", True)],
        placements=["default"], placement_price=Decimal("0.00"))
    for vid, size, price in ((1320, "11 oz", Decimal("5.95")), (4830, "15 oz", Decimal("7.95"))):
        product.variants.append(CatalogVariant(vid, 19, f"White Glossy Mug ({size})", size, "White", "#ffffff",
                                               f"{cdn}/products/19/{vid}_1550594502.jpg", price))
    return product


def featured(cdn: str = CDN) -> list[CatalogProduct]:
    """The products the sandbox, the demo and the tests name: the Bella + Canvas 3001 tee (71) and the mug (19)."""
    return [_tee(cdn), _mug(cdn)]


def generated(count: int, variants_per_product: int, first_id: int = 1000, cdn: str = CDN) -> list[CatalogProduct]:
    """`count` more products of `variants_per_product` variants each (sizes x colours), for volume."""
    out = []
    combos = [(c, s) for c in COLORS for s in SIZES]
    for n in range(count):
        pid = first_id + n
        product = CatalogProduct(
            id=pid, type="T-SHIRT", name=f"Generated Tee {pid}", brand="Acme Blanks", model=f"AB-{pid}",
            image=f"{cdn}/products/{pid}/product.jpg", description=f"A generated catalog product ({pid}).",
            main_category_id=24, techniques=[Technique("dtg", "DTG printing", True)],
            placements=["front", "back"], placement_price=Decimal("5.95"))
        for j in range(variants_per_product):
            (color, code), size = combos[j % len(combos)]
            label = f"{color} / {size}" + (f" #{j // len(combos) + 1}" if j >= len(combos) else "")
            vid = pid * 1000 + j
            variant = CatalogVariant(vid, pid, f"Generated Tee {pid} ({label})", size, color, code,
                                     f"{cdn}/products/{pid}/{vid}.jpg", Decimal("8.95") + Decimal(j % 7) / 4)
            if j % 17 == 5:
                variant.availability = {"europe": "out of stock"}
            product.variants.append(variant)
        out.append(product)
    return out


def store_products(catalog: dict[int, CatalogProduct], cdn: str = CDN) -> list[SyncProduct]:
    """The merchant's own designs in the Printful store: a logo tee on every 3001 variant (external ids are
    the merchant's SKUs) and a mug, each with its print files."""
    out = []
    tee = catalog.get(71)
    if tee is not None:
        product = SyncProduct(301, "logo-tee", "Logo Tee", f"{cdn}/files/logo-tee-thumb.png")
        for i, v in enumerate(tee.variants):
            ext = f"LOGO-TEE-{ {'White': 'WHT', 'Black': 'BLK'}[v.color]}-{v.size}"
            product.variants.append(SyncVariant(
                3011 + i, ext, 301, f"Logo Tee - {v.color} / {v.size}", v.id, Decimal("24.00"), ext,
                [{"type": "front", "url": "https://example.com/designs/logo-front.png"}]))
        product.variants[-1].availability_status = "temporary_out_of_stock"
        out.append(product)
    mug = catalog.get(19)
    if mug is not None:
        product = SyncProduct(302, "quote-mug", "Quote Mug", f"{cdn}/files/quote-mug-thumb.png")
        v = mug.variants[0]
        product.variants.append(SyncVariant(3021, "QUOTE-MUG-11", 302, "Quote Mug - 11 oz", v.id, Decimal("14.00"),
                                            "QUOTE-MUG-11",
                                            [{"type": "default", "url": "https://example.com/designs/quote.png"}]))
        out.append(product)
    return out
