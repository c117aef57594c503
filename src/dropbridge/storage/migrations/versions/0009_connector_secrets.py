"""Secrets connectors obtain at run time (access tokens, renewed refresh tokens), encrypted like credentials

Revision ID: 0009_connector_secrets
Revises: 0008_edge_checks
"""

import sqlalchemy as sa
from alembic import op

from dropbridge.storage.types import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0009_connector_secrets"
down_revision = "0008_edge_checks"
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


def downgrade() -> None:
    op.drop_table("connector_secrets")
