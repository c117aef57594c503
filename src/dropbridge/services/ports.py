"""The boundary between dropbridge and the platforms: the data types that cross it, the capability
protocols connectors implement, and the facts inbound traffic is parsed into. Services depend on these;
connectors implement them; nothing here knows a vendor.

Vendor field names never appear here; each connector's `mapping.py` translates to and from these.
Every write carries an idempotency key derived from our own ids. A connector declares which capabilities it
has in the registry; services ask for a capability (`Capability.ORDERS`) and get the protocol for it, never
probing with getattr.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
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
    discount: Money | None = None  # total discount on the line, as the platform allocated it
    tax: Money | None = None  # tax on the line (after its discount)


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
    # Whether line prices and shipping_price include the tax in `tax` / `total_tax` (VAT, JCT); None: the
    # platform does not say, the store's `taxes_included` setting decides.
    taxes_included: bool | None = None
    # Refunds the store has made on the order so far (platforms that report them on the order).
    refunds: tuple[ExternalRefund, ...] = ()


@dataclass(frozen=True, slots=True)
class ExternalRefundLine:
    """Part of a refund the platform ties to one order line: `amount` as the platform states it (tax
    included when the order's prices include tax), `tax` the tax refunded on it where the platform says."""

    line_external_id: str
    quantity: int
    amount: Money
    tax: Money | None = None


@dataclass(frozen=True, slots=True)
class ExternalRefund:
    """Money a store returned to the customer on an order, as the platform reports it. `external_id` is the
    platform's refund id (each is recorded once). `lines`: the parts tied to a line; `shipping` (and its
    `shipping_tax`): shipping refunded; `other` (and `other_tax`): refunded on the order as a whole, no line
    named (an amount typed in, a discrepancy). Amounts are positive."""

    external_id: str
    order_external_id: str
    currency: str
    lines: tuple[ExternalRefundLine, ...] = ()
    shipping: Money | None = None
    shipping_tax: Money | None = None
    other: Money | None = None
    other_tax: Money | None = None
    reason: str = ""
    created_at: datetime | None = None
    taxes_included: bool | None = None


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """Something a platform sent us, verified and stored raw in the inbox: a webhook, a file from a server,
    an email, an upload. `event_id` is the de-duplication key within its source; `payload` is the decoded
    JSON where there is one, `raw_body` the bytes as received (files and emails are parsed from it)."""

    event_id: str
    topic: str
    payload: Any
    occurred_at: datetime | None = None
    raw_body: bytes = b""
    channel: str = "webhook"  # webhook | file | email | upload
    keep: bool = True  # False: a platform's handshake (a ping) that carries nothing; answered, never stored


@dataclass(frozen=True, slots=True)
class StockUpdate:
    external_variant_id: str
    sku: str
    quantity: int
    external_inventory_id: str | None = None  # Shopify inventory item, when different from the variant
    external_product_id: str | None = None  # the parent, where a platform writes variants per product


@dataclass(frozen=True, slots=True)
class PriceUpdate:
    """A variant's new selling price and compare-at ("was") price; None clears the compare-at price."""

    external_variant_id: str
    sku: str
    price: Money
    compare_at_price: Money | None = None
    external_product_id: str | None = None  # the parent where a platform updates variants per product


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
class ImageFile:
    """A processed catalog image (resized, watermarked, in the data directory) for platforms that take uploads;
    `read()` gives its bytes when the connector sends them, `url` where dropbridge serves it (None: no public
    URL is configured)."""

    name: str  # "<sha256>.jpg"
    content_type: str
    read: Callable[[], bytes]
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ProductDraft:
    sku: str  # our parent SKU, used as the product's handle/reference
    title: str
    description_html: str = ""
    images: list[str] = field(default_factory=list)  # public URLs
    variants: list[ProductVariantDraft] = field(default_factory=list)
    vendor: str = ""
    category: str | None = None  # ours (catalog category rules), "Apparel > Tees"; each platform maps it
    # The processed images, when the catalog import stored them: a platform with an upload path of its own sends
    # these instead of `images` (which then are their public URLs, or the supplier's originals without one).
    image_files: list[ImageFile] = field(default_factory=list)


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

    def webhook_body_limit(self, headers: Mapping[str, str]) -> int | None:
        """Before the body is read: raise WebhookRejected when the headers cannot belong to a signed delivery;
        else the most bytes the body may have (None: the server's limit)."""

    def order_from_event(self, event: InboundEvent) -> ExternalOrder | None:
        """The order an event is about (fetching it when the payload is thin), or None if not an order."""

    def fetch_orders(self, cursor: str | None = None, since: datetime | None = None) -> Page[ExternalOrder]:
        """Recent orders, for the periodic pull that catches missed webhooks."""

    def push_stock(self, updates: list[StockUpdate], idempotency_key: str) -> PushResult: ...

    def push_fulfillment(self, fulfillment: Fulfillment, idempotency_key: str) -> str:
        """Create a fulfillment with tracking (customer notified); return the store's fulfillment id."""

    def publish_product(self, product: ProductDraft, idempotency_key: str) -> PublishedProduct: ...

    def subscribe_webhooks(self, uri: str) -> list[str]:
        """Ask the platform to send its order events to `uri`; the subscription ids ([] where a platform
        has nothing to subscribe: a headless store calls our API)."""


class Capability(StrEnum):
    """What a connector can do. Stores and suppliers share the vocabulary; each registered connector
    declares its set, and that set alone decides what dropbridge asks of it."""

    CATALOG = "catalog"  # supplier: pages of offers with product data; store: publish products
    STOCK = "stock"  # supplier: stock and prices; store: take stock pushes
    ORDERS = "orders"  # supplier: take orders (an order desk); store: report orders
    CANCEL = "cancel"
    TRACKING = "tracking"  # supplier: tracking by poll; store: take fulfillments with tracking
    SHIPPING_QUOTE = "shipping_quote"
    INVOICES = "invoices"
    WEBHOOKS = "webhooks"  # sends us events (verified on receipt)
    PRICES = "prices"  # store: take price updates for listed variants (PriceWriter)
    STOCK_READ = "stock_read"  # store: read its stock levels back (StockReader)
    VARIANTS = "variants"  # store: add, retire and rename variants of a published product (VariantWriter)
    DELIVERY = "delivery"  # store: show listed variants' delivery windows in a field or metafield (DeliveryWriter)


# What every storefront does (the Storefront protocol): report orders, take stock, publish products, take
# fulfillments with tracking, and send us signed events.
STOREFRONT_CAPABILITIES = frozenset({Capability.ORDERS, Capability.STOCK, Capability.CATALOG, Capability.TRACKING,
                                     Capability.WEBHOOKS})


@runtime_checkable
class PriceWriter(Protocol):
    """Capability.PRICES: set listed variants' prices (and compare-at prices), batched to the platform's limit
    within its rate budget. Prices are absolute, so repeating a push is harmless."""

    def push_prices(self, updates: list[PriceUpdate], idempotency_key: str) -> PushResult: ...


@runtime_checkable
class StockReader(Protocol):
    """A store whose stock levels can be read back (the periodic reconciliation compares them with what we
    promise); stores without it are compared against what we last pushed."""

    def read_stock(self, external_variant_ids: list[str]) -> dict[str, int]:
        """Available quantity per variant at the location we push to; variants it cannot find are absent."""


@dataclass(frozen=True, slots=True)
class LiveVariant:
    """A variant as the store has it now."""

    external_variant_id: str
    sku: str
    options: dict[str, str] = field(default_factory=dict)
    retired: bool = False  # hidden or archived by us (or the merchant): not for sale


@dataclass(frozen=True, slots=True)
class LiveProduct:
    external_product_id: str
    title: str
    variants: list[LiveVariant]
    retired: bool = False  # the whole product archived or hidden
    categories: list[str] = field(default_factory=list)  # names the product is filed under (Shopify: its type)


class DroppedVariants(StrEnum):
    """What a store does with a variant the supplier dropped (store setting `dropped_variants`); its stock goes
    to zero in every case, and it is never deleted (orders and listings still name it)."""

    ZERO = "zero"  # zero stock only: still shown, sold out
    HIDE = "hide"  # also taken off sale (each platform's own switch)
    ARCHIVE = "archive"  # hidden, and the product archived once every variant is dropped


@dataclass(frozen=True, slots=True)
class VariantChanges:
    """What one published product needs to follow its supplier: variants to add (with price and stock), variants
    to rename in place (new option values), variants to retire or bring back, and the product's title."""

    external_product_id: str
    product: ProductDraft  # the product as we would publish it now (title, category, every live variant)
    add: list[ProductVariantDraft] = field(default_factory=list)
    rename: list[tuple[str, ProductVariantDraft]] = field(default_factory=list)  # (store variant id, wanted)
    retire: list[str] = field(default_factory=list)  # store variant ids
    restore: list[str] = field(default_factory=list)  # store variant ids retired earlier, offered again
    dropped: DroppedVariants = DroppedVariants.ZERO
    retire_product: bool = False  # ARCHIVE and every variant is dropped: archive the product
    restore_product: bool = False  # the product was archived and a variant is offered again
    retitle: bool = False  # set the product's title to product.title
    recategorize: bool = False  # file the product under product.category (created when missing)


@runtime_checkable
class VariantWriter(Protocol):
    """Capability.VARIANTS: change a published product's variants without deleting or recreating live ones (a
    live variant's id is what listings and open orders name)."""

    def read_product(self, external_product_id: str) -> LiveProduct | None:
        """The product and its variants as the store has them; None when the store no longer has it."""

    def apply_variant_changes(self, changes: VariantChanges, idempotency_key: str) -> dict[str, str]:
        """Apply them; returns our SKU -> store variant id for the variants added. Raises PermanentError when
        the store refuses."""


DELIVERY_NAMESPACE = "dropbridge"  # where the delivery window is kept on each platform (metafield/meta key)
DELIVERY_KEY = "delivery_days"


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """A listed variant's delivery window in calendar days (placing the supplier order to arrival)."""

    external_variant_id: str
    external_product_id: str | None
    sku: str
    earliest_days: int
    latest_days: int

    @property
    def value(self) -> str:
        """As every platform stores it: "5-12" (a single line of text a theme can show as it is)."""
        return f"{self.earliest_days}-{self.latest_days}"


@runtime_checkable
class DeliveryWriter(Protocol):
    """Capability.DELIVERY: write delivery windows where the platform keeps custom data on a variant (Shopify
    metafields, WooCommerce meta_data, BigCommerce metafields), namespace DELIVERY_NAMESPACE, key DELIVERY_KEY,
    batched to the platform's limit. Values are absolute, so repeating a push is harmless."""

    def push_delivery(self, updates: list[DeliveryUpdate], idempotency_key: str) -> PushResult: ...


# Which protocol a store connector must implement for each capability beyond the Storefront protocol.
STORE_PORTS: dict[Capability, type] = {
    Capability.PRICES: PriceWriter,
    Capability.STOCK_READ: StockReader,
    Capability.VARIANTS: VariantWriter,
    Capability.DELIVERY: DeliveryWriter,
}


# ---- the supplier side: orders ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SupplierOrderItem:
    supplier_sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PrintFile:
    """A design a print-on-demand supplier prints on an item (attached by the merchant to a SKU)."""

    placement: str  # "front", "back", "sleeve_left", ...
    url: str
    technique: str | None = None  # "dtg", "embroidery", ...


@dataclass(frozen=True, slots=True)
class Branding:
    """White-label shipping: what the parcel says instead of the supplier's name (no prices)."""

    store_name: str = ""
    logo_url: str | None = None
    message: str = ""
    customer_order_number: str = ""


@dataclass(frozen=True, slots=True)
class SupplierOrderLineRequest:
    supplier_sku: str
    quantity: int
    unit_cost: Money | None = None  # what we expect to pay per unit (for documents that state it)
    title: str = ""
    print_files: tuple[PrintFile, ...] = ()
    line_ref: str = ""  # our order-line id as text: lets an acknowledgement name the line


@dataclass(frozen=True, slots=True)
class SupplierOrderRequest:
    reference: str  # our idempotency key: travels to the supplier's external-reference field
    ship_to: Address
    items: list[SupplierOrderItem]
    email: str | None = None
    shipping_method: str | None = None  # a method a shipping quote named, when routing chose one
    lines: tuple[SupplierOrderLineRequest, ...] = ()  # the items with what richer suppliers need
    branding: Branding | None = None
    currency: str | None = None  # the currency our expected costs are in


class Placement(StrEnum):
    ACCEPTED = "accepted"  # the supplier has the order
    AWAITING_ACK = "awaiting_ack"  # sent; the supplier confirms later (EDI 855, an email reply)
    AWAITING_PAYMENT = "awaiting_payment"  # created, but the supplier waits for payment before acting
    AWAITING_PERSON = "awaiting_person"  # in our purchase-order queue: a person orders it by hand (manual)


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    external_id: str
    reference: str
    status: str  # the supplier's word, for the record
    cost: Money | None = None  # what the supplier says it will charge, when it says
    placement: Placement = Placement.ACCEPTED
    shipping_cost: Money | None = None


class CannotKnow:
    """`find_order`'s answer when the supplier cannot be asked (email, EDI before its 855): never a reason to
    send again on our own; the merchant is alerted instead."""

    _instance: CannotKnow | None = None

    def __new__(cls):  # one value, compared with `is`
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "CANNOT_KNOW"


CANNOT_KNOW = CannotKnow()


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
class ShippingQuoteRequest:
    items: tuple[SupplierOrderItem, ...]
    country_code: str
    postal_code: str = ""
    province_code: str = ""
    currency: str | None = None  # the currency wanted, where the platform can answer in it
    city: str = ""  # some platforms want the street and city too (Printful's rates do)
    address1: str = ""


@dataclass(frozen=True, slots=True)
class ShippingOption:
    method: str  # the platform's id for it, passed back on the order
    name: str
    cost: Money
    min_days: int | None = None
    max_days: int | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    supplier_sku: str | None
    quantity: int
    unit_price: Money
    reference: str | None = None  # our supplier-order key, where the invoice names it
    external_order_id: str | None = None
    kind: str = "item"  # item | shipping | fee | tax | discount
    description: str = ""


@dataclass(frozen=True, slots=True)
class SupplierInvoice:
    number: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    issued_at: datetime | None = None
    total: Money | None = None


# ---- the supplier side: offers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferRow:
    """One supplier SKU as a feed or API reports it. `catalog` carries product data when the source has it
    (title, parent_sku, options, images, description, category, gtin), as feed rows do."""

    supplier_sku: str
    stock: int
    cost: Money | None  # None: the source states stock only (an 846 without a cost price); our cost is kept
    lead_time_days: int | None = None
    gtin: str | None = None
    catalog: dict[str, Any] | None = None
    ships_from: str | None = None


# ---- facts: what inbound traffic means -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderReported:
    """A store reports an order (new or updated)."""

    order: ExternalOrder


@dataclass(frozen=True, slots=True)
class RefundReported:
    """A store refunded (part of) an order."""

    refund: ExternalRefund


@dataclass(frozen=True, slots=True)
class OrderCancelledInStore:
    external_id: str


@dataclass(frozen=True, slots=True)
class LineDecision:
    supplier_sku: str
    quantity: int
    status: str  # accepted | rejected | backordered
    reason: str = ""
    line_ref: str = ""


@dataclass(frozen=True, slots=True)
class OrderAcknowledged:
    """The supplier accepted (all or some lines of) a supplier order it was sent (EDI 855, email reply,
    an order status that moved past review)."""

    reference: str
    external_id: str = ""
    lines: tuple[LineDecision, ...] = ()  # empty: the whole order accepted as sent
    cost: Money | None = None


@dataclass(frozen=True, slots=True)
class ReceiptConfirmed:
    """The supplier's system confirmed it received what we sent (an EDI 997 accepting our 850), before any
    decision on the order itself."""

    reference: str
    document: str = ""  # what was received, e.g. "850"
    external_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderFailed:
    """The supplier will not fulfil the order (a 997 rejecting the 850, an order failed or cancelled)."""

    reference: str
    reason: str
    external_id: str = ""


@dataclass(frozen=True, slots=True)
class ShipmentReported:
    update: TrackingUpdate


@dataclass(frozen=True, slots=True)
class CostReported:
    """What the supplier now says an order costs (computed after placement, e.g. Printful's costs)."""

    reference: str
    cost: Money
    shipping_cost: Money | None = None
    external_id: str = ""


@dataclass(frozen=True, slots=True)
class InvoiceReported:
    invoice: SupplierInvoice


@dataclass(frozen=True, slots=True)
class OffersReported:
    rows: tuple[OfferRow, ...]
    full: bool = False  # a full snapshot: SKUs absent from it are out of stock


@dataclass(frozen=True, slots=True)
class AcknowledgementNeeded:
    """We owe the sender an acknowledgement of a document (an EDI 997 for every functional group)."""

    document: bytes
    name: str


@dataclass(frozen=True, slots=True)
class Unrecognised:
    """Inbound traffic that says nothing we understand: kept, and a person is alerted."""

    reason: str


Fact = (OrderReported | OrderCancelledInStore | RefundReported | OrderAcknowledged | ReceiptConfirmed | OrderFailed
        | ShipmentReported | CostReported | InvoiceReported | OffersReported | AcknowledgementNeeded | Unrecognised)


# ---- capability protocols ----------------------------------------------------------------------------------


# `verify_webhook` finds the request's query string under this key of its headers: a name no HTTP header can
# have (so a sender cannot forge it), for platforms that sign nothing and are authenticated by a secret in the
# callback URL they were given.
REQUEST_QUERY = ":query"


@runtime_checkable
class InboundSource(Protocol):
    """Capability.WEBHOOKS (and anything that sends us files or emails): verify, then parse into facts."""

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        """Check the signature exactly as the platform signs; raise WebhookRejected otherwise."""

    def facts_from_event(self, event: InboundEvent) -> list[Fact]:
        """What a stored event means. Raises ValidationError when the payload can never be understood."""


@runtime_checkable
class OfferSource(Protocol):
    """Capability.CATALOG / STOCK for an API supplier: its catalog, stock and prices, in pages."""

    def fetch_offers(self, cursor: str | None = None) -> Page[OfferRow]: ...


@runtime_checkable
class OrderDesk(Protocol):
    """Capability.ORDERS: take an order carrying our reference; say whether an earlier attempt landed."""

    def place_order(self, request: SupplierOrderRequest) -> PlacedOrder:
        """Send the order. Raises RetryableError when the outcome is unknown (timeout, 5xx), PermanentError
        (OutOfStock) when the supplier refuses it."""

    def find_order(self, reference: str) -> PlacedOrder | None | CannotKnow:
        """Look our earlier attempt up by its reference: the order, None (it never landed), or CANNOT_KNOW."""


@runtime_checkable
class Cancellation(Protocol):
    """Capability.CANCEL."""

    def cancel_order(self, external_order_id: str) -> PlacedOrder:
        """Cancel before shipping; raises PermanentError when the supplier no longer can."""


@runtime_checkable
class TrackingSource(Protocol):
    """Capability.TRACKING: poll an order for shipments."""

    def fetch_tracking(self, external_order_id: str, reference: str) -> list[TrackingUpdate]: ...


@runtime_checkable
class ShippingQuoter(Protocol):
    """Capability.SHIPPING_QUOTE: what shipping costs, at routing time, for landed cost."""

    def quote_shipping(self, request: ShippingQuoteRequest) -> list[ShippingOption]: ...


@runtime_checkable
class InvoiceSource(Protocol):
    """Capability.INVOICES: what the supplier bills for an order."""

    def fetch_invoice(self, external_order_id: str, reference: str) -> SupplierInvoice | None: ...


@dataclass(frozen=True, slots=True)
class CollectedDocument:
    """A document a supplier left for us (an email in a mailbox, a file on a server), as collected."""

    event_id: str  # its de-duplication key within the supplier (a Message-ID, a file name and checksum)
    topic: str  # what it is, for the record ("email", "856")
    raw_body: bytes
    channel: str = "email"  # email | file
    headers: dict[str, str] = field(default_factory=dict)  # a few, for the record (from, subject, date)
    handle: str = ""  # the source's own name for it (an IMAP UID, a remote path), for `collected`


@dataclass(frozen=True, slots=True)
class Collection:
    documents: list[CollectedDocument]
    cursor: str | None  # where the next collection starts (opaque; kept by dropbridge between polls)


@runtime_checkable
class DocumentSource(Protocol):
    """A supplier whose documents we collect on a schedule (`ConnectorSpec(mailbox=True)`): a mail box, files in
    an SFTP folder or a mounted VAN mailbox. Each is stored raw in the inbox before anything parses it
    (InboundSource.facts_from_event does that, from the stored copy)."""

    def collect(self, cursor: str | None, limit: int) -> Collection:
        """Documents that arrived since `cursor` (None: from the beginning), at most `limit`."""

    def collected(self, documents: list[CollectedDocument]) -> None:
        """They are stored: mark them read or move them to an archive, as the source does."""


@runtime_checkable
class Acknowledger(Protocol):
    """A supplier whose documents we must acknowledge (EDI: a 997 for every functional group received)."""

    def send_acknowledgement(self, document: bytes, name: str) -> None: ...


# Which protocol a supplier connector must implement for each capability it declares.
SUPPLIER_PORTS: dict[Capability, type] = {
    Capability.CATALOG: OfferSource,
    Capability.STOCK: OfferSource,
    Capability.ORDERS: OrderDesk,
    Capability.CANCEL: Cancellation,
    Capability.TRACKING: TrackingSource,
    Capability.SHIPPING_QUOTE: ShippingQuoter,
    Capability.INVOICES: InvoiceSource,
    Capability.WEBHOOKS: InboundSource,
}


# ---- the registry, as services see it ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KindInfo:
    """A registered store platform or supplier kind, as `dropbridge connectors` shows it."""

    name: str
    role: str  # store | supplier
    capabilities: frozenset[Capability]
    credentials: tuple[str, ...]  # required keys
    optional_credentials: tuple[str, ...]
    config_schema: dict[str, Any]  # JSON Schema of its config
    needs_url: bool
    summary: str = ""
    offers_by_feed: bool = False  # its catalog and stock come as feed files, not an API pull
    mailbox: bool = False  # it leaves documents for the scheduler to collect (DocumentSource)

    def has(self, capability: Capability) -> bool:
        return capability in self.capabilities


class ConnectorDirectory(Protocol):
    """The connector registry, behind the services' back: what kinds exist, what each can do, whether a
    connection's settings are valid, and the connector for a stored connection."""

    def kinds(self, role: str) -> list[KindInfo]: ...

    def info(self, role: str, kind: str) -> KindInfo:
        """Raises ValidationError (field "kind"/"platform") for a kind that is not registered."""

    def validate(self, role: str, kind: str, base_url: str, credentials: Mapping[str, Any],
                 config: Mapping[str, Any]) -> dict[str, Any]:
        """The config as the kind's model reads it (defaults not filled in); raises ValidationError naming
        the first wrong key: unknown, wrong type, or a missing credential."""

    def build(self, role: str, kind: str, base_url: str, credentials: Mapping[str, Any],
              config: Mapping[str, Any], services: ConnectorServices | None = None) -> Any: ...


class ControlNumbers(Protocol):
    """Numbers a connector must never use twice for one partner (EDI ISA13/GS06/ST02), persisted: each
    allocation is committed before the caller writes the document that carries it, so even a crash right
    after never hands the same number out again. Gaps are allowed; reuse never."""

    def allocate(self, owner: str, kind: str, reference: str = "", *, start: int = 1,
                 maximum: int = 999_999_999) -> int:
        """The next number of `kind` for `owner` (at least `start`), recorded with what it is for."""

    def reference_of(self, owner: str, kind: str, number: int) -> str | None:
        """What a number was allocated for (a 997 names our group number: which order was it?)."""

    def numbers_for(self, owner: str, reference: str) -> list[tuple[str, int]]:
        """Every (kind, number) allocated for a reference, oldest first."""


@dataclass(frozen=True)
class ConnectorServices:
    """What dropbridge lends a connector that declares it needs more than its settings
    (`ConnectorSpec(wants_services=True)`): whose connector it is, persisted control numbers, a store for secrets
    it obtains at run time."""

    owner: str  # "supplier:7"
    control_numbers: ControlNumbers | None = None
    clock: Callable[[], datetime] | None = None
    # What the connector obtains at run time (access tokens, renewed refresh tokens), kept encrypted for every
    # process of the deployment.
    secrets: SecretStore | None = None


# ---- storage and secrets, as services see them -------------------------------------------------------------


class UnitOfWorkFactory(Protocol):
    """`with ctx.uow() as uow:` one transaction with the repositories; `ctx.uow.lean()` the insert-only hot
    path; `ctx.uow.feed_stage()` a bulk staging area for one feed run. Storage translates its integrity
    errors into `domain.errors.Conflict`, so services never see the database's exceptions."""

    def __call__(self, read_only: bool = False) -> AbstractContextManager[Any]: ...

    def lean(self) -> AbstractContextManager[Any]: ...

    def feed_stage(self) -> Any: ...


class SecretStore(Protocol):
    """Secrets a connector obtains at run time and must keep across processes and restarts (an access token
    bought with the API key, which the platform sells only so often): stored encrypted, like credentials."""

    def load(self) -> dict:
        """What is stored ({} when nothing is)."""

    def update(self, change: Callable[[dict], dict | None]) -> dict:
        """Read the stored value with every other writer kept out, and store `change(current)` unless it is
        None; returns what is stored afterwards. Keep `change` quick and free of network calls."""


class SecretVault(Protocol):
    """Credentials at rest, each bound to its owner ("store:3", "supplier:7")."""

    def encrypt(self, owner: str, data: dict) -> bytes: ...

    def decrypt(self, owner: str, blob: bytes | None) -> dict: ...


def decimal_money(value: str | int | float | Decimal, currency: str, field_name: str | None = None) -> Money:
    """Platform JSON prices are decimal strings; never go through float."""
    if isinstance(value, float):
        value = repr(value)
    return Money.parse(value, currency, field=field_name)


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One alert, or a digest of several, as it leaves dropbridge."""

    subject: str
    text: str
    payload: dict[str, Any]  # the JSON a webhook receives
    message_id: str  # stable per delivery: receivers can drop a repeat


class AlertEmail(Protocol):
    def send(self, to: str, message: AlertMessage) -> None:
        """Deliver by SMTP; raise RetryableError when the server cannot be reached or refuses for now."""


class AlertWebhook(Protocol):
    def post(self, url: str, secret: str | None, message: AlertMessage) -> None:
        """POST the payload signed with HMAC-SHA256 over the body; raise RetryableError on 5xx, timeouts or
        a receiver that is down, PermanentError on a 4xx refusal."""
