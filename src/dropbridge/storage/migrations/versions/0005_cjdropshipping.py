"""Secrets connectors obtain at run time (encrypted like credentials), and when an order that waits for
payment at its supplier was last brought to the merchant's attention

Revision ID: 0005_cjdropshipping
Revises: 0005_supplier_ports
"""

import sqlalchemy as sa
from alembic import op

from dropbridge.storage.types import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0005_cjdropshipping"
down_revision = "0005_supplier_ports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_secrets",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret", sa.LargeBinary()),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_secrets")),
        sa.UniqueConstraint("owner", "name", name=op.f("uq_connector_secrets_owner_name")),
    )
    with op.batch_alter_table("supplier_orders") as batch:
        batch.add_column(sa.Column("payment_alerted_at", UTCDateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("supplier_orders") as batch:
        batch.drop_column("payment_alerted_at")
    op.drop_table("connector_secrets")
