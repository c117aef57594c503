"""The records dropbridge keeps. Plain dataclasses; `storage` maps them to tables.

Money fields are stored as integer minor units (`*_minor`) beside a currency code; use the `Money`
accessors rather than the raw integers in business code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .money import Money

entity = dataclass(kw_only=True, eq=False)


@entity
class Store:
    id: int | None = None
    name: str
    platform: str  # headless | shopify | woocommerce | bigcommerce
    base_url: str = ""
    credentials: bytes | None = None  # Fernet ciphertext, never plain
    config: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@entity
class Supplier:
    id: int | None = None
    name: str
    kind: str  # rest | csv | printful | ...
    base_url: str = ""
    credentials: bytes | None = None
    config: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@entity
class Product:
    id: int | None = None
    sku: str
    title: str = ""
    description: str = ""
    created_at: datetime | None = None
    # Catalog import (services/import_catalog.py); all optional.
    description_html: str | None = None  # sanitised HTML; `description` holds its plain text
    brand: str | None = None
    category: str | None = None  # ours, from the supplier's category mapping rules
    supplier_category: str | None = None  # as the supplier wrote it
    option_names: list[str] | None = None  # ["Size", "Color"], in display order
    supplier_id: int | None = None  # the supplier whose feed created it: only its feed rewrites content
    updated_at: datetime | None = None


@entity
class Variant:
    id: int | None = None
    product_id: int | None = None
    sku: str
    title: str = ""
    gtin: str | None = None
    # Catalog import; all optional.
    options: dict[str, str] | None = None  # {"Size": "M", "Color": "Black"}
    position: int | None = None  # order within its product
    mpn: str | None = None
    msrp_minor: int | None = None
    map_minor: int | None = None
    currency: str | None = None  # of msrp_minor and map_minor
    weight: str | None = None  # decimal text, in weight_unit
    weight_unit: str | None = None
    status: str | None = None  # the supplier's status text (active, discontinued, ...)
    low_stock_threshold: int | None = None  # alert at or below this many units to promise; None: the default


@entity
class VariantSource:
    """Which variant a supplier SKU describes, and how that was decided (created, sku, gtin)."""

    id: int | None = None
    supplier_id: int
    supplier_sku: str
    variant_id: int
    matched_by: str  # created | sku | gtin
    gtin: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    content_hash: int | None = None  # of the catalog content the row last had; None: always re-imported


@entity
class CatalogImage:
    """A stored image file, content-addressed: `sha256` of the stored bytes names the file."""

    id: int | None = None
    source_sha256: str  # of the downloaded bytes: the deduplication key, with `profile`
    profile: str  # how it was processed (size, format, watermark); another profile is another file
    sha256: str
    path: str  # relative to data_dir / "images"
    format: str  # jpeg | webp
    width: int
    height: int
    size_bytes: int
    created_at: datetime | None = None


@entity
class ProductImage:
    id: int | None = None
    product_id: int
    image_id: int
    variant_id: int | None = None  # None: the whole product's image
    supplier_id: int | None = None
    position: int = 0
    source_url: str | None = None


@entity
class SupplierOffer:
    id: int | None = None
    supplier_id: int
    supplier_sku: str
    variant_id: int | None = None
    cost_minor: int
    currency: str
    stock: int
    reserved: int = 0  # held by orders the feed has not reflected yet
    lead_time_days: int | None = None
    ships_from: str | None = None
    as_of: datetime | None = None
    updated_at: datetime | None = None
    # What the supplier last said the SKU is (domain/drift.py): checked on every feed or catalog pull.
    gtin: str | None = None
    parent_sku: str | None = None
    options: str | None = None
    # Set when the supplier stated another identity for the SKU: no routing, nothing promised, until a
    # person confirms or remaps. `drift` is {field: [mapped value, value now stated]}.
    quarantined_at: datetime | None = None
    drift: dict[str, Any] | None = None
    # Set while the SKU is missing from the supplier's full feeds: the supplier no longer lists it (dropped).
    absent_since: datetime | None = None

    @property
    def cost(self) -> Money:
        return Money(self.cost_minor, self.currency)

    @property
    def quarantined(self) -> bool:
        return self.quarantined_at is not None


@entity
class Listing:
    id: int | None = None
    store_id: int
    variant_id: int
    external_product_id: str | None = None
    external_variant_id: str | None = None
    price_minor: int | None = None
    currency: str | None = None
    pushed_stock: int | None = None
    pushed_at: datetime | None = None
    compare_at_minor: int | None = None  # the compare-at ("was") price the store shows, when there is one
    external_inventory_id: str | None = None  # the store's inventory id when not the variant's (push_stock)
    delivery_pushed: str | None = None  # the delivery window pushed to the store ("5-12" days)
    stock_due: int | None = None  # marks of a stock push owed since the last push looked (push_stock)


@entity
class PriceChange:
    """A listing's price re-computed from its cost and the store's rules: pushed at once (`ready`), or
    waiting for a person (`pending`, with the guard's reason) until approved or rejected. Kept as history;
    its id keys the push that carries it."""

    id: int | None = None
    store_id: int
    listing_id: int
    currency: str
    new_price_minor: int
    new_compare_minor: int | None = None
    old_price_minor: int | None = None
    old_compare_minor: int | None = None
    cost_minor: int | None = None  # the landed cost it was computed from, in the store's currency
    status: str = "ready"  # ready | pending | approved | rejected | pushed | superseded | failed
    reason: str | None = None
    created_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    pushed_at: datetime | None = None


@entity
class OrderLine:
    id: int | None = None
    order_id: int | None = None
    line_no: int
    external_id: str | None = None
    sku: str
    variant_id: int | None = None
    quantity: int
    unit_price_minor: int
    status: str = "pending"
    offer_id: int | None = None
    routing: dict[str, Any] | None = None  # the decision: every candidate, its score and reason


@entity
class Order:
    id: int | None = None
    store_id: int
    external_id: str
    idempotency_key: str | None = None
    request_hash: str | None = None
    intake_response: dict[str, Any] | None = None
    currency: str
    status: str = "accepted"
    email: str | None = None
    ship_to: dict[str, Any] = field(default_factory=dict)
    shipping_price_minor: int = 0
    hold_reason: str | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    fx: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    lines: list[OrderLine] = field(default_factory=list)


@entity
class Reservation:
    id: int | None = None
    offer_id: int
    order_line_id: int
    quantity: int
    status: str = "held"  # held | released | settled
    created_at: datetime | None = None


@entity
class SupplierOrderLine:
    id: int | None = None
    supplier_order_id: int | None = None
    order_line_id: int
    supplier_sku: str
    quantity: int
    unit_cost_minor: int
    currency: str


@entity
class SupplierOrder:
    id: int | None = None
    supplier_id: int
    order_id: int
    idempotency_key: str
    status: str = "pending"
    external_id: str | None = None
    shipping_cost_minor: int = 0
    currency: str
    last_error: str | None = None
    submitted_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    placement: str = "accepted"  # accepted | awaiting_ack | awaiting_payment
    acknowledged_at: datetime | None = None
    shipping_method: str | None = None
    stated_cost_minor: int | None = None  # what the supplier says it will charge for the goods
    stated_shipping_minor: int | None = None
    stated_currency: str | None = None
    resend_allowed: bool = False
    # The supplier's system confirmed receipt of what we sent (EDI 997), before any decision on the order.
    receipt_confirmed_at: datetime | None = None
    receipt_overdue_alerted_at: datetime | None = None  # alerted once: no receipt within the supplier's hours
    lines: list[SupplierOrderLine] = field(default_factory=list)


@entity
class Shipment:
    id: int | None = None
    supplier_order_id: int
    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)  # [{order_line_id, quantity}]
    shipped_at: datetime | None = None
    pushed_at: datetime | None = None  # when the store accepted the fulfillment
    created_at: datetime | None = None
    hold_reason: str | None = None  # not pushed to the store (a tracking number that fails its check digit)


@entity
class LedgerEntry:
    id: int | None = None
    order_id: int
    order_line_id: int | None = None
    store_id: int
    supplier_id: int | None = None
    kind: str
    amount_minor: int  # signed: revenue positive, costs negative
    currency: str
    memo: str = ""
    created_at: datetime | None = None

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


@entity
class SyncRun:
    id: int | None = None
    supplier_id: int
    source: str
    mode: str = "full"  # full | delta
    status: str = "running"  # running | applied | quarantined | failed
    rows_read: int = 0
    changed: int = 0
    unchanged: int = 0
    zeroed: int = 0
    rejected: int = 0
    report: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None


@entity
class Alert:
    id: int | None = None
    kind: str
    severity: str = "warning"
    message: str
    store_id: int | None = None
    supplier_id: int | None = None
    order_id: int | None = None
    created_at: datetime | None = None
    resolved_at: datetime | None = None
    dedupe_key: str | None = None  # the condition: one open alert per key
    occurrences: int = 1  # how often the condition was seen while this alert was open
    last_seen_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    resolution: str | None = None


@entity
class AlertRecipient:
    """Who hears about which alerts: by email or a signed webhook, at once or in a digest."""

    id: int | None = None
    name: str
    channel: str  # email | webhook
    target: str  # an email address, or a URL
    secret: bytes | None = None  # webhook signing secret (encrypted like credentials)
    kinds: list[str] = field(default_factory=lambda: ["*"])  # patterns: "*", "feed.*", "order.unroutable"
    min_severity: str = "info"  # info | warning | error
    schedule: str = "immediate"  # immediate | hourly | daily
    active: bool = True
    created_at: datetime | None = None


@entity
class AlertDelivery:
    id: int | None = None
    alert_id: int
    recipient_id: int
    status: str = "pending"  # pending (a job sends it) | queued (for a digest) | sent | failed
    created_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None


@entity
class User:
    """A dashboard user. Roles: owner (everything, users and settings), staff (acts), viewer (sees)."""

    id: int | None = None
    email: str
    password_hash: str
    role: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_login_at: datetime | None = None


@entity
class UserSession:
    id: int | None = None
    token_hash: str
    user_id: int
    created_at: datetime | None = None
    expires_at: datetime | None = None


@entity
class AuditEvent:
    id: int | None = None
    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None
    store_id: int | None = None
    supplier_id: int | None = None
    at: datetime | None = None


@entity
class WebhookEvent:
    id: int | None = None
    source: str  # "store:<name>" or "supplier:<name>"
    event_id: str
    topic: str = ""
    headers: dict[str, Any] = field(default_factory=dict)
    raw_body: bytes = b""
    status: str = "received"  # received | processed | failed
    received_at: datetime | None = None
    processed_at: datetime | None = None
    channel: str = "webhook"  # webhook | file | email | upload


@entity
class SupplierInvoice:
    id: int | None = None
    supplier_id: int
    number: str
    currency: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    total_minor: int | None = None
    issued_at: datetime | None = None
    source: str = ""
    received_at: datetime | None = None
    reconciled_at: datetime | None = None


@entity
class PrintFile:
    """A design a print-on-demand supplier prints on every order line of a SKU."""

    id: int | None = None
    sku: str
    placement: str
    url: str
    technique: str | None = None
    created_at: datetime | None = None


@entity
class ApiToken:
    id: int | None = None
    name: str
    token_hash: str
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    scopes: list[str] = field(default_factory=lambda: ["admin"])
    stores: list[str] | None = None  # None: every store; else only these (and `suppliers`)
    suppliers: list[str] | None = None


@entity
class Job:
    """A unit of work owed to the outside world (transactional outbox)."""

    id: int | None = None
    kind: str
    key: str  # unique: the same work is never recorded twice
    payload: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"  # pending | in_flight | done | failed
    attempts: int = 0
    available_at: datetime | None = None
    lease_until: datetime | None = None
    claim: str | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
