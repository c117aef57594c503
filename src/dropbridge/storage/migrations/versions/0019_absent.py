"""A SKU absent from its supplier's full feed: when it went missing, on its offer (storage/feed_stage.py sets it,
the SKU's return clears it), so that a variant no supplier lists any more is treated as dropped
(services/follow_variants.py) rather than only zeroed.

A nullable column: added in place on both databases, no table rebuilt. Offers absent before this revision are
marked by the next full feed that still lacks them.

Revision ID: 0019_absent
Revises: 0018_estimates
"""

import sqlalchemy as sa
from alembic import op

from dropbridge.storage.types import UTCDateTime

revision = "0019_absent"
down_revision = "0018_estimates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("supplier_offers", sa.Column("absent_since", UTCDateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("supplier_offers") as batch:
        batch.drop_column("absent_since")
