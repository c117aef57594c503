"""Request bodies of the REST API (pydantic validates them and FastAPI answers 422 naming each field)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    address1: str = Field(min_length=1, max_length=300)
    address2: str = ""
    city: str = Field(min_length=1, max_length=100)
    province_code: str = ""
    postal_code: str = ""
    country_code: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    company: str = ""
    phone: str = ""


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str | None = None
    sku: str = Field(min_length=1, max_length=200)
    quantity: int = Field(gt=0, le=100_000)
    unit_price: Decimal = Field(ge=0, description="decimal string, e.g. \"19.99\"")

    @field_validator("unit_price", mode="before")
    @classmethod
    def _no_float(cls, v):
        if isinstance(v, float):  # JSON numbers arrive as float: go through their shortest repr
            return repr(v)
        return v


class OrderIn(BaseModel):
    """A headless store's order. Prices are decimal strings in `currency`."""

    model_config = ConfigDict(extra="forbid")
    store: str = Field(min_length=1, description="the dropbridge store name")
    external_id: str = Field(min_length=1, max_length=100)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    email: str | None = None
    ship_to: AddressIn
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)
    shipping_price: Decimal = Field(default=Decimal("0"), ge=0)
