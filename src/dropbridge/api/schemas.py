"""Request bodies of the REST API (pydantic validates them and FastAPI answers 422 naming each field)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator
from pydantic import ValidationError as PydanticValidationError

from dropbridge.domain import limits as lim
from dropbridge.domain.money import known_currency


def _text(max_length: int, *, min_length: int = 0, code: bool = False):
    """A string within `max_length` holding no NUL (a `code`: no control character at all), from the one
    definition in domain/limits.py that webhook orders are checked against too."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,
                                            pattern=lim.CODE_PATTERN if code else lim.TEXT_PATTERN)]


def query_text(max_length: int, *, code: bool = False):
    """An optional query parameter held to the same definition as body text: a NUL (which PostgreSQL refuses
    and SQLite would take) is a 422 naming the parameter on both databases."""
    return Query(None, max_length=max_length, pattern=lim.CODE_PATTERN if code else lim.TEXT_PATTERN)


def _country(value: str) -> str:
    if value not in lim.COUNTRY_CODES:
        raise ValueError(f"not an ISO 3166-1 alpha-2 country code: {value!r}")
    return value


def _currency(value: str) -> str:
    if not known_currency(value):
        raise ValueError(f"not an ISO 4217 currency code we know: {value!r}")
    return value


Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), AfterValidator(_country),
                    Field(description="ISO 3166-1 alpha-2")]


def query_country():
    """An optional country query parameter (annotate it `Country | None`): a code outside ISO 3166 is a 422
    naming the parameter, as in bodies."""
    return Query(None, description="ISO 3166-1 alpha-2")


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_currency),
                     Field(description="ISO 4217")]
Amount = Annotated[Decimal, Field(ge=0, description="decimal string, e.g. \"19.99\"; at most 10**15 minor units")]


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: _text(lim.NAME_MAX, min_length=1)
    address1: _text(lim.ADDRESS_MAX, min_length=1)
    address2: _text(lim.ADDRESS_MAX) = ""
    city: _text(lim.CITY_MAX, min_length=1)
    province_code: _text(lim.PROVINCE_MAX) = ""
    postal_code: _text(lim.POSTAL_CODE_MAX) = ""
    country_code: Country
    company: _text(lim.NAME_MAX) = ""
    phone: _text(lim.PHONE_MAX) = ""


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: _text(lim.EXTERNAL_ID_MAX, min_length=1, code=True) | None = None
    sku: _text(lim.SKU_MAX, min_length=1, code=True)
    quantity: StrictInt = Field(ge=1, le=lim.MAX_LINE_QUANTITY)  # strict: `true` is not 1, nor is "1" or 1.0
    unit_price: Amount
    discount: Amount | None = Field(None, description="discount allocated to the line (its total, not per unit)")
    tax: Amount | None = Field(None, description="tax on the line, after its discount")

    @field_validator("unit_price", "discount", "tax", mode="before")
    @classmethod
    def _no_float(cls, v):
        if isinstance(v, float):  # JSON numbers arrive as float: go through their shortest repr
            return repr(v)
        return v


class OrderIn(BaseModel):
    """A headless store's order. Prices are decimal strings in `currency`."""

    model_config = ConfigDict(extra="forbid")
    store: _text(lim.STORE_NAME_MAX, min_length=1, code=True) = Field(description="the dropbridge store name")
    external_id: _text(lim.EXTERNAL_ID_MAX, min_length=1, code=True)
    currency: Currency
    email: _text(lim.EMAIL_MAX) | None = None
    ship_to: AddressIn
    lines: list[OrderLineIn] = Field(min_length=1, max_length=lim.MAX_ORDER_LINES)
    shipping_price: Amount = Decimal("0")
    total_tax: Amount | None = Field(None, description="the order's tax; beyond the lines' own: tax on shipping")
    total_discounts: Amount | None = Field(None, description="beyond the lines' own: spread over the lines")
    taxes_included: bool | None = Field(None, description="prices include tax (VAT); absent: the store's setting")

    @field_validator("shipping_price", "total_tax", "total_discounts", mode="before")
    @classmethod
    def _no_float(cls, v):
        return repr(v) if isinstance(v, float) else v


class Problem(BaseModel):
    """An error: what went wrong, in words."""

    detail: str


M = TypeVar("M", bound=BaseModel)

# The order endpoint, the hottest path, parses its body itself: pydantic's own JSON parser validating straight
# into the model costs measurably less per request (about 8% of the API's CPU per order) than FastAPI's
# json.loads followed by validating the resulting dict. The answers are the same 422s FastAPI gives, and the
# OpenAPI document still shows the body (FastAPI's documented pattern: `openapi_extra` plus the schemas).

async def parse_json_body(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate_json(await request.body())
    except PydanticValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) from None


def json_body_doc(model: type[BaseModel]) -> dict:
    """`openapi_extra` of an endpoint whose JSON body `parse_json_body` reads."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def document_json_bodies(api: FastAPI, *models: type[BaseModel]) -> None:
    """Add the schemas `json_body_doc` refers to (and the models they nest) to the API's OpenAPI document."""
    schemas: dict = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas |= schema.pop("$defs", {}) | {model.__name__: schema}
    generate = api.openapi

    def openapi() -> dict:
        document = generate()  # FastAPI builds it once and keeps it
        document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        return document

    api.openapi = openapi
