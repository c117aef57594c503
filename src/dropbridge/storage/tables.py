"""The schema. Money is BIGINT minor units beside a currency code; every row says which store or
supplier it belongs to. Alembic migrations are generated from this metadata."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
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


def integers_only(*required: str, nullable: tuple[str, ...] = ()) -> list[CheckConstraint]:
    """SQLite keeps whatever an INTEGER column is given (a REAL 1e32, text): these columns refuse anything but
    integers there (migration 0005). PostgreSQL's BIGINT and INTEGER refuse it by themselves."""
    return [CheckConstraint(f"typeof({c}) = 'integer'", name=f"{c}_integer").ddl_if(dialect="sqlite")
            for c in required] + [
        CheckConstraint(f"typeof({c}) IN ('integer', 'null')", name=f"{c}_integer").ddl_if(dialect="sqlite")
        for c in nullable]


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
    Column("low_stock_threshold", Integer),  # alert below this many units to promise (None: the default)
    *integers_only(nullable=("msrp_minor", "map_minor")),
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
    # Hash of the catalog content the row last had (services/import_catalog.py): unchanged rows are skipped.
    Column("content_hash", BigInteger),
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
    # The identity the supplier states for the SKU, and a quarantine when it changed (domain/drift.py).
    Column("gtin", String(14)),
    Column("parent_sku", String(200)),
    Column("options", Text),
    Column("quarantined_at", UTCDateTime),
    Column("drift", JSON),
    # Since when the SKU is missing from the supplier's full feeds (cleared when it is listed again).
    Column("absent_since", UTCDateTime),
    UniqueConstraint("supplier_id", "supplier_sku"),
    *integers_only("cost_minor", "stock", "reserved", nullable=("lead_time_days",)),
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
    Column("compare_at_minor", BigInteger),
    Column("external_inventory_id", String(100)),  # Shopify inventory item, WooCommerce parent product
    Column("delivery_pushed", String(20)),  # the delivery window the store shows ("5-12" days), once pushed
    # A stock push is owed (its offers changed since the last push looked): a count of the marks, NULL when
    # none, so a push clears only the marks it saw (services/publish_listings.py push_stock).
    Column("stock_due", Integer),
    UniqueConstraint("store_id", "variant_id"),
    *integers_only(nullable=("price_minor", "pushed_stock", "compare_at_minor")),
)
# A feed run marks the listings of the offers it changed (storage/feed_stage.py) ...
Index("ix_listings_variant", listings.c.variant_id)
# ... and each store's push reads those few, not the whole store.
Index("ix_listings_stock_due", listings.c.store_id, sqlite_where=listings.c.stock_due.is_not(None),
      postgresql_where=listings.c.stock_due.is_not(None))

