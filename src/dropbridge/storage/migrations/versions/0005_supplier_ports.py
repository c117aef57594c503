"""The supplier side by capability: how a supplier took an order and what it says it costs, an inbox for
every channel, supplier invoices, print files; supplier kinds renamed to the registry's names

Revision ID: 0005_supplier_ports
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from dropbridge.storage.types import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0005_supplier_ports"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("supplier_orders") as batch:
        batch.add_column(sa.Column("placement", sa.String(20), nullable=False, server_default="accepted"))
        batch.add_column(sa.Column("acknowledged_at", UTCDateTime(timezone=True)))
        batch.add_column(sa.Column("shipping_method", sa.String(100)))
        batch.add_column(sa.Column("stated_cost_minor", sa.BigInteger()))
        batch.add_column(sa.Column("stated_shipping_minor", sa.BigInteger()))
        batch.add_column(sa.Column("stated_currency", sa.String(3)))
        batch.add_column(sa.Column("resend_allowed", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("channel", sa.String(20), nullable=False, server_default="webhook"))
    op.create_table(
        "supplier_invoices",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("supplier_id", ID, nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger()),
        sa.Column("issued_at", UTCDateTime(timezone=True)),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                                name=op.f("fk_supplier_invoices_supplier_id_suppliers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_invoices")),
        sa.UniqueConstraint("supplier_id", "number", name=op.f("uq_supplier_invoices_supplier_id_number")),
    )
    op.create_table(
        "print_files",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(200), nullable=False),
        sa.Column("placement", sa.String(50), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("technique", sa.String(50)),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_files")),
        sa.UniqueConstraint("sku", "placement", name=op.f("uq_print_files_sku_placement")),
    )
    # Kinds that were accepted before the registry existed, under the names it knows them by.
    op.execute("UPDATE suppliers SET kind = 'feed' WHERE kind = 'csv'")
    op.execute("UPDATE suppliers SET kind = 'edi_x12' WHERE kind = 'edi'")


def downgrade() -> None:
    op.execute("UPDATE suppliers SET kind = 'edi' WHERE kind = 'edi_x12'")
    op.execute("UPDATE suppliers SET kind = 'csv' WHERE kind = 'feed'")
    op.drop_table("print_files")
    op.drop_table("supplier_invoices")
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("channel")
    with op.batch_alter_table("supplier_orders") as batch:
        for name in ("resend_allowed", "stated_currency", "stated_shipping_minor", "stated_cost_minor", "shipping_method",
                     "acknowledged_at", "placement"):
            batch.drop_column(name)
