"""The schema. Money is BIGINT minor units beside a currency code; every row says which store or
supplier it belongs to. Alembic migrations are generated from this metadata."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from .types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT primary keys on PostgreSQL, INTEGER (rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


def pk() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def fk(name: str, target: str, *, nullable: bool = False, ondelete: str | None = None) -> Column:
    return Column(name, Id, ForeignKey(f"{target}.id", ondelete=ondelete), nullable=nullable)


stores = Table(
    "stores",
    metadata,
    pk(),
    Column("name", String(100), nullable=False, unique=True),
    Column("platform", String(30), nullable=False),
    Column("base_url", String(500), nullable=False, default=""),
    Column("credentials", LargeBinary),
    Column("config", JSON, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
)

suppliers = Table(
    "suppliers",
    metadata,
    pk(),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(30), nullable=False),
    Column("base_url", String(500), nullable=False, default=""),
    Column("credentials", LargeBinary),
    Column("config", JSON, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
)

products = Table(
    "products",
    metadata,
    pk(),
    Column("sku", String(200), nullable=False, unique=True),
    Column("title", String(500), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("description_html", Text),
    Column("brand", String(200)),
    Column("category", String(500)),
    Column("supplier_category", String(500)),
    Column("option_names", JSON),
    fk("supplier_id", "suppliers", nullable=True),
    Column("updated_at", UTCDateTime),
)

variants = Table(
    "variants",
    metadata,
    pk(),
    fk("product_id", "products", nullable=True),
    Column("sku", String(200), nullable=False, unique=True),
    Column("title", String(500), nullable=False, default=""),
    Column("gtin", String(14), index=True),
    Column("options", JSON),
    Column("position", Integer),
    Column("mpn", String(100)),
    Column("msrp_minor", BigInteger),
    Column("map_minor", BigInteger),
    Column("currency", String(3)),
    Column("weight", String(30)),
    Column("weight_unit", String(10)),
    Column("status", String(50)),
)
Index("ix_variants_product", variants.c.product_id)

# Catalog import: which variant each supplier SKU describes, and stored images with their links.
variant_sources = Table(
    "variant_sources",
    metadata,
    pk(),
    fk("supplier_id", "suppliers"),
    Column("supplier_sku", String(200), nullable=False),
    fk("variant_id", "variants"),
    Column("matched_by", String(10), nullable=False),
    Column("gtin", String(14)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("supplier_id", "supplier_sku"),
)
Index("ix_variant_sources_variant", variant_sources.c.variant_id)

catalog_images = Table(
    "catalog_images",
    metadata,
    pk(),
    Column("source_sha256", String(64), nullable=False),
    Column("profile", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path", String(300), nullable=False),
    Column("format", String(10), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("source_sha256", "profile"),
)
Index("ix_catalog_images_sha256", catalog_images.c.sha256)

# url -> content hash of what it served, so a URL is downloaded once (only successful fetches).
image_urls = Table(
    "image_urls",
    metadata,
    pk(),
    Column("url_sha256", String(64), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
)

product_images = Table(
    "product_images",
    metadata,
    pk(),
    fk("product_id", "products", ondelete="CASCADE"),
    fk("image_id", "catalog_images"),
    fk("variant_id", "variants", nullable=True, ondelete="SET NULL"),
    fk("supplier_id", "suppliers", nullable=True),
    Column("position", Integer, nullable=False, default=0),
    Column("source_url", Text),
    UniqueConstraint("product_id", "image_id"),
)

supplier_offers = Table(
    "supplier_offers",
    metadata,
    pk(),
    fk("supplier_id", "suppliers"),
    Column("supplier_sku", String(200), nullable=False),
    fk("variant_id", "variants", nullable=True),
    Column("cost_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("stock", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, default=0),
    Column("lead_time_days", Integer),
    Column("ships_from", String(2)),
    Column("as_of", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("supplier_id", "supplier_sku"),
)
Index("ix_supplier_offers_variant", supplier_offers.c.variant_id)

listings = Table(
    "listings",
    metadata,
    pk(),
    fk("store_id", "stores"),
    fk("variant_id", "variants"),
    Column("external_product_id", String(100)),
    Column("external_variant_id", String(100)),
    Column("price_minor", BigInteger),
    Column("currency", String(3)),
    Column("pushed_stock", Integer),
    Column("pushed_at", UTCDateTime),
    UniqueConstraint("store_id", "variant_id"),
)

orders = Table(
    "orders",
    metadata,
    pk(),
    fk("store_id", "stores"),
    Column("external_id", String(100), nullable=False),
    Column("idempotency_key", String(200)),
    Column("request_hash", String(64)),
    Column("intake_response", JSON),
    Column("currency", String(3), nullable=False),
    Column("status", String(30), nullable=False),
    Column("email", String(320)),
    Column("ship_to", JSON, nullable=False, default=dict),
    Column("shipping_price_minor", BigInteger, nullable=False, default=0),
    Column("hold_reason", String(500)),
    Column("flags", JSON, nullable=False, default=dict),  # merchant overrides, e.g. accept_low_margin
    Column("fx", JSON, nullable=False, default=dict),  # rates used: {"EUR->USD": {"rate", "source"}}
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("store_id", "external_id"),
    UniqueConstraint("store_id", "idempotency_key"),
)
Index("ix_orders_status", orders.c.status)

order_lines = Table(
    "order_lines",
    metadata,
    pk(),
    fk("order_id", "orders", ondelete="CASCADE"),
    Column("line_no", Integer, nullable=False),
    Column("external_id", String(100)),
    Column("sku", String(200), nullable=False),
    fk("variant_id", "variants", nullable=True),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("status", String(30), nullable=False),
    fk("offer_id", "supplier_offers", nullable=True),
    Column("routing", JSON),
    UniqueConstraint("order_id", "line_no"),
)

reservations = Table(
    "reservations",
    metadata,
    pk(),
    fk("offer_id", "supplier_offers"),
    fk("order_line_id", "order_lines"),
    Column("quantity", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_reservations_offer_status", reservations.c.offer_id, reservations.c.status)

supplier_orders = Table(
    "supplier_orders",
    metadata,
    pk(),
    fk("supplier_id", "suppliers"),
    fk("order_id", "orders"),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("status", String(30), nullable=False),
    Column("external_id", String(100)),
    Column("shipping_cost_minor", BigInteger, nullable=False, default=0),
    Column("currency", String(3), nullable=False),
    Column("last_error", Text),
    Column("submitted_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # accepted | awaiting_ack | awaiting_payment: what the supplier said when it took the order
    Column("placement", String(20), nullable=False, default="accepted", server_default="accepted"),
    Column("acknowledged_at", UTCDateTime),
    Column("shipping_method", String(100)),
    # What the supplier says it will charge (at placement or later), beside our estimate from routing.
    Column("stated_cost_minor", BigInteger),
    Column("stated_shipping_minor", BigInteger),
    Column("stated_currency", String(3)),
    # The merchant confirmed an attempt whose outcome the supplier cannot tell us never arrived: send again.
    Column("resend_allowed", Boolean, nullable=False, default=False, server_default=false()),
    # When the merchant was told the order still waits for payment at the supplier (told once).
    Column("payment_alerted_at", UTCDateTime),
)
Index("ix_supplier_orders_order", supplier_orders.c.order_id)
Index("ix_supplier_orders_status", supplier_orders.c.status)

supplier_order_lines = Table(
    "supplier_order_lines",
    metadata,
    pk(),
    fk("supplier_order_id", "supplier_orders", ondelete="CASCADE"),
    fk("order_line_id", "order_lines"),
    Column("supplier_sku", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_cost_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
)

shipments = Table(
    "shipments",
    metadata,
    pk(),
    fk("supplier_order_id", "supplier_orders"),
    Column("carrier", String(100), nullable=False),
    Column("tracking_number", String(100), nullable=False),
    Column("tracking_url", String(1000)),
    Column("lines", JSON, nullable=False, default=list),
    Column("shipped_at", UTCDateTime),
    Column("pushed_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("supplier_order_id", "tracking_number"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    pk(),
    fk("order_id", "orders"),
    fk("order_line_id", "order_lines", nullable=True),
    fk("store_id", "stores"),
    fk("supplier_id", "suppliers", nullable=True),
    Column("kind", String(30), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("memo", String(500), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_ledger_entries_order", ledger_entries.c.order_id)

sync_runs = Table(
    "sync_runs",
    metadata,
    pk(),
    fk("supplier_id", "suppliers"),
    Column("source", String(1000), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("changed", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("zeroed", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("report", JSON, nullable=False, default=dict),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
)

sync_run_rejects = Table(
    "sync_run_rejects",
    metadata,
    pk(),
    fk("sync_run_id", "sync_runs", ondelete="CASCADE"),
    Column("line", Integer, nullable=False),
    Column("field", String(100)),
    Column("reason", String(500), nullable=False),
    Column("raw", Text),
)
Index("ix_sync_run_rejects_run", sync_run_rejects.c.sync_run_id)

alerts = Table(
    "alerts",
    metadata,
    pk(),
    Column("kind", String(50), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("message", Text, nullable=False),
    fk("store_id", "stores", nullable=True),
    fk("supplier_id", "suppliers", nullable=True),
    fk("order_id", "orders", nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
)

audit_events = Table(
    "audit_events",
    metadata,
    pk(),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
    Column("correlation_id", String(64)),
    fk("store_id", "stores", nullable=True),
    fk("supplier_id", "suppliers", nullable=True),
)
Index("ix_audit_events_at", audit_events.c.at)

webhook_events = Table(
    "webhook_events",
    metadata,
    pk(),
    Column("source", String(150), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("topic", String(100), nullable=False, default=""),
    Column("headers", JSON, nullable=False, default=dict),
    Column("raw_body", LargeBinary, nullable=False),
    Column("status", String(20), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime),
    # how it came: webhook | file | email | upload (the inbox holds every kind of inbound traffic)
    Column("channel", String(20), nullable=False, default="webhook", server_default="webhook"),
    UniqueConstraint("source", "event_id"),
)

supplier_invoices = Table(
    "supplier_invoices",
    metadata,
    pk(),
    fk("supplier_id", "suppliers"),
    Column("number", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total_minor", BigInteger),
    Column("issued_at", UTCDateTime),
    Column("lines", JSON, nullable=False, default=list),  # [{supplier_sku, quantity, unit_price_minor, ...}]
    Column("source", String(100), nullable=False, default=""),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("supplier_id", "number"),
)

print_files = Table(
    "print_files",
    metadata,
    pk(),
    Column("sku", String(200), nullable=False),
    Column("placement", String(50), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("technique", String(50)),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("sku", "placement"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    pk(),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
)

fx_rates = Table(
    "fx_rates",
    metadata,
    pk(),
    Column("base", String(3), nullable=False),
    Column("quote", String(3), nullable=False),
    Column("rate", String(40), nullable=False),  # a Decimal as text: exact on every database
    Column("source", String(200), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
    UniqueConstraint("base", "quote", "as_of"),
)

jobs = Table(
    "jobs",
    metadata,
    pk(),
    Column("kind", String(50), nullable=False),
    Column("key", String(200), nullable=False, unique=True),
    Column("payload", JSON, nullable=False, default=dict),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("available_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("claim", String(40)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_jobs_status_available", jobs.c.status, jobs.c.available_at)

# Secrets a connector obtains at run time (an access token bought with the API key, its refresh token),
# encrypted by the vault like the credentials they come from; one row per (owner, name).
connector_secrets = Table(
    "connector_secrets",
    metadata,
    pk(),
    Column("owner", String(100), nullable=False),  # "supplier:7"
    Column("name", String(100), nullable=False),  # "access_token"
    Column("secret", LargeBinary),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("owner", "name"),
)
