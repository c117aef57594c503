"""`store add --platform woocommerce` configuration."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from dropbridge.connectors.config import StoreConfig


class WooCommerceConfig(StoreConfig):
    auth: Literal["auto", "basic", "query", "oauth1"] | None = Field(
        None, description="auto: Basic over https, OAuth 1.0a over http; oauth1 behind a TLS-terminating proxy")
    page_size: Annotated[int, Field(ge=1, le=100)] | None = None
    batch_limit: Annotated[int, Field(ge=1, le=100)] | None = None
    tracking_mode: Literal["meta", "shipment_tracking"] | None = None
    webhook_max_age_seconds: Annotated[float, Field(gt=0)] | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None
    max_wait: Annotated[float, Field(gt=0)] | None = None
    backoff_base: Annotated[float, Field(gt=0)] | None = None
    rate_limit: Annotated[str, Field(pattern=r"^\d+/\d+(\.\d+)?$")] | None = Field(
        None, description="the host's request limit, CALLS/SECONDS (e.g. 25/10): calls wait for their slot")
