"""`supplier add --kind cjdropshipping` configuration (README: CJdropshipping)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dropbridge.connectors.config import CountryCode, SupplierConfig


class CjConfig(SupplierConfig):
    pay_from_balance: bool | None = Field(
        None, description="pay each order from the CJ balance as it is created (payType 2); otherwise it is "
                          "created unpaid (payType 3), waits for payment at CJ, and the merchant is alerted")
    from_country_code: CountryCode | None = Field(
        None, description="country of the CJ warehouses orders ship from (default CN); only their stock counts")
    count_factory_stock: bool | None = Field(
        None, description="count the suppliers' (factory) stock as well as CJ's own (default true)")
    logistic_name: str | None = Field(
        None, description="CJ logistic to ship with when routing named none (default: the cheapest quoted)")
    qps: Annotated[float, Field(gt=0, le=6)] | None = Field(
        None, description="requests per second the account may make: 1 Free, 2 Plus, 4 Prime, 6 Advanced")
    sandbox: bool | None = Field(None, description="mark orders as sandbox orders (isSandbox 1): nothing is charged")
    catalog_keyword: str | None = Field(None, description="pull only products matching this keyword")
    catalog_category_id: str | None = Field(None, description="pull only products of this CJ category")
    catalog_country_code: CountryCode | None = Field(
        None, description="pull only products with stock in this country")
    catalog_page_size: Annotated[int, Field(ge=1, le=100)] | None = None
    token_refresh_days: Annotated[float, Field(gt=0, le=14)] | None = Field(
        None, description="refresh the access token this long before it expires (default 2 days)")
    webhook_param: str | None = Field(
        None, description="query parameter of the callback URL that carries webhook_secret (default token)")
