"""Prices follow costs: the compare-at price a listing shows, and re-priced listings (pushed, or waiting for
approval) in price_changes

SQLite can add a column with a CHECK (tested against the existing rows, all null here), so listings is not
rebuilt; the new table carries the same integer-only checks as every money column there.

Revision ID: 0011_prices
Revises: 0009_connector_secrets
"""

import sqlalchemy as sa
from alembic import op

from dropbridge.storage.types import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0011_prices"
down_revision = "0009_connector_secrets"
branch_labels = None
depends_on = None

MONEY = ("new_price_minor", "new_compare_minor", "old_price_minor", "old_compare_minor", "cost_minor")


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql("ALTER TABLE listings ADD COLUMN compare_at_minor BIGINT CONSTRAINT "
                             "ck_listings_compare_at_minor_integer CHECK (typeof(compare_at_minor) IN "
                             "('integer', 'null'))")
    else:
        op.add_column("listings", sa.Column("compare_at_minor", sa.BigInteger()))
    checks = []
    if sqlite:
        checks = [sa.CheckConstraint(f"typeof({c}) = 'integer'" if c == "new_price_minor"
                                     else f"typeof({c}) IN ('integer', 'null')", name=f"ck_price_changes_{c}_integer")
                  for c in MONEY]
    op.create_table(
        "price_changes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("listing_id", ID, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("new_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("new_compare_minor", sa.BigInteger()),
        sa.Column("old_price_minor", sa.BigInteger()),
        sa.Column("old_compare_minor", sa.BigInteger()),
        sa.Column("cost_minor", sa.BigInteger()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500)),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True)),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("pushed_at", UTCDateTime(timezone=True)),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_price_changes_store_id_stores")),
        sa.ForeignKeyConstraint(["listing_id"], ["listings.id"], name=op.f("fk_price_changes_listing_id_listings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_changes")),
        *checks,
    )
    op.create_index("ix_price_changes_store_status", "price_changes", ["store_id", "status"])
    op.create_index("ix_price_changes_listing", "price_changes", ["listing_id"])


def downgrade() -> None:
    op.drop_index("ix_price_changes_listing", table_name="price_changes")
    op.drop_index("ix_price_changes_store_status", table_name="price_changes")
    op.drop_table("price_changes")
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("compare_at_minor")
