"""supplier_offers keeps free space in each page on PostgreSQL

A feed sync rewrites a few percent of a large offers table in one statement. With full pages every updated
row moves to a new page and every index is touched; with 20% left free PostgreSQL updates in place
(heap-only tuples: the changed columns are not indexed). SQLite has no such setting.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE supplier_offers SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE supplier_offers RESET (fillfactor)")
