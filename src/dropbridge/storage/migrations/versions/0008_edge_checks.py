"""integer-only money and quantity columns on SQLite; token scopes, store/supplier limits and unique names

SQLite keeps whatever an INTEGER column is given: a REAL 1e32 or Inf from an unbounded price, text. A CHECK
on typeof() makes a non-integer amount or quantity impossible to store on every insert path (PostgreSQL's
BIGINT and INTEGER columns refuse them already). SQLite cannot add a constraint to a table, so these tables
are rebuilt (env.py turns foreign keys off meanwhile, or dropping the old copy of a parent table would
cascade). A row already holding a non-integer stops the upgrade with the rows to fix.

api_tokens gains scopes (every earlier token was full admin, and stays so), the stores and suppliers a token
is limited to (null: all), and unique names (an earlier duplicate name gets its id appended).

Revision ID: 0008_edge_checks
Revises: 0007_dashboard
"""

from alembic import op
import sqlalchemy as sa

revision = "0008_edge_checks"
down_revision = "0007_dashboard"
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
    "supplier_orders": (("shipping_cost_minor",), ("stated_cost_minor", "stated_shipping_minor")),
    "supplier_invoices": ((), ("total_minor",)),
    "ledger_daily": (("amount_minor",), ()),
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


def _checks(table: str) -> list[str]:
    required, nullable = INTEGER_COLUMNS[table]
    return ([f"CONSTRAINT ck_{table}_{c}_integer CHECK (typeof({c}) = 'integer')" for c in required]
            + [f"CONSTRAINT ck_{table}_{c}_integer CHECK (typeof({c}) IN ('integer', 'null'))" for c in nullable])


def _rebuild_with_checks(conn, table: str) -> None:
    """SQLite's own recipe for a schema change (https://www.sqlite.org/lang_altertable.html#otheralter): a copy
    of the table with the new definition, the rows moved over, the old one dropped, the copy renamed and the
    indexes made again. Done by hand, as Alembic's batch mode would, but without reflecting each table (a
    fifth of a second per fresh database, which every test pays)."""
    create = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                  (table,)).scalar()
    indexes = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                   "AND sql IS NOT NULL", (table,)).scalars().all()
    body = create[create.index("(") + 1:create.rindex(")")].rstrip()
    conn.exec_driver_sql(f'CREATE TABLE "_new_{table}" ({body}, \n\t' + ", \n\t".join(_checks(table)) + "\n)")
    conn.exec_driver_sql(f'INSERT INTO "_new_{table}" SELECT * FROM "{table}"')
    conn.exec_driver_sql(f'DROP TABLE "{table}"')
    conn.exec_driver_sql(f'ALTER TABLE "_new_{table}" RENAME TO "{table}"')
    for index in indexes:
        conn.exec_driver_sql(index)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        _refuse_non_integers(conn)
        # Foreign keys are off meanwhile (env.py): dropping the old orders would otherwise delete its lines.
        for table in INTEGER_COLUMNS:
            _rebuild_with_checks(conn, table)

    op.execute("UPDATE api_tokens SET name = substr(name, 1, 80) || '-' || id "
               "WHERE id NOT IN (SELECT MIN(id) FROM api_tokens GROUP BY name)")
    if conn.dialect.name == "sqlite":  # the same rebuild, with the new columns (every earlier token: admin)
        conn.exec_driver_sql(_SQLITE_TOKENS)
        conn.exec_driver_sql("INSERT INTO _new_api_tokens (id, name, token_hash, created_at, last_used_at, scopes) "
                             "SELECT id, name, token_hash, created_at, last_used_at, '[\"admin\"]' FROM api_tokens")
        conn.exec_driver_sql("DROP TABLE api_tokens")
        conn.exec_driver_sql("ALTER TABLE _new_api_tokens RENAME TO api_tokens")
        return
    op.add_column("api_tokens", sa.Column("scopes", sa.JSON(), nullable=False,
                                          server_default=sa.text("'[\"admin\"]'")))
    op.alter_column("api_tokens", "scopes", server_default=None)
    op.add_column("api_tokens", sa.Column("stores", sa.JSON(), nullable=True))
    op.add_column("api_tokens", sa.Column("suppliers", sa.JSON(), nullable=True))
    op.create_unique_constraint(op.f("uq_api_tokens_name"), "api_tokens", ["name"])


_SQLITE_TOKENS = """CREATE TABLE _new_api_tokens (
\tid INTEGER NOT NULL,
\tname VARCHAR(100) NOT NULL,
\ttoken_hash VARCHAR(64) NOT NULL,
\tcreated_at DATETIME NOT NULL,
\tlast_used_at DATETIME,
\tscopes JSON NOT NULL,
\tstores JSON,
\tsuppliers JSON,
\tCONSTRAINT pk_api_tokens PRIMARY KEY (id),
\tCONSTRAINT uq_api_tokens_token_hash UNIQUE (token_hash),
\tCONSTRAINT uq_api_tokens_name UNIQUE (name)
)"""


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
