"""Listings remember the store's inventory id of their variant (Shopify's inventory item, WooCommerce's parent
product), as the publish learnt it: a stock push then needs no lookup per variant first (Shopify's lookup costs
two throttle points a variant, more than the push itself).

Revision ID: 0017_benches
Revises: 0016_money
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_benches"
down_revision = "0016_money"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("external_inventory_id", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("external_inventory_id")
