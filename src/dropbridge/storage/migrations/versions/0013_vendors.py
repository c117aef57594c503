"""Vendor performance: lines a supplier refused (partly refused lines leave their supplier order, so the fill
rate needs this record), shipments the merchant reports as wrong, missing an item or damaged, and an index
for reading supplier orders by the date they were placed.

Revision ID: 0013_vendors
Revises: 0012_drift
"""

import sqlalchemy as sa
from alembic import op

from dropbridge.storage.types import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0013_vendors"
down_revision = "0012_drift"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supplier_line_refusals",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("supplier_order_id", ID, nullable=False),
        sa.Column("supplier_id", ID, nullable=False),
        sa.Column("order_line_id", ID, nullable=False),
        sa.Column("supplier_sku", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["supplier_order_id"], ["supplier_orders.id"],
                                name=op.f("fk_supplier_line_refusals_supplier_order_id_supplier_orders")),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                                name=op.f("fk_supplier_line_refusals_supplier_id_suppliers")),
        sa.ForeignKeyConstraint(["order_line_id"], ["order_lines.id"],
                                name=op.f("fk_supplier_line_refusals_order_line_id_order_lines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_line_refusals")),
    )
    op.create_index("ix_supplier_line_refusals_supplier_order", "supplier_line_refusals", ["supplier_order_id"])
    op.create_table(
        "shipment_defects",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("supplier_id", ID, nullable=False),
        sa.Column("shipment_id", ID, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("reported_by", sa.String(100), nullable=False),
        sa.Column("reported_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_shipment_defects_order_id_orders")),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                                name=op.f("fk_shipment_defects_supplier_id_suppliers")),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"],
                                name=op.f("fk_shipment_defects_shipment_id_shipments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_defects")),
    )
    op.create_index("ix_shipment_defects_supplier_reported", "shipment_defects", ["supplier_id", "reported_at"])
    op.create_index("ix_supplier_orders_created", "supplier_orders", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_supplier_orders_created", table_name="supplier_orders")
    op.drop_index("ix_shipment_defects_supplier_reported", table_name="shipment_defects")
    op.drop_table("shipment_defects")
    op.drop_index("ix_supplier_line_refusals_supplier_order", table_name="supplier_line_refusals")
    op.drop_table("supplier_line_refusals")
