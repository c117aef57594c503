"""`store add --platform shopify` configuration."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dropbridge.connectors.config import StoreConfig


class ShopifyConfig(StoreConfig):
    api_version: str | None = Field(None, description="Admin API version, e.g. 2026-01")
    location_id: str | int | None = Field(None, description="inventory location (default: the primary location)")
    shop_domain: str | None = Field(None, description="checked against X-Shopify-Shop-Domain on webhooks")
    orders_page_size: Annotated[int, Field(ge=1, le=250)] | None = None
    line_items_page_size: Annotated[int, Field(ge=1, le=250)] | None = None
    stock_batch_size: Annotated[int, Field(ge=1, le=250)] | None = None
    webhook_max_age_seconds: Annotated[float, Field(gt=0)] | None = None
    max_throttle_wait: Annotated[float, Field(gt=0)] | None = None
