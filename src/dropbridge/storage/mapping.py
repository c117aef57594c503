"""Maps the domain dataclasses onto the tables (SQLAlchemy imperative mapping), so the domain stays
free of persistence code. Called once by bootstrap; safe to call again."""

from __future__ import annotations

from sqlalchemy.orm import registry, relationship

from dropbridge.domain import model as m

from . import tables as t

mapper_registry = registry(metadata=t.metadata)
_mapped = False


def map_domain() -> None:
    global _mapped
    if _mapped:
        return
    mr = mapper_registry
    mr.map_imperatively(m.Store, t.stores)
    mr.map_imperatively(m.Supplier, t.suppliers)
    mr.map_imperatively(m.Product, t.products)
    mr.map_imperatively(m.Variant, t.variants)
    mr.map_imperatively(m.SupplierOffer, t.supplier_offers)
    mr.map_imperatively(m.Listing, t.listings)
    mr.map_imperatively(m.PriceChange, t.price_changes)
    mr.map_imperatively(m.OrderLine, t.order_lines)
    mr.map_imperatively(
        m.Order,
        t.orders,
        properties={
            "lines": relationship(
                m.OrderLine, order_by=t.order_lines.c.line_no, cascade="all, delete-orphan", lazy="selectin"
            )
        },
    )
    mr.map_imperatively(m.Reservation, t.reservations)
    mr.map_imperatively(m.SupplierOrderLine, t.supplier_order_lines)
    mr.map_imperatively(
        m.SupplierOrder,
        t.supplier_orders,
        properties={
            "lines": relationship(
                m.SupplierOrderLine,
                order_by=t.supplier_order_lines.c.id,
                cascade="all, delete-orphan",
                lazy="selectin",
            )
        },
    )
    mr.map_imperatively(m.Shipment, t.shipments)
    mr.map_imperatively(m.LedgerEntry, t.ledger_entries)
    mr.map_imperatively(m.SyncRun, t.sync_runs)
    mr.map_imperatively(m.Alert, t.alerts)
    mr.map_imperatively(m.AuditEvent, t.audit_events)
    mr.map_imperatively(m.WebhookEvent, t.webhook_events)
    mr.map_imperatively(m.SupplierInvoice, t.supplier_invoices)
    mr.map_imperatively(m.PrintFile, t.print_files)
    mr.map_imperatively(m.ApiToken, t.api_tokens)
    mr.map_imperatively(m.Job, t.jobs)
    mr.map_imperatively(m.VariantSource, t.variant_sources)
    mr.map_imperatively(m.CatalogImage, t.catalog_images)
    mr.map_imperatively(m.ProductImage, t.product_images)
    mr.map_imperatively(m.AlertRecipient, t.alert_recipients)
    mr.map_imperatively(m.AlertDelivery, t.alert_deliveries)
    mr.map_imperatively(m.User, t.users)
    mr.map_imperatively(m.UserSession, t.user_sessions)
    mr.configure()
    _mapped = True
