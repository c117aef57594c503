"""EDI trading partners: control numbers that never repeat per partner, receipt (997) and overdue
acknowledgement marks on supplier orders, shipments held for a tracking number that fails its check

Revision ID: 0006_edi_x12
Revises: 0005_supplier_ports
"""

import sqlalchemy as sa
from alembic import op

from dropbridge.storage.types import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0006_edi_x12"
down_revision = "0005_supplier_ports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "control_numbers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(50), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column("allocated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_numbers")),
        sa.UniqueConstraint("owner", "kind", "number", name=op.f("uq_control_numbers_owner_kind_number")),
    )
    op.create_index("ix_control_numbers_reference", "control_numbers", ["owner", "reference"])
    with op.batch_alter_table("supplier_orders") as batch:
        batch.add_column(sa.Column("receipt_confirmed_at", UTCDateTime(timezone=True)))
        batch.add_column(sa.Column("receipt_overdue_alerted_at", UTCDateTime(timezone=True)))
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("hold_reason", sa.String(500)))


def downgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("hold_reason")
    with op.batch_alter_table("supplier_orders") as batch:
        for name in ("receipt_overdue_alerted_at", "receipt_confirmed_at"):
            batch.drop_column(name)
    op.drop_index("ix_control_numbers_reference", table_name="control_numbers")
    op.drop_table("control_numbers")
