"""`supplier add --kind printful` configuration."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from dropbridge.connectors.config import SupplierConfig

# contract 1.4: Printful's selling_region_name values
Region = Literal["worldwide", "north_america", "canada", "europe", "spain", "latvia", "uk", "france", "australia",
                 "japan", "new_zealand", "italy", "brazil", "southeast_asia", "republic_of_korea",
                 "english_speaking_regions"]


class PrintfulConfig(SupplierConfig):
    confirm: Literal["confirm", "draft"] | None = Field(
        None, description='"confirm" (default): orders go to production at once (Printful charges then); "draft": '
                          "left as drafts for the merchant to review and confirm in Printful")
    store_id: str | None = Field(None, description="X-PF-Store-Id: the store, for an account-level token")
    store_products: bool | None = Field(None, description="offer the store's own (designed) products; default true")
    catalog_products: list[Annotated[int, Field(gt=0)]] | Literal["all"] | None = Field(
        None, description='catalog products offered blank, printed with the designs attached to each SKU '
                          '(`designs attach`): product ids, or "all"')
    selling_region: Region | None = Field(None, description="region whose stock status and prices count "
                                                            "(default worldwide)")
    technique: str | None = Field(None, description="print technique whose price and stock count (dtg, embroidery, "
                                                    "...); default: each product's default")
    available_quantity: Annotated[int, Field(ge=0)] | None = Field(
        None, description="units promised for a variant Printful reports in stock (print on demand has no "
                          "counts); default 1000")
    shipping: str | None = Field(None, description="shipping method when routing named none (default STANDARD)")
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None, description="requests per minute for this account (Printful documents 120)")
    webhook_public_key: str | None = Field(None, description="the webhook configuration's public key: events "
                                                             "naming another are refused")
    webhook_key_encoding: Literal["hex", "text"] | None = Field(
        None, description="how the webhook secret keys the signature: hex-decoded (default) or as typed")
