"""Bulk feed application: parsed rows are staged in a TEMP table (outside the write lock), then one
transaction writes only what changed: updates, new offers, and for full feeds the zeroing of absent SKUs.

SQLite stages with executemany; PostgreSQL with COPY. Both then diff in SQL, never row by row in Python.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Engine

STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS feed_stage (
    sku VARCHAR(200) PRIMARY KEY,
    stock INTEGER NOT NULL,
    cost_minor BIGINT,
    currency VARCHAR(3) NOT NULL,
    lead_time_days INTEGER,
    gtin VARCHAR(14)
)"""


class FeedStage:
    """One staging area per sync run; holds its own connection until `close()`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.conn = engine.connect()
        self.dbapi = self.conn.connection.driver_connection
        cur = self.dbapi.cursor()
        cur.execute(STAGE_DDL)
        cur.execute("DELETE FROM feed_stage")
        cur.close()
        if self.pg:
            self.dbapi.commit()
        self.count = 0

    def add(self, rows) -> None:
        """rows: ParsedRow tuples (line, sku, stock, cost_minor, currency, lead_time_days, gtin, ...)."""
        if not rows:
            return
        data = [(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]
        if self.pg:
            with self.dbapi.cursor() as cur, cur.copy(
                "COPY feed_stage (sku, stock, cost_minor, currency, lead_time_days, gtin) FROM STDIN"
            ) as copy:
                for row in data:
                    copy.write_row(row)
            self.dbapi.commit()
        else:
            cur = self.dbapi.cursor()
            # Temp tables live in the connection's temp database: no lock on the main database yet.
            cur.execute("BEGIN")
            cur.executemany("INSERT INTO feed_stage VALUES (?, ?, ?, ?, ?, ?)", data)
            cur.execute("COMMIT")
            cur.close()
        self.count += len(data)

    def unknown_without_cost(self, supplier_id: int, limit: int = 10_000) -> list[str]:
        """SKUs new to this supplier that carry no cost (stock-only feeds): they cannot become offers."""
        cur = self.dbapi.cursor()
        cur.execute(
            self._sql("SELECT s.sku FROM feed_stage s WHERE s.cost_minor IS NULL AND NOT EXISTS "
                      "(SELECT 1 FROM supplier_offers o WHERE o.supplier_id = :sid AND o.supplier_sku = s.sku) "
                      "LIMIT :lim"),
            self._params(sid=supplier_id, lim=limit),
        )
        out = [r[0] for r in cur.fetchall()]
        cur.close()
        return out

    def apply(self, supplier_id: int, now: datetime, *, full: bool) -> dict[str, int]:
        """Write the differences in one transaction; returns counts (updated, inserted, zeroed)."""
        p = self._params
        cur = self.dbapi.cursor()
        if not self.pg:  # psycopg opens the transaction itself
            cur.execute("BEGIN IMMEDIATE")
        try:
            if self.pg:  # two syncs of one supplier never interleave
                cur.execute("SELECT id FROM suppliers WHERE id = %(sid)s FOR UPDATE", {"sid": supplier_id})
            ts = now if self.pg else now.replace(tzinfo=None).isoformat(sep=" ")
            cur.execute(self._sql("""
                UPDATE supplier_offers SET stock = s.stock,
                    cost_minor = COALESCE(s.cost_minor, supplier_offers.cost_minor),
                    currency = CASE WHEN s.cost_minor IS NULL THEN supplier_offers.currency ELSE s.currency END,
                    lead_time_days = COALESCE(s.lead_time_days, supplier_offers.lead_time_days),
                    as_of = :now, updated_at = :now
                FROM feed_stage s
                WHERE supplier_offers.supplier_id = :sid AND supplier_offers.supplier_sku = s.sku
                  AND (supplier_offers.stock <> s.stock
                       OR (s.cost_minor IS NOT NULL AND (supplier_offers.cost_minor <> s.cost_minor
                                                         OR supplier_offers.currency <> s.currency))
                       OR (s.lead_time_days IS NOT NULL
                           AND supplier_offers.lead_time_days IS DISTINCT FROM s.lead_time_days))"""),
                p(sid=supplier_id, now=ts))
            updated = cur.rowcount
            # New SKUs: attach to the variant with the same GTIN (another supplier's offer of the same
            # item) or the same SKU; otherwise create the variant.
            cur.execute(self._sql("""
                INSERT INTO variants (sku, title, gtin)
                SELECT s.sku, '', s.gtin FROM feed_stage s
                WHERE s.cost_minor IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM supplier_offers o WHERE o.supplier_id = :sid AND o.supplier_sku = s.sku)
                  AND NOT EXISTS (SELECT 1 FROM variants v WHERE v.sku = s.sku)
                  AND (s.gtin IS NULL OR NOT EXISTS (SELECT 1 FROM variants v2 WHERE v2.gtin = s.gtin))"""),
                p(sid=supplier_id))
            cur.execute(self._sql("""
                INSERT INTO supplier_offers (supplier_id, supplier_sku, variant_id, cost_minor, currency, stock,
                                             reserved, lead_time_days, as_of, updated_at)
                SELECT :sid, s.sku,
                       COALESCE((SELECT MIN(v.id) FROM variants v WHERE s.gtin IS NOT NULL AND v.gtin = s.gtin),
                                (SELECT v.id FROM variants v WHERE v.sku = s.sku)),
                       s.cost_minor, s.currency, s.stock, 0, s.lead_time_days, :now, :now
                FROM feed_stage s
                WHERE s.cost_minor IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM supplier_offers o
                                  WHERE o.supplier_id = :sid AND o.supplier_sku = s.sku)"""),
                p(sid=supplier_id, now=ts))
            inserted = cur.rowcount
            zeroed = 0
            if full:
                cur.execute(self._sql("""
                    UPDATE supplier_offers SET stock = 0, as_of = :now, updated_at = :now
                    WHERE supplier_id = :sid AND stock <> 0
                      AND NOT EXISTS (SELECT 1 FROM feed_stage s WHERE s.sku = supplier_offers.supplier_sku)"""),
                    p(sid=supplier_id, now=ts))
                zeroed = cur.rowcount
            self._end(cur, "COMMIT")
        except BaseException:
            self._end(cur, "ROLLBACK")
            raise
        finally:
            cur.close()
        return {"updated": updated, "inserted": inserted, "zeroed": zeroed}

    def close(self) -> None:
        try:
            cur = self.dbapi.cursor()
            cur.execute("DROP TABLE IF EXISTS feed_stage")
            cur.close()
            if self.pg:
                self.dbapi.commit()
        finally:
            self.conn.close()

    def _end(self, cur, verb: str) -> None:
        if self.pg:
            (self.dbapi.commit if verb == "COMMIT" else self.dbapi.rollback)()
        else:
            cur.execute(verb)

    # Named parameters: psycopg wants %(name)s, sqlite3 takes :name.
    def _sql(self, sql: str) -> str:
        if not self.pg:
            return sql.replace("IS DISTINCT FROM", "IS NOT")
        return re.sub(r":(\w+)", r"%(\1)s", sql)

    def _params(self, **kw):
        return kw
