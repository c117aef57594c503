"""Delivery windows pushed to stores: what each listing's store field holds (services/push_delivery.py), so
only windows that changed are pushed again.

Revision ID: 0018_estimates
Revises: 0017_benches
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_estimates"
down_revision = "0017_benches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("delivery_pushed", sa.String(20)))


def downgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("delivery_pushed")