# Re-priced listings: pushed at once, or waiting for approval (services/reprice_listings.py).
price_changes = Table(
    "price_changes",
    metadata,
    pk(),
    fk("store_id", "stores"),
    fk("listing_id", "listings"),
    Column("currency", String(3), nullable=False),
    Column("new_price_minor", BigInteger, nullable=False),
    Column("new_compare_minor", BigInteger),
    Column("old_price_minor", BigInteger),
    Column("old_compare_minor", BigInteger),
    Column("cost_minor", BigInteger),
    Column("status", String(20), nullable=False),
    Column("reason", String(500)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    Column("decided_by", String(100)),
    Column("pushed_at", UTCDateTime),
    *integers_only("new_price_minor", nullable=("new_compare_minor", "old_price_minor", "old_compare_minor",
                                                "cost_minor")),
)
Index("ix_price_changes_store_status", price_changes.c.store_id, price_changes.c.status)
Index("ix_price_changes_listing", price_changes.c.listing_id)

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
    *integers_only("shipping_price_minor"),
)
Index("ix_orders_status", orders.c.status)
Index("ix_orders_created_at", orders.c.created_at)
Index("ix_orders_store_created", orders.c.store_id, orders.c.created_at)

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
    *integers_only("quantity", "unit_price_minor"),
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
    *integers_only("quantity"),
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
    # The supplier's system confirmed receipt (EDI 997); overdue receipts and acknowledgements alert once.
    Column("receipt_confirmed_at", UTCDateTime),
    Column("receipt_overdue_alerted_at", UTCDateTime),
    *integers_only("shipping_cost_minor", nullable=("stated_cost_minor", "stated_shipping_minor")),
)
Index("ix_supplier_orders_order", supplier_orders.c.order_id)
# Status, then age: "pending for over 15 minutes" without reading every order through the creation index.
Index("ix_supplier_orders_status_created", supplier_orders.c.status, supplier_orders.c.created_at)
# The vendor report reads supplier orders placed in a date range.
Index("ix_supplier_orders_created", supplier_orders.c.created_at)

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
    *integers_only("quantity", "unit_cost_minor"),
)
Index("ix_supplier_order_lines_supplier_order", supplier_order_lines.c.supplier_order_id)
Index("ix_supplier_order_lines_order_line", supplier_order_lines.c.order_line_id)

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
    Column("hold_reason", String(500)),  # held, not pushed: the tracking number failed its check
    UniqueConstraint("supplier_order_id", "tracking_number"),
)
# Tracking not yet at the store: a handful of rows among every shipment ever made.
Index("ix_shipments_unpushed", shipments.c.created_at, sqlite_where=shipments.c.pushed_at.is_(None),
      postgresql_where=shipments.c.pushed_at.is_(None))

