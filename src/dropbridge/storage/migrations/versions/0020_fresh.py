"""Stock pushes owed per listing: a feed run marks the listings of the offers it changed, so each store's
push reads those rows instead of every listing of the store (services/publish_listings.py push_stock).

Revision ID: 0020_fresh
Revises: 0019_absent
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_fresh"
down_revision = "0019_absent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("stock_due", sa.Integer))
    op.create_index("ix_listings_variant", "listings", ["variant_id"])
    op.create_index("ix_listings_stock_due", "listings", ["store_id"], sqlite_where=sa.text("stock_due IS NOT NULL"),
                    postgresql_where=sa.text("stock_due IS NOT NULL"))
    # Whatever a push of the old code still owed is not known: the first push after the upgrade looks at all.
    op.execute("UPDATE listings SET stock_due = 1")


def downgrade() -> None:
    op.drop_index("ix_listings_stock_due", "listings")
    op.drop_index("ix_listings_variant", "listings")
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("stock_due")
