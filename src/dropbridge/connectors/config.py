"""Typed configuration of store and supplier connections: the keys every store or supplier understands,
which each connector's model extends with its own. `store add` / `supplier add` validate through these
(an unknown key, a wrong type: refused, naming the key), and `dropbridge connectors` prints their JSON
Schema, so the models are the one documentation of what a `--config` may hold."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _amount(value: Any) -> str:
    """A decimal amount given as a string or a number; kept as the exact decimal text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("must be a decimal amount such as \"4.00\"")
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal amount") from None
    if not parsed.is_finite() or parsed < 0 or parsed > Decimal(10) ** 9:
        raise ValueError("must be a finite amount between 0 and 1,000,000,000")
    return str(value)


def _code(length: int, what: str):
    def check(value: Any) -> str:
        if not isinstance(value, str) or len(value) != length or not value.isalpha():
            raise ValueError(f"must be an {what} code of {length} letters")
        return value.upper()
    return check


Amount = Annotated[str, BeforeValidator(_amount)]
CurrencyCode = Annotated[str, BeforeValidator(_code(3, "ISO 4217 currency"))]
CountryCode = Annotated[str, BeforeValidator(_code(2, "ISO 3166-1 alpha-2 country"))]
Percent = Annotated[Decimal, Field(ge=0, le=100)]


def _destination(value: Any) -> str:
    return value if value == "*" else _code(2, "ISO 3166-1 alpha-2 country")(value)


def _day_range(value: Any) -> tuple[int, int]:
    """[min, max] whole days, 0..365, min <= max."""
    if (not isinstance(value, list | tuple) or len(value) != 2
            or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 365 for d in value)):
        raise ValueError("must be [min, max] whole days from 0 to 365")
    if value[0] > value[1]:
        raise ValueError("min must not exceed max")
    return int(value[0]), int(value[1])


Destination = Annotated[str, BeforeValidator(_destination)]
DayRange = Annotated[tuple[int, int], BeforeValidator(_day_range)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, populate_by_name=True)


class FeedSource(Model):
    """A feed fetched from a URL on the supplier's interval (the validators are dropbridge's own state)."""

    url: str | None = None
    interval_seconds: Annotated[int, Field(ge=60)] | None = None
    mode: Literal["full", "delta"] | None = None
    etag: str | None = None  # state: written by dropbridge after an applied run
    last_modified: str | None = None  # state
    last_checked_at: str | None = None  # state


