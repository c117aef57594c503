"""integer-only money and quantity columns on SQLite; token scopes, store/supplier limits and unique names

SQLite keeps whatever an INTEGER column is given: a REAL 1e32 or Inf from an unbounded price, text. A CHECK
on typeof() makes a non-integer amount or quantity impossible to store on every insert path (PostgreSQL's
BIGINT and INTEGER columns refuse them already). SQLite cannot add a constraint to a table, so these tables
are rebuilt (batch mode; env.py turns foreign keys off meanwhile, or dropping the old copy of a parent
table would cascade). A row already holding a non-integer stops the upgrade with the rows to fix.

api_tokens gains scopes (every earlier token was full admin, and stays so), the stores and suppliers a token
is limited to (null: all), and unique names (an earlier duplicate name gets its id appended).

Revision ID: 0005_edge_checks
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa

revision = "0005_edge_checks"
down_revision = "0004"
branch_labels = None
depends_on = None

# table -> (NOT NULL integer columns, nullable integer columns); the same list as storage/tables.py.
INTEGER_COLUMNS = {
    "variants": ((), ("msrp_minor", "map_minor")),
    "supplier_offers": (("cost_minor", "stock", "reserved"), ("lead_time_days",)),
    "listings": ((), ("price_minor", "pushed_stock")),
    "orders": (("shipping_price_minor",), ()),
    "order_lines": (("quantity", "unit_price_minor"), ()),
    "reservations": (("quantity",), ()),
    "supplier_orders": (("shipping_cost_minor",), ()),
    "supplier_order_lines": (("quantity", "unit_cost_minor"), ()),
    "ledger_entries": (("amount_minor",), ()),
}


def _refuse_non_integers(conn) -> None:
    bad = []
    for table, (required, nullable) in INTEGER_COLUMNS.items():
        for column in (*required, *nullable):
            rows = conn.exec_driver_sql(
                f"SELECT id, {column} FROM {table} WHERE typeof({column}) NOT IN ('integer', 'null') LIMIT 5"
            ).all()
            bad += [f"{table} id {row[0]}: {column} = {row[1]!r}" for row in rows]
    if bad:
        raise RuntimeError("these rows hold amounts or quantities that are not integers; correct or delete "
                           "them, then migrate again:\n  " + "\n  ".join(bad))


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        _refuse_non_integers(conn)
        for table, (required, nullable) in INTEGER_COLUMNS.items():
            with op.batch_alter_table(table, recreate="always") as batch:
                for column in required:
                    batch.create_check_constraint(f"{column}_integer", f"typeof({column}) = 'integer'")
                for column in nullable:
                    batch.create_check_constraint(f"{column}_integer", f"typeof({column}) IN ('integer', 'null')")

    op.execute("UPDATE api_tokens SET name = substr(name, 1, 80) || '-' || id "
               "WHERE id NOT IN (SELECT MIN(id) FROM api_tokens GROUP BY name)")
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON(), nullable=False, server_default=sa.text("'[\"admin\"]'")))
        batch.add_column(sa.Column("stores", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("suppliers", sa.JSON(), nullable=True))
        batch.create_unique_constraint(op.f("uq_api_tokens_name"), ["name"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("scopes", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint(op.f("uq_api_tokens_name"), type_="unique")
        batch.drop_column("suppliers")
        batch.drop_column("stores")
        batch.drop_column("scopes")
    if op.get_bind().dialect.name == "sqlite":
        for table, (required, nullable) in INTEGER_COLUMNS.items():
            with op.batch_alter_table(table, recreate="always") as batch:
                for column in (*required, *nullable):
                    batch.drop_constraint(f"ck_{table}_{column}_integer", type_="check")