# Lines a supplier refused (the whole order, or some lines of it): partly refused lines leave their supplier
# order, so this is the record a fill rate counts them from (storage/vendor_queries.py).
supplier_line_refusals = Table(
    "supplier_line_refusals",
    metadata,
    pk(),
    fk("supplier_order_id", "supplier_orders"),
    fk("supplier_id", "suppliers"),
    fk("order_line_id", "order_lines"),
    Column("supplier_sku", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("reason", String(300), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_supplier_line_refusals_supplier_order", supplier_line_refusals.c.supplier_order_id)

# A shipment the merchant says arrived wrong: a wrong item, an item missing, or damaged (`orders report-defect`).
shipment_defects = Table(
    "shipment_defects",
    metadata,
    pk(),
    fk("order_id", "orders"),
    fk("supplier_id", "suppliers"),
    fk("shipment_id", "shipments"),
    Column("kind", String(20), nullable=False),  # wrong_item | missing_item | damaged
    Column("note", String(1000), nullable=False, default=""),
    Column("reported_by", String(100), nullable=False),
    Column("reported_at", UTCDateTime, nullable=False),
)
Index("ix_shipment_defects_supplier_reported", shipment_defects.c.supplier_id, shipment_defects.c.reported_at)

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
    *integers_only("amount_minor"),
)
Index("ix_ledger_entries_order", ledger_entries.c.order_id)
# Margins over a date range read only this index (a covering index: no table row is visited).
Index("ix_ledger_entries_created_cover", ledger_entries.c.created_at, ledger_entries.c.store_id,
      ledger_entries.c.supplier_id, ledger_entries.c.kind, ledger_entries.c.currency, ledger_entries.c.amount_minor,
      ledger_entries.c.order_line_id)

# Margin reports read closed days from here: the sums of each day's ledger entries by store, supplier (0 for
# none), kind and currency, written once the day is over (entries are append-only and dated when written, so
# a closed day's sums never change; deleting these rows only makes them be computed again).
ledger_daily = Table(
    "ledger_daily",
    metadata,
    pk(),
    Column("day", String(10), nullable=False),
    Column("store_id", Id, nullable=False),
    Column("supplier_id", Id, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("entries", Integer, nullable=False),
    UniqueConstraint("day", "store_id", "supplier_id", "kind", "currency"),
    *integers_only("amount_minor"),
)

# Which closed days ledger_daily holds (a day without entries has no rows there, but is still done).
ledger_daily_days = Table(
    "ledger_daily_days",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("entries", Integer, nullable=False),
    Column("rolled_at", UTCDateTime, nullable=False),
)

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
Index("ix_sync_runs_supplier", sync_runs.c.supplier_id, sync_runs.c.id)

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
    # One open alert per condition: raising it again while open counts an occurrence instead.
    Column("dedupe_key", String(300)),
    Column("occurrences", Integer, nullable=False, default=1),
    Column("last_seen_at", UTCDateTime),
    Column("acknowledged_at", UTCDateTime),
    Column("acknowledged_by", String(320)),
    Column("resolved_by", String(320)),
    Column("resolution", String(500)),
)
Index("uq_alerts_open_dedupe_key", alerts.c.dedupe_key, unique=True,
      sqlite_where=alerts.c.resolved_at.is_(None), postgresql_where=alerts.c.resolved_at.is_(None))
Index("ix_alerts_open_kind", alerts.c.kind,
      sqlite_where=alerts.c.resolved_at.is_(None), postgresql_where=alerts.c.resolved_at.is_(None))
Index("ix_alerts_order", alerts.c.order_id)

# Who hears about which alerts, and how: email or a signed webhook, at once or in an hourly/daily digest.
alert_recipients = Table(
    "alert_recipients",
    metadata,
    pk(),
    Column("name", String(100), nullable=False, unique=True),
    Column("channel", String(20), nullable=False),  # email | webhook
    Column("target", String(1000), nullable=False),  # an address, or a URL
    Column("secret", LargeBinary),  # webhook signing secret, encrypted like credentials
    Column("kinds", JSON, nullable=False, default=list),  # ["*"], ["feed.*", "order.unroutable"]
    Column("min_severity", String(20), nullable=False, default="info"),
    Column("schedule", String(10), nullable=False, default="immediate"),  # immediate | hourly | daily
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per alert and recipient: the record that it was (or is yet to be) delivered, exactly once.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    pk(),
    fk("alert_id", "alerts", ondelete="CASCADE"),
    fk("recipient_id", "alert_recipients", ondelete="CASCADE"),
    Column("status", String(20), nullable=False),  # pending | queued (digest) | sent | failed
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("last_error", Text),
    UniqueConstraint("alert_id", "recipient_id"),
)
Index("ix_alert_deliveries_recipient_status", alert_deliveries.c.recipient_id, alert_deliveries.c.status)

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
Index("ix_audit_events_subject", audit_events.c.subject)

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
    Column("reconciled_at", UTCDateTime),  # matched against orders and shipments (services/reconcile_invoice.py)
    UniqueConstraint("supplier_id", "number"),
    *integers_only(nullable=("total_minor",)),
)

# What reconciliation found, one row per invoice line (key "inv:<invoice id>:<line no>") or per supplier-order
# line shipped and never billed ("unbilled:<supplier order line id>"): written once, never rewritten, so a
# re-import changes nothing. A discrepancy carries a dispute status (open | claimed | credited | written_off).
invoice_results = Table(
    "invoice_results",
    metadata,
    pk(),
    Column("key", String(200), nullable=False, unique=True),
    fk("supplier_id", "suppliers"),
    fk("invoice_id", "supplier_invoices", nullable=True),
    Column("line_no", Integer),
    fk("supplier_order_id", "supplier_orders", nullable=True),
    fk("order_line_id", "order_lines", nullable=True),
    Column("kind", String(20), nullable=False),  # item | shipping | fee | tax | discount
    # matched | price_mismatch | over_billed | not_shipped | not_billed | duplicate | charge_mismatch | unmatched
    # | noted (tax, discount: carried, not checked)
    Column("outcome", String(30), nullable=False),
    Column("supplier_sku", String(200)),
    Column("quantity_billed", Integer),
    Column("quantity_expected", Integer),
    Column("currency", String(3), nullable=False),
    Column("billed_minor", BigInteger, nullable=False),  # what the line bills (0 for not_billed)
    Column("expected_minor", BigInteger),  # what we expected for it (None: nothing to expect)
    Column("accepted_minor", BigInteger, nullable=False),  # what we agree we owe for it
    Column("detail", String(500), nullable=False, default=""),
    Column("month", String(7), nullable=False),  # YYYY-MM of the invoice (or of when found unbilled)
    Column("dispute", String(20)),  # None for a clean line
    Column("dispute_note", String(500)),
    Column("dispute_by", String(100)),
    Column("dispute_updated_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    *integers_only("billed_minor", "accepted_minor", nullable=("expected_minor",)),
)
Index("ix_invoice_results_supplier_month", invoice_results.c.supplier_id, invoice_results.c.month)
Index("ix_invoice_results_supplier_order", invoice_results.c.supplier_order_id)

# A batch of payables paid together (a CSV and, where the supplier has bank details, a SEPA credit transfer).
payment_batches = Table(
    "payment_batches",
    metadata,
    pk(),
    Column("currency", String(3), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("payables", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # exported | paid
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime),
    *integers_only("total_minor"),
)

# What we owe suppliers: at placement (suppliers paid up front), from reconciled invoices (what we accept of
# them), and corrections (an invoice after an up-front payment, a dispute written off). Written once per key.
payables = Table(
    "payables",
    metadata,
    pk(),
    Column("key", String(200), nullable=False, unique=True),
    fk("supplier_id", "suppliers"),
    Column("source", String(20), nullable=False),  # placement | invoice | dispute
    fk("invoice_id", "supplier_invoices", nullable=True),
    fk("supplier_order_id", "supplier_orders", nullable=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due_on", String(10), nullable=False),  # YYYY-MM-DD
    Column("status", String(20), nullable=False),  # open | batched | paid
    fk("batch_id", "payment_batches", nullable=True),
    Column("memo", String(500), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime),
    Column("paid_reference", String(200)),
    *integers_only("amount_minor"),
)
Index("ix_payables_supplier_status", payables.c.supplier_id, payables.c.status, payables.c.due_on)

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

# Numbers that must never repeat per trading partner (EDI ISA13, GS06, ST02): each is allocated in its own
# committed transaction before the document using it is written, so a crash never reuses one.
control_numbers = Table(
    "control_numbers",
    metadata,
    pk(),
    Column("owner", String(50), nullable=False),  # "supplier:7"
    Column("kind", String(20), nullable=False),  # interchange | group | transaction
    Column("number", BigInteger, nullable=False),
    Column("reference", String(200)),  # what it was allocated for (our supplier-order key, a 997 name)
    Column("allocated_at", UTCDateTime, nullable=False),
    UniqueConstraint("owner", "kind", "number"),
)
Index("ix_control_numbers_reference", control_numbers.c.owner, control_numbers.c.reference)

api_tokens = Table(
    "api_tokens",
    metadata,
    pk(),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("scopes", JSON, nullable=False, default=list),  # read, orders:write, feeds:write, admin
    Column("stores", JSON),  # null: every store and supplier; else only the named ones (with `suppliers`)
    Column("suppliers", JSON),
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


# Dashboard users: argon2 password hashes, a role each (owner | staff | viewer).
users = Table(
    "users",
    metadata,
    pk(),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
)

# A signed cookie names one of these (by the hash of its random id), so logging out, a new password or a
# removed user ends the session at once.
user_sessions = Table(
    "user_sessions",
    metadata,
    pk(),
    Column("token_hash", String(64), nullable=False, unique=True),
    fk("user_id", "users", ondelete="CASCADE"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
Index("ix_user_sessions_user", user_sessions.c.user_id)

# Failed logins, counted per account and per address for the rate limit.
login_attempts = Table(
    "login_attempts",
    metadata,
    pk(),
    Column("email", String(320), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
Index("ix_login_attempts_email_at", login_attempts.c.email, login_attempts.c.at)
Index("ix_login_attempts_address_at", login_attempts.c.address, login_attempts.c.at)
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
