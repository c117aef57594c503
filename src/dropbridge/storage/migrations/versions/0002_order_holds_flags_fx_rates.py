"""order holds, flags, fx rates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:39:39.661536
"""

from alembic import op
import sqlalchemy as sa
import dropbridge.storage.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fx_rates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('base', sa.String(length=3), nullable=False),
    sa.Column('quote', sa.String(length=3), nullable=False),
    sa.Column('rate', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('as_of', dropbridge.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fx_rates')),
    sa.UniqueConstraint('base', 'quote', 'as_of', name=op.f('uq_fx_rates_base_quote_as_of'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('flags', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('fx', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('fx')
        batch_op.drop_column('flags')
        batch_op.drop_column('hold_reason')

    op.drop_table('fx_rates')
