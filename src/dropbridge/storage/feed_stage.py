"""Bulk feed application: parsed rows are staged in a TEMP table (outside the write lock), then one
transaction writes only what changed: updates, new offers, and for full feeds the zeroing of absent SKUs.

Runs of plain CSV lines (the reader's PlainRows) are loaded whole, with no Python per row: on SQLite as one
JSON array unpacked by json_each, on PostgreSQL as COPY text; other rows by executemany / COPY rows. Duplicate
SKUs are found once the load ends (a failed unique index, then one GROUP BY) and reported with the line that
came first. Both then diff in SQL, never row by row in Python: one pass joins the stage to the supplier's
offers and keeps only the rows that differ (a few percent of a feed) in `feed_diff` (on PostgreSQL a full
join that also finds the absent offers to zero); the writes then touch those rows alone.

TEMP tables belong to one connection, so two runs on two connections never see each other's stage.
"""

from __future__ import annotations

import re
from datetime import datetime
from operator import itemgetter

from sqlalchemy import Engine

# No key while loading: one index built after the load is cheaper than maintaining it per row.
STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS feed_stage (
    sku VARCHAR(200) NOT NULL,
    stock INTEGER NOT NULL,
    cost_minor BIGINT,
    currency VARCHAR(3),
    lead_time_days INTEGER,
    gtin VARCHAR(14),
    line INTEGER
)"""
DIFF_DDL = """
CREATE TEMP TABLE IF NOT EXISTS feed_diff (
    offer_id BIGINT,
    sku VARCHAR(200) NOT NULL,
    stock INTEGER NOT NULL,
    cost_minor BIGINT,
    currency VARCHAR(3) NOT NULL,
    lead_time_days INTEGER,
    gtin VARCHAR(14),
    absent BOOLEAN
)"""
# SQLite only, for this connection while it stages: the stage lives in memory and the join reads the offers
# through a larger page cache than the 2 MB default. Restored on close (the connection returns to the pool).
SQLITE_PRAGMAS = {"temp_store": "MEMORY", "cache_size": "-65536"}

_plain = itemgetter(1, 2, 3, 0)
_full = itemgetter(1, 2, 3, 4, 5, 6, 0)
_extras = itemgetter(4, 5, 6)
_cost = itemgetter(3)
_STAGE_COLUMN = {"sku": "sku", "qty": "stock", "cost": "cost_minor"}


class FeedStage:
    """One staging area per sync run; holds its own connection until `close()`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.conn = engine.connect()
        self.dbapi = self.conn.connection.driver_connection
        self.count = 0
        self.currency: str | None = None  # the stage's NULL currency: the one most rows carry
        self._loading = False
        self._ready = False
        self._saved: dict[str, str] = {}
        self._null_cost = False  # some staged row has no cost (a stock-only feed)
        self._dedupe_checked = False
        cur = self.dbapi.cursor()
        if not self.pg:
            for name, value in SQLITE_PRAGMAS.items():
                self._saved[name] = str(cur.execute(f"PRAGMA {name}").fetchone()[0])
                cur.execute(f"PRAGMA {name}={value}")
        for ddl in (STAGE_DDL, DIFF_DDL):
            cur.execute(ddl)
        cur.execute("DELETE FROM feed_stage")
        cur.execute("DELETE FROM feed_diff")
        if self.pg:  # numbers the lines of text loaded whole (see _add_text)
            cur.execute("CREATE TEMP SEQUENCE IF NOT EXISTS feed_stage_line")
            cur.execute("ALTER TABLE feed_stage ALTER COLUMN line SET DEFAULT nextval('feed_stage_line')")
        cur.close()
        if self.pg:
            self.dbapi.commit()

    def add(self, rows) -> None:
        """rows: ParsedRow tuples (line, sku, stock, cost_minor, currency, lead_time_days, gtin, ...), or the
        reader's PlainRows (plain sku/qty/cost lines as text, loaded whole)."""
        if not rows:
            return
        if self._ready:
            raise RuntimeError("rows added after the stage was indexed")
        text = getattr(rows, "plain_text", None)
        if self.currency is None:
            self.currency = rows.currency if text is not None else rows[0][4]
        cur = self.dbapi.cursor()
        try:
            if not self.pg and not self._loading:
                cur.execute("BEGIN")  # temp tables only: no lock on the main database yet
                self._loading = True
            if text is None or not self._add_text(cur, rows, text):
                self._add_rows(cur, rows)
        finally:
            cur.close()
        self.count += len(rows)

    def _add_rows(self, cur, rows) -> None:
        if not self._null_cost and None in map(_cost, rows):
            self._null_cost = True
        # Most feeds carry sku, stock and cost only, in one currency: stage four columns, not seven.
        plain = set(map(_extras, rows)) == {(self.currency, None, None)}
        cols = ("sku, stock, cost_minor, line" if plain
                else "sku, stock, cost_minor, currency, lead_time_days, gtin, line")
        data = map(_plain if plain else _full, rows)
        if self.pg:  # one transaction for the whole load; psycopg opened it
            with cur.copy(f"COPY feed_stage ({cols}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * (4 if plain else 7))
            cur.executemany(f"INSERT INTO feed_stage ({cols}) VALUES ({marks})", data)

    def _add_text(self, cur, rows, text: str) -> bool:
        """Plain lines loaded by the database itself: no Python per row. False when they cannot be."""
        if rows.currency != self.currency:
            return False
        d = rows.delimiter
        if self.pg:
            # COPY text format, tab-separated: the reader's plain cells hold no tab, backslash or quote. Cost
            # in minor units is its digits without the point, when the costs hold the only points.
            if text.count(".") != (len(rows) if rows.exp else 0):
                return False
            data = text.replace(".", "")
            if d != "\t":
                data = data.replace(d, "\t")
            cols = ", ".join(_STAGE_COLUMN[c] for c in rows.columns)
            cur.execute("SELECT setval('feed_stage_line', %s, false)", (rows.first_line,))
            with cur.copy(f"COPY feed_stage ({cols}) FROM STDIN") as copy:
                copy.write(data)
            return True
        # SQLite: the lines as one JSON array of arrays of strings, unpacked by json_each in C; the cells
        # need no escaping (no quote, backslash or control character). Integer affinity converts the texts.
        data = '[["' + text[:-1].replace(d, '","').replace("\n", '"],["') + '"]]'
        i = {c: n for n, c in enumerate(rows.columns)}
        cur.execute(
            "INSERT INTO feed_stage (sku, stock, cost_minor, line) "
            f"SELECT value->>{i['sku']}, CAST(value->>{i['qty']} AS INTEGER), "
            f"CAST(replace(value->>{i['cost']}, '.', '') AS INTEGER), key + ? FROM json_each(?)",
            (rows.first_line, data))
        return True

    def duplicates(self) -> list[tuple[int, str, int, int | None, int]]:
        """Rows whose SKU an earlier row already had, as (line, sku, stock, cost_minor, first line), taken
        out of the stage (the first row wins). The reader leaves duplicates of plain lines to this."""
        if self._dedupe_checked:
            return []
        self._dedupe_checked = True
        self._end_load()
        cur = self.dbapi.cursor()
        try:
            cur.execute("CREATE UNIQUE INDEX IF NOT EXISTS feed_stage_sku ON feed_stage (sku)")
            if self.pg:
                self.dbapi.commit()
            return []
        except Exception as exc:  # a unique violation: some SKU came twice
            if not self._is_unique_violation(exc):
                raise
            if self.pg:
                self.dbapi.rollback()
        finally:
            cur.close()
        cur = self.dbapi.cursor()
        try:
            cur.execute("CREATE INDEX feed_stage_sku_line ON feed_stage (sku, line)")
            cur.execute("""
                SELECT s.line, s.sku, s.stock, s.cost_minor, d.first FROM feed_stage s
                JOIN (SELECT sku, MIN(line) AS first FROM feed_stage GROUP BY sku HAVING COUNT(*) > 1) d
                  ON d.sku = s.sku
                WHERE s.line > d.first ORDER BY s.line""")
            dups = [tuple(r) for r in cur.fetchall()]
            cur.execute("""
                DELETE FROM feed_stage WHERE EXISTS (
                    SELECT 1 FROM feed_stage f WHERE f.sku = feed_stage.sku AND f.line < feed_stage.line)""")
            cur.execute("DROP INDEX feed_stage_sku_line")
            cur.execute("CREATE UNIQUE INDEX feed_stage_sku ON feed_stage (sku)")
            if self.pg:
                self.dbapi.commit()
        finally:
            cur.close()
        self.count -= len(dups)
        return dups

    def _is_unique_violation(self, exc: Exception) -> bool:
        if self.pg:
            from psycopg import errors

            return isinstance(exc, errors.UniqueViolation)
        import sqlite3

        return isinstance(exc, sqlite3.IntegrityError)

    def _end_load(self) -> None:
        if self._loading:
            cur = self.dbapi.cursor()
            cur.execute("COMMIT")
            cur.close()
            self._loading = False
        elif self.pg:
            self.dbapi.commit()

    def _finish_load(self) -> None:
        """End the load and index the stage by SKU (taking out duplicates, if `duplicates()` was not called:
        the reader reports them unless it was asked not to)."""
        if self._ready:
            return
        self.duplicates()
        cur = self.dbapi.cursor()
        if self.pg:
            cur.execute("ANALYZE feed_stage")  # autovacuum never analyzes temp tables; the planner needs it
            self.dbapi.commit()
        cur.close()
        self._ready = True

    def unknown_without_cost(self, supplier_id: int, limit: int = 10_000) -> list[str]:
        """SKUs new to this supplier that carry no cost (stock-only feeds): they cannot become offers."""
        self._finish_load()
        if not self._null_cost:
            return []
        cur = self.dbapi.cursor()
        cur.execute(
            self._sql("SELECT s.sku FROM feed_stage s WHERE s.cost_minor IS NULL AND NOT EXISTS "
                      "(SELECT 1 FROM supplier_offers o WHERE o.supplier_id = :sid AND o.supplier_sku = s.sku) "
                      "ORDER BY s.sku LIMIT :lim"),
            {"sid": supplier_id, "lim": limit},
        )
        out = [r[0] for r in cur.fetchall()]
        cur.close()
        if self.pg:
            self.dbapi.commit()
        return out

    def apply(self, supplier_id: int, now: datetime, *, full: bool) -> dict[str, int]:
        """Write the differences in one transaction; returns counts (updated, inserted, zeroed)."""
        self._finish_load()
        cur = self.dbapi.cursor()
        if not self.pg:  # psycopg opens the transaction itself
            cur.execute("BEGIN IMMEDIATE")
        try:
            if self.pg:  # two syncs of one supplier never interleave
                cur.execute("SELECT id FROM suppliers WHERE id = %(sid)s FOR UPDATE", {"sid": supplier_id})
                # The joins hash a million offers; the 4 MB default spills them to disk in batches.
                cur.execute("SET LOCAL work_mem = '128MB'")
            ts = now if self.pg else now.replace(tzinfo=None).isoformat(sep=" ")
            params = {"sid": supplier_id, "now": ts, "cur": self.currency or "USD"}
            # The diff is taken under the write lock, so a run that committed just before is seen. On
            # PostgreSQL a full feed's diff also finds the absent offers to zero: one hash join, not two.
            fused = self.pg and full
            cur.execute(self._sql(("""
                INSERT INTO feed_diff (offer_id, sku, stock, cost_minor, currency, lead_time_days, gtin, absent)
                SELECT o.id, COALESCE(s.sku, o.supplier_sku), COALESCE(s.stock, 0), s.cost_minor,
                       COALESCE(s.currency, :cur), s.lead_time_days, s.gtin, s.sku IS NULL
                FROM feed_stage s
                FULL JOIN (SELECT id, supplier_sku, stock, cost_minor, currency, lead_time_days
                           FROM supplier_offers WHERE supplier_id = :sid) o ON o.supplier_sku = s.sku
                WHERE (s.sku IS NULL AND o.stock <> 0)
                   OR (s.sku IS NOT NULL AND o.id IS NULL)""" if fused else """
                INSERT INTO feed_diff (offer_id, sku, stock, cost_minor, currency, lead_time_days, gtin)
                SELECT o.id, s.sku, s.stock, s.cost_minor, COALESCE(s.currency, :cur), s.lead_time_days, s.gtin
                FROM feed_stage s
                LEFT JOIN supplier_offers o ON o.supplier_id = :sid AND o.supplier_sku = s.sku
                WHERE o.id IS NULL""") + """
                   OR o.stock <> s.stock
                   OR (s.cost_minor IS NOT NULL AND (o.cost_minor <> s.cost_minor
                                                     OR o.currency <> COALESCE(s.currency, :cur)))
                   OR (s.lead_time_days IS NOT NULL AND o.lead_time_days IS DISTINCT FROM s.lead_time_days)"""),
                params)
            zeroed = 0
            if fused:
                cur.execute("SELECT COUNT(*) FROM feed_diff WHERE absent")
                zeroed = cur.fetchone()[0]
            if self.pg:
                cur.execute("ANALYZE feed_diff")  # a few rows, not a million: look them up by id
            cur.execute(self._sql("""
                UPDATE supplier_offers SET stock = d.stock,
                    cost_minor = COALESCE(d.cost_minor, supplier_offers.cost_minor),
                    currency = CASE WHEN d.cost_minor IS NULL THEN supplier_offers.currency ELSE d.currency END,
                    lead_time_days = COALESCE(d.lead_time_days, supplier_offers.lead_time_days),
                    as_of = :now, updated_at = :now
                FROM feed_diff d
                WHERE supplier_offers.id = d.offer_id"""), params)
            updated = cur.rowcount - zeroed
            # New SKUs: attach to the variant with the same GTIN (another supplier's offer of the same
            # item) or the same SKU; otherwise create the variant.
            cur.execute(self._sql("""
                INSERT INTO variants (sku, title, gtin)
                SELECT d.sku, '', d.gtin FROM feed_diff d
                WHERE d.offer_id IS NULL AND d.cost_minor IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM variants v WHERE v.sku = d.sku)
                  AND (d.gtin IS NULL OR NOT EXISTS (SELECT 1 FROM variants v2 WHERE v2.gtin = d.gtin))"""),
                params)
            cur.execute(self._sql("""
                INSERT INTO supplier_offers (supplier_id, supplier_sku, variant_id, cost_minor, currency, stock,
                                             reserved, lead_time_days, as_of, updated_at)
                SELECT :sid, d.sku,
                       COALESCE((SELECT MIN(v.id) FROM variants v WHERE d.gtin IS NOT NULL AND v.gtin = d.gtin),
                                (SELECT v.id FROM variants v WHERE v.sku = d.sku)),
                       d.cost_minor, d.currency, d.stock, 0, d.lead_time_days, :now, :now
                FROM feed_diff d
                WHERE d.offer_id IS NULL AND d.cost_minor IS NOT NULL"""), params)
            inserted = cur.rowcount
            if full and not fused:
                # SQLite: find the absent through the (supplier_id, supplier_sku) index; read only their rows
                cur.execute(self._sql("""UPDATE supplier_offers SET stock = 0, as_of = :now, updated_at = :now
                    WHERE stock <> 0 AND id IN (
                        SELECT o.id FROM supplier_offers o
                        WHERE o.supplier_id = :sid
                          AND NOT EXISTS (SELECT 1 FROM feed_stage s WHERE s.sku = o.supplier_sku))"""), params)
                zeroed = cur.rowcount
            cur.execute("DELETE FROM feed_diff")
            self._end(cur, "COMMIT")
        except BaseException:
            self._end(cur, "ROLLBACK")
            raise
        finally:
            cur.close()
        if self.pg and inserted > 10_000:
            # A first import of a big catalog leaves the planner thinking the table is small until autovacuum
            # catches up; the next run's joins would then pick nested loops over a million rows.
            with self.dbapi.cursor() as c:
                c.execute("ANALYZE supplier_offers")
            self.dbapi.commit()
        return {"updated": updated, "inserted": inserted, "zeroed": zeroed}

    def close(self) -> None:
        try:
            cur = self.dbapi.cursor()
            if self._loading:
                cur.execute("ROLLBACK")
            elif self.pg:
                self.dbapi.rollback()  # whatever a failed statement left open
            cur.execute("DROP TABLE IF EXISTS feed_stage")
            cur.execute("DROP TABLE IF EXISTS feed_diff")
            if self.pg:
                cur.execute("DROP SEQUENCE IF EXISTS feed_stage_line")
            for name, value in self._saved.items():
                cur.execute(f"PRAGMA {name}={value}")
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
