"""`store add --platform headless` configuration."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dropbridge.connectors.config import StoreConfig


class HeadlessConfig(StoreConfig):
    orders_url: str | None = Field(None, description="the store's order list, for the periodic pull")
    webhook_tolerance: Annotated[float, Field(gt=0)] | None = None