class SupplierConfig(Model):
    """Keys every supplier understands (README: supplier --config)."""

    currency: CurrencyCode | None = Field(None, description="currency of the supplier's prices (default USD)")
    buffer: Annotated[int, Field(ge=0)] | None = Field(None, description="units held back from what we promise")
    shipping_per_order: Amount | None = None
    shipping_rates: dict[str, Amount] | None = Field(None, description='per country, "*" for the rest')
    order_fee: Amount | None = Field(None, description="the supplier's fee per order (ledger: supplier_fee)")
    handling_fee_per_unit: Amount | None = Field(
        None, description="the supplier's handling fee per unit shipped (ledger: supplier_fee)")
    commission_percent: Percent | None = Field(
        None, description="an agent's or marketplace's commission on this supplier's goods (ledger: commission)")
    commission_fixed: Amount | None = Field(None, description="a fixed commission per supplier order")
    ships_to: list[CountryCode] | None = Field(None, description="countries served; absent means anywhere")
    lead_time_days: Annotated[int, Field(ge=0, le=365)] | None = None
    transit_days: dict[Destination, DayRange] | None = Field(
        None, description='[min, max] days in transit per destination country, "*" for the rest '
                          '(default [5, 10]); with the lead time it gives delivery estimates')
    stale_after_hours: Annotated[float, Field(gt=0)] | None = None
    feed: dict[str, Any] | None = Field(None, description="a feed spec: format, delimiter, encoding, mapping")
    feed_max_error_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    feed_min_share: Annotated[float, Field(ge=0, le=1)] | None = None
    feed_source: FeedSource | None = None
    category_rules: list[Any] | dict[str, Any] | None = None
    images: dict[str, Any] | None = None
    ack_hours: Annotated[float, Field(gt=0)] | None = Field(
        None, description="an order not accepted (or, for suppliers that confirm later, not acknowledged) "
                          "within this many hours raises an alert (default 24)")
    feed_expected_hours: Annotated[float, Field(gt=0)] | None = Field(
        None, description="a feed with no applied run for this long is stale (default: twice the feed URL's "
                          "interval)")
    catalog_interval_seconds: Annotated[int, Field(ge=60)] | None = Field(
        None, description="how often the scheduler pulls an API supplier's stock and prices")
    timeout: Annotated[float, Field(gt=0, le=300)] | None = Field(None, description="HTTP timeout, seconds")
    unpaid_alert_hours: Annotated[float, Field(gt=0, le=720)] | None = Field(
        None, description="alert when an order still waits for payment at the supplier this long (default 24)")
    inbox_cursor: str | None = None  # state: where the next collection from its mailbox or folder starts
    invoice_tolerance: Amount | None = Field(
        None, description="an invoiced unit price (or charge) this far from what we expected is still matched "
                          "(in the supplier's currency; default 0)")
    invoice_tolerance_percent: Percent | None = Field(
        None, description="the same as a percent of what we expected; a line within either tolerance matches")
    billing_lag_days: Annotated[int, Field(ge=0, le=365)] | None = Field(
        None, description="a shipped line not invoiced this many days after shipping is flagged (default 30)")
    invoice_wait_hours: Annotated[float, Field(ge=0, le=720)] | None = Field(
        None, description="an invoice that arrives by itself (EDI 810, API) before the shipment it bills waits this "
                          "long for it before it is reconciled (default 24)")
    invoice_columns: dict[str, str] | None = Field(
        None, description="invoice CSV/XLSX header for each field: invoice, reference, order, sku, quantity, "
                          "unit_price, amount, kind, currency, date, description")
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] | None = Field(
        None, description="net days: an invoice is due this many days after its date (default 30)")
    charges_balance: bool | None = Field(
        None, description="the supplier charges a balance we keep with it (CJ, AliExpress, Printful): each order's "
                          "charge is recorded in payables, paid, or open while the order waits for payment")
    pay_at_placement: bool | None = Field(
        None, description="paid up front: what an order costs is owed when it is placed, due at once")
    iban: Annotated[str, Field(min_length=15, max_length=34, pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]+$")] | None = \
        Field(None, description="the supplier's bank account, for SEPA credit transfers in `payables batch`")
    bic: Annotated[str, Field(pattern=r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")] | None = None
    account_name: Annotated[str, Field(min_length=1, max_length=70)] | None = Field(
        None, description="the account holder's name (default: the supplier's name)")


class PackingSlip(Model):
    """White-label packing slips: what the parcel says instead of the supplier's name (never prices)."""

    store_name: Annotated[str, Field(max_length=200)] | None = None
    logo_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://")] | None = None
    message: Annotated[str, Field(max_length=1000)] | None = None


class StoreConfig(Model):
    """Keys every store understands (README: store --config)."""

    currency: CurrencyCode | None = None
    payment_fee_percent: Percent | None = Field(None, description="the payment gateway's percent of the charge")
    payment_fee_fixed: Amount | None = Field(None, description="the payment gateway's fixed fee per order")
    platform_fee_percent: Percent | None = Field(
        None, description="the store platform's transaction fee, percent of the charge (ledger: platform_fee)")
    platform_fee_fixed: Amount | None = Field(None, description="the platform's fixed fee per order")
    commission_percent: Percent | None = Field(
        None, description="a marketplace's commission on net revenue, tax excluded (ledger: commission)")
    commission_fixed: Amount | None = Field(None, description="a marketplace's fixed commission per order")
    taxes_included: bool | None = Field(
        None, description="prices include tax (VAT, JCT) when the platform does not say so on the order")
    pricing: dict[str, Any] | None = Field(None, description="markup_percent, ending, min_margin_percent, ...")
    routing: dict[str, Any] | None = Field(None, description="pins, exclude, priority, margin_floor_percent, ...")
    timeout: Annotated[float, Field(gt=0, le=300)] | None = None
    last_order_pull_at: str | None = None  # state: written by the periodic order pull
    packing_slip: PackingSlip | None = Field(
        None, description="store_name, logo_url, message: the packing slip suppliers put in the parcel")
    dropped_variants: Literal["zero", "hide", "archive"] | None = Field(
        None, description="a variant the supplier dropped: zero stock (default), hidden, or archived")
    delivery_country: CountryCode | None = Field(
        None, description="the destination whose delivery window (lead time + transit days) is pushed to the "
                          "store's variants; without it the suppliers' \"*\" transit")


