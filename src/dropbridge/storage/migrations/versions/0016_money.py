"""Supplier invoice reconciliation and payables: what each invoice line was found to be (with its dispute),
when an invoice was reconciled, what we owe each supplier and the payment batches that pay it.

Revision ID: 0016_money
Revises: 0015_status_created
"""

import sqlalchemy as sa
from alembic import op

from dropbridge.storage.types import UTCDateTime

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0016_money"
down_revision = "0015_status_created"
branch_labels = None
depends_on = None


def _integers(table: str, *required: str, nullable: tuple[str, ...] = ()) -> list:
    if op.get_bind().dialect.name != "sqlite":
        return []
    return [sa.CheckConstraint(f"typeof({c}) = 'integer'", name=op.f(f"ck_{table}_{c}_integer")) for c in required] + [
        sa.CheckConstraint(f"typeof({c}) IN ('integer', 'null')", name=op.f(f"ck_{table}_{c}_integer"))
        for c in nullable]


def _fk(table: str, column: str, target: str):
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    with op.batch_alter_table("supplier_invoices") as batch:
        batch.add_column(sa.Column("reconciled_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "invoice_results",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("supplier_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.Column("supplier_order_id", ID, nullable=True),
        sa.Column("order_line_id", ID, nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("supplier_sku", sa.String(200), nullable=True),
        sa.Column("quantity_billed", sa.Integer(), nullable=True),
        sa.Column("quantity_expected", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("billed_minor", sa.BigInteger(), nullable=False),
        sa.Column("expected_minor", sa.BigInteger(), nullable=True),
        sa.Column("accepted_minor", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("dispute", sa.String(20), nullable=True),
        sa.Column("dispute_note", sa.String(500), nullable=True),
        sa.Column("dispute_by", sa.String(100), nullable=True),
        sa.Column("dispute_updated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        _fk("invoice_results", "supplier_id", "suppliers"),
        _fk("invoice_results", "invoice_id", "supplier_invoices"),
        _fk("invoice_results", "supplier_order_id", "supplier_orders"),
        _fk("invoice_results", "order_line_id", "order_lines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_results")),
        sa.UniqueConstraint("key", name=op.f("uq_invoice_results_key")),
        *_integers("invoice_results", "billed_minor", "accepted_minor", nullable=("expected_minor",)),
    )
    op.create_index("ix_invoice_results_supplier_month", "invoice_results", ["supplier_id", "month"])
    op.create_index("ix_invoice_results_supplier_order", "invoice_results", ["supplier_order_id"])
    op.create_table(
        "payment_batches",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("payables", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_batches")),
        *_integers("payment_batches", "total_minor"),
    )
    op.create_table(
        "payables",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("supplier_id", ID, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("supplier_order_id", ID, nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("due_on", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("batch_id", ID, nullable=True),
        sa.Column("memo", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("paid_reference", sa.String(200), nullable=True),
        _fk("payables", "supplier_id", "suppliers"),
        _fk("payables", "invoice_id", "supplier_invoices"),
        _fk("payables", "supplier_order_id", "supplier_orders"),
        _fk("payables", "batch_id", "payment_batches"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payables")),
        sa.UniqueConstraint("key", name=op.f("uq_payables_key")),
        *_integers("payables", "amount_minor"),
    )
    op.create_index("ix_payables_supplier_status", "payables", ["supplier_id", "status", "due_on"])


def downgrade() -> None:
    op.drop_index("ix_payables_supplier_status", table_name="payables")
    op.drop_table("payables")
    op.drop_table("payment_batches")
    op.drop_index("ix_invoice_results_supplier_order", table_name="invoice_results")
    op.drop_index("ix_invoice_results_supplier_month", table_name="invoice_results")
    op.drop_table("invoice_results")
    with op.batch_alter_table("supplier_invoices") as batch:
        batch.drop_column("reconciled_at")
