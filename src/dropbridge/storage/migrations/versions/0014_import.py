"""Catalog import at bulk speed: each supplier SKU keeps a hash of the catalog content its row last had, so a
re-sync skips rows whose content did not change.

Revision ID: 0014_import
Revises: 0013_vendors
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_import"
down_revision = "0013_vendors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("variant_sources") as batch:
        batch.add_column(sa.Column("content_hash", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("variant_sources") as batch:
        batch.drop_column("content_hash")
