"""`supplier add --kind aliexpress` configuration (README: supplier --config, AliExpress keys)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from dropbridge.connectors.config import CountryCode, CurrencyCode, SupplierConfig


def _product_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be an AliExpress product id (digits)")
    text = str(value).strip()
    if not text.isdigit() or len(text) > 20:
        raise ValueError(f"{value!r} is not an AliExpress product id (digits)")
    return text


ProductId = Annotated[str, BeforeValidator(_product_id)]


class AliExpressConfig(SupplierConfig):
    """`currency` (SupplierConfig) is also the currency AliExpress prices the catalog in (target_currency)."""

    product_ids: list[ProductId] | None = Field(
        None, description="the AliExpress products you sell (their SKUs are pulled by `sync catalog`)")
    ship_to_country: CountryCode | None = Field(
        None, description="the country stock and prices are pulled for (default US); orders use their own")
    language: Annotated[str, Field(pattern=r"^[a-z]{2}(_[A-Z]{2})?$")] | None = Field(
        None, description="language of titles and descriptions (default en_US)")
    shipping_method: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="logistics service code to order with (e.g. CAINIAO_STANDARD) when routing chose "
                          "none; absent: the cheapest option the freight query offers for the order")
    auto_pay: bool | None = Field(
        None, description="pay each order at once from the account's linked payment (needs AliExpress to "
                          "allow the app); otherwise orders wait for payment in your AliExpress account")
    pay_currency: CurrencyCode | None = Field(None, description="currency auto-pay pays in (default USD)")
    products_per_page: Annotated[int, Field(ge=1, le=50)] | None = Field(
        None, description="products fetched per catalog page (default 20)")
    concurrency: Annotated[int, Field(ge=1, le=16)] | None = Field(
        None, description="product lookups in flight at once during a catalog pull (default 4)")
    rate_per_second: Annotated[float, Field(gt=0, le=500)] | None = Field(
        None, description="calls per second this account may make (default 50; AliExpress allows 500 in all)")
