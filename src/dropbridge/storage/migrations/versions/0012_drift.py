"""Mapping drift: the identity a supplier states for each SKU (GTIN, parent SKU, options) on its offer, and a
quarantine when it changes (domain/drift.py)

Nullable columns: added in place on both databases, no table rebuilt. The GTIN is filled in from what the
catalog import recorded for the SKU; the parent and options are learnt from the next feed that states them.

Revision ID: 0012_drift
Revises: 0011_prices
"""

import sqlalchemy as sa
from alembic import op

from dropbridge.storage.types import UTCDateTime

revision = "0012_drift"
down_revision = "0011_prices"
branch_labels = None
depends_on = None

COLUMNS = ("gtin", "parent_sku", "options", "quarantined_at", "drift")


def upgrade() -> None:
    op.add_column("supplier_offers", sa.Column("gtin", sa.String(14)))
    op.add_column("supplier_offers", sa.Column("parent_sku", sa.String(200)))
    op.add_column("supplier_offers", sa.Column("options", sa.Text()))
    op.add_column("supplier_offers", sa.Column("quarantined_at", UTCDateTime(timezone=True)))
    op.add_column("supplier_offers", sa.Column("drift", sa.JSON()))
    op.execute("""
        UPDATE supplier_offers SET gtin = (
            SELECT vs.gtin FROM variant_sources vs
            WHERE vs.supplier_id = supplier_offers.supplier_id AND vs.supplier_sku = supplier_offers.supplier_sku)
        WHERE EXISTS (SELECT 1 FROM variant_sources vs
                      WHERE vs.supplier_id = supplier_offers.supplier_id
                        AND vs.supplier_sku = supplier_offers.supplier_sku AND vs.gtin IS NOT NULL)""")


def downgrade() -> None:
    with op.batch_alter_table("supplier_offers") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
