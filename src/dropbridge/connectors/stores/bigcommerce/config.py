"""`store add --platform bigcommerce` configuration."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dropbridge.connectors.config import Amount, StoreConfig


class BigCommerceConfig(StoreConfig):
    store_hash: str = Field(description="the store's hash, from its API path")
    page_size: Annotated[int, Field(ge=1, le=250)] | None = None
    batch_limit: Annotated[int, Field(ge=1, le=2000)] | None = None
    location_id: Annotated[int, Field(ge=1)] | None = None
    product_weight: Amount | None = None
    categories: list[int] | None = None
    webhook_tolerance_seconds: Annotated[float, Field(gt=0)] | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None
    max_wait: Annotated[float, Field(gt=0)] | None = None
    backoff_base: Annotated[float, Field(gt=0)] | None = None
