"""The boundary between dropbridge and the platforms: protocols and the data types that cross them.

Vendor field names never appear here; each connector's `mapping.py` translates to and from these.
Every write carries an idempotency key derived from our own ids; `Supplier.find_order` answers
"did my earlier attempt land?" after a timeout or crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from dropbridge.domain.money import Money

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None  # opaque; None when there is no further page


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    address1: str
    city: str
    country_code: str  # ISO 3166-1 alpha-2
    postal_code: str = ""
    address2: str = ""
    province_code: str = ""
    company: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class ExternalOrderLine:
    external_id: str
    sku: str
    quantity: int
    unit_price: Money
    title: str = ""
    external_variant_id: str | None = None
    discount: Money | None = None  # total discount on the line
    tax: Money | None = None


@dataclass(frozen=True, slots=True)
class ExternalOrder:
    """An order as a store reports it, already translated to our vocabulary."""

    external_id: str
    currency: str
    lines: list[ExternalOrderLine]
    ship_to: Address | None
    number: str = ""
    email: str | None = None
    shipping_price: Money | None = None
    total_tax: Money | None = None
    total_discounts: Money | None = None
    total_price: Money | None = None
    financial_status: str | None = None
    cancelled: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A verified webhook: `event_id` is the platform's de-duplication key."""

    event_id: str
    topic: str
    payload: Any
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StockUpdate:
    external_variant_id: str
    sku: str
    quantity: int
    external_inventory_id: str | None = None  # Shopify inventory item, when different from the variant


@dataclass(frozen=True, slots=True)
class PushResult:
    calls: int
    applied: int
    failed: list[tuple[str, str]] = field(default_factory=list)  # (external_variant_id, reason)


@dataclass(frozen=True, slots=True)
class FulfillmentLine:
    external_line_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Fulfillment:
    order_external_id: str
    carrier: str
    tracking_number: str
    tracking_url: str | None
    lines: list[FulfillmentLine]
    notify_customer: bool = True


@dataclass(frozen=True, slots=True)
class ProductVariantDraft:
    sku: str
    price: Money
    options: dict[str, str] = field(default_factory=dict)  # {"Size": "M", "Color": "Black"}
    compare_at_price: Money | None = None
    barcode: str | None = None
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class ProductDraft:
    sku: str  # our parent SKU, used as the product's handle/reference
    title: str
    description_html: str = ""
    images: list[str] = field(default_factory=list)  # public URLs
    variants: list[ProductVariantDraft] = field(default_factory=list)
    vendor: str = ""


@dataclass(frozen=True, slots=True)
class PublishedProduct:
    external_product_id: str
    variant_ids: dict[str, str]  # our SKU -> the store's variant id
    inventory_ids: dict[str, str] = field(default_factory=dict)  # our SKU -> inventory item id, if any


@runtime_checkable
class Storefront(Protocol):
    platform: str

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        """Check the signature exactly as the platform signs; raise WebhookRejected otherwise."""

    def order_from_event(self, event: InboundEvent) -> ExternalOrder | None:
        """The order an event is about (fetching it when the payload is thin), or None if not an order."""

    def fetch_orders(self, cursor: str | None = None, since: datetime | None = None) -> Page[ExternalOrder]:
        """Recent orders, for the periodic pull that catches missed webhooks."""

    def push_stock(self, updates: list[StockUpdate], idempotency_key: str) -> PushResult: ...

    def push_fulfillment(self, fulfillment: Fulfillment, idempotency_key: str) -> str:
        """Create a fulfillment with tracking (customer notified); return the store's fulfillment id."""

    def publish_product(self, product: ProductDraft, idempotency_key: str) -> PublishedProduct: ...


@runtime_checkable
class StockReader(Protocol):
    """A store whose stock levels can be read back (the periodic reconciliation compares them with what we
    promise); stores without it are compared against what we last pushed."""

    def read_stock(self, external_variant_ids: list[str]) -> dict[str, int]:
        """Available quantity per variant at the location we push to; variants it cannot find are absent."""


@dataclass(frozen=True, slots=True)
class SupplierOrderItem:
    supplier_sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class SupplierOrderRequest:
    reference: str  # our idempotency key: travels to the supplier's external-reference field
    ship_to: Address
    items: list[SupplierOrderItem]
    email: str | None = None
    shipping_method: str | None = None


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    external_id: str
    reference: str
    status: str  # the supplier's word, for the record
    cost: Money | None = None  # what the supplier says it will charge, when it says


@dataclass(frozen=True, slots=True)
class TrackingUpdate:
    reference: str  # our supplier-order key
    external_order_id: str
    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    shipped_at: datetime | None = None
    items: list[SupplierOrderItem] = field(default_factory=list)  # empty means the whole order


@dataclass(frozen=True, slots=True)
class OfferRow:
    """One supplier SKU as a feed or API reports it."""

    supplier_sku: str
    stock: int
    cost: Money
    lead_time_days: int | None = None
    gtin: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Supplier(Protocol):
    kind: str

    def place_order(self, request: SupplierOrderRequest) -> PlacedOrder:
        """Send the order. Raises RetryableError when the outcome is unknown (timeout, 5xx)."""

    def find_order(self, reference: str) -> PlacedOrder | None:
        """Look our earlier attempt up by its reference; None means it never landed."""

    def fetch_tracking(self, external_order_id: str, reference: str) -> list[TrackingUpdate]: ...

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent: ...

    def tracking_from_event(self, event: InboundEvent) -> list[TrackingUpdate]: ...


def decimal_money(value: str | int | float | Decimal, currency: str, field_name: str | None = None) -> Money:
    """Platform JSON prices are decimal strings; never go through float."""
    if isinstance(value, float):
        value = repr(value)
    return Money.parse(value, currency, field=field_name)
