"""Bulk feed application: parsed rows are staged in a TEMP table (outside the write lock), then one
transaction writes only what changed: updates, new offers, and for full feeds the zeroing of absent SKUs.

Runs of plain CSV lines (the reader's PlainRows) are loaded whole, with no Python per row: on SQLite as one
JSON object unpacked by json_each, on PostgreSQL as COPY text (one COPY for as long as the lines run on);
other rows by executemany / COPY rows. A loader thread writes each batch while the reader parses the next.
Duplicate SKUs are found once the load ends (a failed unique index, then one GROUP BY) and reported with the
line that came first. Both then diff in SQL, never row by row in Python, and keep only the rows that differ
(a few percent of a feed) in `feed_diff`: on PostgreSQL one hash full join of stage and offers finds the
changed, the new and the absent; on SQLite one pass over the supplier's offers finds the changed and the
absent, and a pass over the stage the new SKUs if the counts show any. The writes then touch those rows alone.

TEMP tables belong to one connection, so two runs on two connections never see each other's stage.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import partial
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine

from dropbridge.domain.drift import Identity, gtin14, row_identity

from . import run_owner
from .run_owner import RUN_LOCK_CLASS

# No SKU key while loading: one index built after the load is cheaper than maintaining it per row. Lines
# loaded as text are numbered by the database: a sequence on PostgreSQL, the rowid's AUTOINCREMENT on SQLite
# (lines only grow, so the rows are appended in rowid order either way).
STAGE_DDL = """
CREATE TEMP TABLE feed_stage (
    sku VARCHAR(200) NOT NULL,
    stock INTEGER NOT NULL,
    cost_minor BIGINT,
    currency VARCHAR(3),
    lead_time_days INTEGER,
    gtin VARCHAR(14),
    gtin_key VARCHAR(14),
    parent_sku VARCHAR(200),
    options TEXT,
    line {line}
)"""
LINE_COLUMN = {"postgresql": "INTEGER DEFAULT nextval('feed_stage_line')",
               "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"}
DIFF_DDL = """
CREATE TEMP TABLE feed_diff (
    offer_id BIGINT,
    sku VARCHAR(200) NOT NULL,
    stock INTEGER NOT NULL,
    cost_minor BIGINT,
    currency VARCHAR(3) NOT NULL,
    lead_time_days INTEGER,
    gtin VARCHAR(14),
    gtin_key VARCHAR(14),
    parent_sku VARCHAR(200),
    options TEXT,
    absent BOOLEAN NOT NULL DEFAULT FALSE,
    was_absent BOOLEAN NOT NULL DEFAULT FALSE
)"""
# A staged row (s) differs from its offer (o) in what the feed sets: stock, and cost and lead time when given;
# when some row states what the item is ({identity}: _IDENTITY_DIFFERS), that too. An offer marked absent from
# an earlier full feed differs whatever it carries: the mark is cleared.
_DIFFERS = """(o.stock <> s.stock OR o.absent_since IS NOT NULL
    OR (s.cost_minor IS NOT NULL AND (o.cost_minor <> s.cost_minor OR o.currency <> COALESCE(s.currency, :cur)))
    OR (s.lead_time_days IS NOT NULL AND o.lead_time_days IS DISTINCT FROM s.lead_time_days){identity})"""
_IDENTITY_DIFFERS = """
    OR (s.gtin_key IS NOT NULL AND o.gtin IS DISTINCT FROM s.gtin_key)
    OR (s.parent_sku IS NOT NULL AND o.parent_sku IS DISTINCT FROM s.parent_sku)
    OR (s.options IS NOT NULL AND o.options IS DISTINCT FROM s.options)"""
# A staged identity that contradicts the offer's (o) stored one: both state a field, differently (drift).
_CONTRADICTS = """(({s}.gtin_key IS NOT NULL AND o.gtin IS NOT NULL AND o.gtin <> {s}.gtin_key)
    OR ({s}.parent_sku IS NOT NULL AND o.parent_sku IS NOT NULL AND o.parent_sku <> {s}.parent_sku)
    OR ({s}.options IS NOT NULL AND o.options IS NOT NULL AND o.options <> {s}.options))"""
# Staged rows that are new or changed; {where} picks which.
DIFF_FROM_STAGE = """
    INSERT INTO feed_diff (offer_id, sku, stock, cost_minor, currency, lead_time_days, gtin, gtin_key, parent_sku,
                           options, was_absent)
    SELECT o.id, s.sku, s.stock, s.cost_minor, COALESCE(s.currency, :cur), s.lead_time_days, s.gtin, s.gtin_key,
           s.parent_sku, s.options, o.absent_since IS NOT NULL
    FROM feed_stage s
    LEFT JOIN supplier_offers o ON o.supplier_id = :sid AND o.supplier_sku = s.sku
    WHERE {where}"""
# The supplier's offers that changed or are absent from the feed (all of them, so they can be counted).
DIFF_FROM_OFFERS = f"""
    INSERT INTO feed_diff (offer_id, sku, stock, cost_minor, currency, lead_time_days, gtin, gtin_key, parent_sku,
                           options, absent, was_absent)
    SELECT o.id, o.supplier_sku, COALESCE(s.stock, 0), s.cost_minor, COALESCE(s.currency, :cur), s.lead_time_days,
           s.gtin, s.gtin_key, s.parent_sku, s.options, s.sku IS NULL, o.absent_since IS NOT NULL
    FROM supplier_offers o
    LEFT JOIN feed_stage s ON s.sku = o.supplier_sku
    WHERE o.supplier_id = :sid AND (s.sku IS NULL OR {_DIFFERS})"""
# PostgreSQL: changed, new and absent (with stock to zero, or not marked absent yet) in one join, hash or merge
# (see _diff); compared as bytes ("C"), which is how the stage's SKU index is sorted. The offers' identity
# columns are read only when some staged row states an identity ({identity_columns}).
DIFF_FULL_JOIN = f"""
    INSERT INTO feed_diff (offer_id, sku, stock, cost_minor, currency, lead_time_days, gtin, gtin_key, parent_sku,
                           options, absent, was_absent)
    SELECT o.id, COALESCE(s.sku, o.supplier_sku), COALESCE(s.stock, 0), s.cost_minor, COALESCE(s.currency, :cur),
           s.lead_time_days, s.gtin, s.gtin_key, s.parent_sku, s.options, s.sku IS NULL, o.absent_since IS NOT NULL
    FROM feed_stage s
    FULL JOIN (SELECT id, supplier_sku, stock, cost_minor, currency, lead_time_days, absent_since{{identity_columns}}
               FROM supplier_offers WHERE supplier_id = :sid) o ON o.supplier_sku COLLATE "C" = s.sku COLLATE "C"
    WHERE (s.sku IS NULL AND (o.stock <> 0 OR o.absent_since IS NULL))
       OR (s.sku IS NOT NULL AND (o.id IS NULL OR {_DIFFERS}))"""
# Changed offers whose cost moves (a stock-only change leaves every price as it was: no re-pricing owed).
COST_CHANGES = """
    SELECT COUNT(*) FROM feed_diff d JOIN supplier_offers o ON o.id = d.offer_id
    WHERE d.cost_minor IS NOT NULL AND (o.cost_minor <> d.cost_minor OR o.currency <> d.currency)"""
UPDATE_CHANGED = """
    UPDATE supplier_offers SET stock = d.stock,
        cost_minor = COALESCE(d.cost_minor, supplier_offers.cost_minor),
        currency = CASE WHEN d.cost_minor IS NULL THEN supplier_offers.currency ELSE d.currency END,
        lead_time_days = COALESCE(d.lead_time_days, supplier_offers.lead_time_days),{identity_set}
        absent_since = NULL, as_of = :now, updated_at = :now
    FROM feed_diff d
    WHERE supplier_offers.id = d.offer_id AND NOT d.absent"""
_IDENTITY_SET = """
        gtin = COALESCE(d.gtin_key, supplier_offers.gtin),
        parent_sku = COALESCE(d.parent_sku, supplier_offers.parent_sku),
        options = COALESCE(d.options, supplier_offers.options),"""
# Changed offers whose staged identity contradicts the stored one (few rows: read back for the service to
# quarantine): what was stored and what the feed now states.
IDENTITY_CHANGES = f"""
    SELECT d.offer_id, d.sku, o.gtin, o.parent_sku, o.options, d.gtin_key, d.parent_sku, d.options
    FROM feed_diff d JOIN supplier_offers o ON o.id = d.offer_id
    WHERE NOT d.absent AND {_CONTRADICTS.format(s="d")}
    ORDER BY d.sku"""
# Before the catalog import: staged SKUs whose offer is quarantined or whose identity changed. Their rows
# describe another item, so they must not rewrite the variant the SKU was mapped to.
CONFLICTING_SKUS = f"""
    SELECT s.sku, CASE WHEN o.quarantined_at IS NULL THEN 1 ELSE 0 END
    FROM feed_stage s JOIN supplier_offers o ON o.supplier_id = :sid AND o.supplier_sku = s.sku
    WHERE o.quarantined_at IS NOT NULL OR {_CONTRADICTS.format(s="s")}"""
# Listings of every offer the run changed, added or zeroed owe their store a push (publish_listings.push_stock
# reads these marks); after the inserts, so new offers of listed variants count too. Found by SKU through the
# offers' unique key: new offers have no offer_id in the diff.
MARK_PUSHES_DUE = """
    UPDATE listings SET stock_due = COALESCE(stock_due, 0) + 1
    WHERE variant_id IN (SELECT o.variant_id FROM feed_diff d
                         JOIN supplier_offers o ON o.supplier_id = :sid AND o.supplier_sku = d.sku)"""
ZERO_ABSENT = """
    UPDATE supplier_offers SET stock = 0, as_of = :now, updated_at = :now
    FROM feed_diff d
    WHERE supplier_offers.id = d.offer_id AND d.absent AND supplier_offers.stock <> 0"""
# Absent offers not marked yet: the supplier no longer lists the SKU (a dropped variant, services/follow_variants).
MARK_ABSENT = """
    UPDATE supplier_offers SET absent_since = :now, updated_at = :now
    FROM feed_diff d
    WHERE supplier_offers.id = d.offer_id AND d.absent AND NOT d.was_absent"""
# The listed products (their ids) some of whose offers this run marks absent or brings back: read before the
# writes, for the run to have their variants followed. Listed variants as one set, built once (listings have no
# index by variant alone). Run only when the diff shows such an offer.
ABSENCE_CHANGED = """
    SELECT DISTINCT v.product_id FROM feed_diff d
    JOIN supplier_offers o ON o.id = d.offer_id
    JOIN variants v ON v.id = o.variant_id
    WHERE d.absent <> d.was_absent AND v.product_id IS NOT NULL
      AND v.id IN (SELECT l.variant_id FROM listings l)
    ORDER BY v.product_id"""
# SQLite only, for this connection while it stages: the stage lives in a temp file behind a 64 MB page
# cache of its own, and the join reads the offers through a larger cache than the 2 MB default. In a file,
# not in memory: a feed of tens of millions of rows (duplicates, say) must not take the process's memory
# with it; a million-row feed fits the cache and stages as fast as in memory (measured: no slower).
# Restored on close (the connection returns to the pool).
SQLITE_PRAGMAS = {"temp_store": "FILE", "cache_size": "-65536", "temp.cache_size": "-65536"}
# PostgreSQL, per statement: the joins hash a million rows and the index build sorts them; the 4 MB / 64 MB
# defaults spill both to disk in batches.
PG_SORT_MEM = "128MB"
PG_TEMP_BUFFERS = "256MB"  # for the stage, its index and the diff of a million-row feed (see _size_temp_buffers)

_plain = itemgetter(1, 2, 3, 0)
_full = itemgetter(1, 2, 3, 4, 5, 6, 0)
_extras = itemgetter(4, 5, 6)
_states_identity = itemgetter(6, 7)  # a row's GTIN and catalog data
_catalog = itemgetter(7)
_cost = itemgetter(3)
_STAGE_COLUMN = {"sku": "sku", "qty": "stock", "cost": "cost_minor"}


def _json_object(text: str, delimiter: str, columns: tuple[str, ...]) -> str:
    """Plain lines (sku, qty and cost in the order of `columns`) as {"sku":"qty,cost",...}, put together by
    list slicing and one join: no Python per line."""
    cells = text.replace("\n", delimiter).split(delimiter)
    cells.pop()  # the empty cell after the last line's terminator
    n = len(cells) // 3
    sku, qty, cost = (cells[columns.index(field)::3] for field in ("sku", "qty", "cost"))
    parts = [""] * (6 * n)
    parts[0::6] = sku
    parts[1::6] = ['":"'] * n
    parts[2::6] = qty
    parts[3::6] = [","] * n
    parts[4::6] = cost
    parts[5::6] = ['","'] * n
    parts[-1] = '"}'
    return '{"' + "".join(parts)


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
        self._identity = False  # some staged row states what the item is (GTIN, parent, options)
        # Offers whose stated identity changed, read in apply() for its `finish`: (offer id, sku, stored
        # Identity, staged Identity); see domain/drift.py.
        self.identity_changes: list[tuple[int, str, Identity, Identity]] = []
        # Listed products some of whose offers apply() marked absent or brought back (ABSENCE_CHANGED).
        self.absence_changed: list[int] = []
        self._dedupe_checked = False
        self._run_id: int | None = None
        # The database writes one batch on this thread (the drivers release the GIL meanwhile) while the
        # reader parses the next: on two cores a plain feed then loads in about the time of its parse.
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-stage")
        self._in_flight: Future | None = None
        self._copy: contextlib.ExitStack | None = None  # PostgreSQL: a COPY of plain lines still open,
        self._copy_writer = None  # what it writes with,
        self._copy_next: tuple[int, str] = (0, "")  # and the line and columns it would carry on with
        cur = self.dbapi.cursor()
        if self.pg:
            self._size_temp_buffers(cur)
        else:
            for name, value in SQLITE_PRAGMAS.items():
                self._saved[name] = str(cur.execute(f"PRAGMA {name}").fetchone()[0])
                cur.execute(f"PRAGMA {name}={value}")
        temp = "pg_temp" if self.pg else "temp"
        for table in ("feed_stage", "feed_diff"):  # left over if a run's close() failed on this connection
            cur.execute(f"DROP TABLE IF EXISTS {temp}.{table}")
        if self.pg:
            # Cached: without it, nextval per row was about 40% of the COPY (setval still resets the cache).
            cur.execute("DROP SEQUENCE IF EXISTS pg_temp.feed_stage_line")
            cur.execute("CREATE TEMP SEQUENCE feed_stage_line CACHE 100000")
        cur.execute(STAGE_DDL.format(line=LINE_COLUMN[engine.dialect.name]))
        cur.execute(DIFF_DDL)
        cur.close()
        if self.pg:
            self.dbapi.commit()

    def _size_temp_buffers(self, cur) -> None:
        """PostgreSQL keeps a session's temp tables in 8 MB of buffers of its own by default; a stage of a
        million rows then goes out to files and is read back from them by each step. The size can only be
        set before the session first uses a temp table, which close() makes true of every run's connection
        (it discards it); if some other use got there first, the run goes on with the default."""
        try:
            cur.execute(f"SET temp_buffers = '{PG_TEMP_BUFFERS}'")
        except Exception as exc:  # InvalidParameterValue: temp tables were used in this session
            from psycopg import errors

            if not isinstance(exc, errors.InvalidParameterValue):
                raise
            self.dbapi.rollback()

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
        # Text is made into what the database reads here, on the reader's thread, so that the loader thread
        # only waits on the database: the two take about as long for a plain feed.
        load = (text is not None and self._text_loader(rows, text)) or partial(self._add_rows, rows)
        self._wait_loaded()  # one batch in flight: batches land in order and memory stays bounded
        self._in_flight = self._loader.submit(self._load, load)
        self.count += len(rows)

    def _load(self, load: Callable) -> None:
        """On the loader thread: `load(cursor)`."""
        cur = self.dbapi.cursor()
        try:
            if not self.pg and not self._loading:
                cur.execute("BEGIN")  # temp tables only: no lock on the main database yet
                self._loading = True
            load(cur)
        finally:
            cur.close()

    def _wait_loaded(self) -> None:
        """Wait for the batch in flight; a failed load raises here."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def _add_rows(self, rows, cur) -> None:
        if not self._null_cost and None in map(_cost, rows):
            self._null_cost = True
        identity = any(g or c for g, c in map(_states_identity, rows))
        # Most feeds carry sku, stock and cost only, in one currency: stage four columns, not seven.
        plain = not identity and set(map(_extras, rows)) == {(self.currency, None, None)}
        cols = ("sku, stock, cost_minor, line" if plain
                else "sku, stock, cost_minor, currency, lead_time_days, gtin, line")
        data = map(_plain if plain else _full, rows)
        if identity:
            self._identity = True
            cols = "sku, stock, cost_minor, currency, lead_time_days, gtin, line, gtin_key, parent_sku, options"
            if any(map(_catalog, rows)):
                data = (_full(r) + row_identity(r[6], r[7], verified=True) for r in rows)
            else:  # GTINs alone (verified by the reader: padded, not checked again)
                data = (_full(r) + (gtin14(r[6], verified=True), None, None) for r in rows)
        if self.pg:  # one transaction for the whole load; psycopg opened it
            self._end_copy()
            with cur.copy(f"COPY feed_stage ({cols}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * (cols.count(",") + 1))
            cur.executemany(f"INSERT INTO feed_stage ({cols}) VALUES ({marks})", data)

    def _text_loader(self, rows, text: str) -> Callable | None:
        """Plain lines for the database to load whole, no Python per row; None when they cannot be."""
        if rows.currency != self.currency:
            return None
        # Cost in minor units is its digits without the point, when the costs hold the only points.
        points_in_costs_only = text.count(".") == (len(rows) if rows.exp else 0)
        if self.pg:
            # COPY text format, tab-separated: the reader's plain cells hold no tab, backslash or quote.
            if not points_in_costs_only:
                return None
            data = text.replace(".", "")
            if rows.delimiter != "\t":
                data = data.replace(rows.delimiter, "\t")
            return partial(self._copy_text, rows, ", ".join(_STAGE_COLUMN[c] for c in rows.columns), data)
        if points_in_costs_only:
            return partial(self._insert_json_object, rows, _json_object(text.replace(".", ""), rows.delimiter,
                                                                        rows.columns))
        return partial(self._insert_json_arrays, rows)

    def _insert_json_object(self, rows, data: str, cur) -> None:
        """SQLite: the lines as one JSON object {sku: "qty,cost"} unpacked by json_each in C, the key the SKU
        and two CASTs the numbers: half the time of arrays read with ->> (see _insert_json_arrays). The cells
        need no escaping (no quote, backslash or control character)."""
        self._set_next_line(cur, rows.first_line)
        cur.execute("INSERT INTO feed_stage (sku, stock, cost_minor) "
                    "SELECT key, CAST(value AS INTEGER), CAST(substr(value, instr(value, ',') + 1) AS INTEGER) "
                    "FROM json_each(?)", (data,))
        if cur.rowcount != len(rows):  # SQLite keeps duplicate keys, but JSON leaves it open: take no chances
            cur.execute("DELETE FROM feed_stage WHERE line >= ?", (rows.first_line,))
            self._insert_json_arrays(rows, cur)

    def _insert_json_arrays(self, rows, cur) -> None:
        """SQLite: the lines as one JSON array of arrays of strings; integer affinity converts the texts."""
        d = rows.delimiter
        data = '[["' + rows.plain_text[:-1].replace(d, '","').replace("\n", '"],["') + '"]]'
        i = {c: n for n, c in enumerate(rows.columns)}
        cur.execute(
            "INSERT INTO feed_stage (sku, stock, cost_minor, line) "
            f"SELECT value->>{i['sku']}, CAST(value->>{i['qty']} AS INTEGER), "
            f"CAST(replace(value->>{i['cost']}, '.', '') AS INTEGER), key + ? FROM json_each(?)",
            (rows.first_line, data))

    def _set_next_line(self, cur, line: int) -> None:
        """The line number the next row loaded as text gets (see STAGE_DDL)."""
        if self.pg:
            cur.execute("SELECT setval('feed_stage_line', %s, false)", (line,))
        else:
            cur.execute("DELETE FROM temp.sqlite_sequence WHERE name = 'feed_stage'")
            cur.execute("INSERT INTO temp.sqlite_sequence (name, seq) VALUES ('feed_stage', ?)", (line - 1,))

    def _copy_text(self, rows, cols: str, data: str, cur) -> None:
        """PostgreSQL: plain lines that carry on from the last batch's go into the same COPY (on a cursor of
        its own), the line sequence already where they start: no round trips between batches, so the server
        keeps parsing while the reader reads."""
        if self._copy is None or self._copy_next != (rows.first_line, cols):
            self._end_copy()
            self._set_next_line(cur, rows.first_line)
            copy_cur = self.dbapi.cursor()
            self._copy = contextlib.ExitStack()
            self._copy.callback(copy_cur.close)
            self._copy_writer = self._copy.enter_context(copy_cur.copy(f"COPY feed_stage ({cols}) FROM STDIN"))
        self._copy_writer.write(data)
        self._copy_next = (rows.first_line + len(rows), cols)

    def _end_copy(self) -> None:
        copy, self._copy = self._copy, None
        if copy is not None:
            copy.close()

    def duplicates(self, limit: int | None = None) -> tuple[list[tuple[int, str, int, int | None, int]], int]:
        """Rows whose SKU an earlier row already had, taken out of the stage (the first row wins): the first
        `limit` of them (all when None) as (line, sku, stock, cost_minor, first line), and how many there were.
        A feed of millions of copies of one line is counted, not held. The reader leaves duplicates of plain
        lines to this."""
        if self._dedupe_checked:
            return [], 0
        self._dedupe_checked = True
        self._end_load()
        cur = self.dbapi.cursor()
        try:
            self._index_sku(cur)
            if self.pg:
                self.dbapi.commit()
            return [], 0
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
            cur.execute(self._sql("""
                SELECT s.line, s.sku, s.stock, s.cost_minor, d.first FROM feed_stage s
                JOIN (SELECT sku, MIN(line) AS first FROM feed_stage GROUP BY sku HAVING COUNT(*) > 1) d
                  ON d.sku = s.sku
                WHERE s.line > d.first ORDER BY s.line""" + (" LIMIT :lim" if limit is not None else "")),
                {"lim": limit} if limit is not None else {})
            dups = [tuple(r) for r in cur.fetchall()]
            if self.pg:
                # One pass per duplicated SKU through the (sku, line) index. The EXISTS form below made
                # PostgreSQL hash-join the stage with itself and filter by line inside one bucket: quadratic
                # in the copies of a SKU (a feed of a million copies of one line never finished).
                cur.execute("""
                    DELETE FROM feed_stage s USING (
                        SELECT sku, MIN(line) AS first FROM feed_stage GROUP BY sku HAVING COUNT(*) > 1) d
                    WHERE s.sku = d.sku AND s.line > d.first""")
            else:  # SQLite seeks the (sku, line) index once per row
                cur.execute("""
                    DELETE FROM feed_stage WHERE EXISTS (
                        SELECT 1 FROM feed_stage f WHERE f.sku = feed_stage.sku AND f.line < feed_stage.line)""")
            total = cur.rowcount
            cur.execute("DROP INDEX feed_stage_sku_line")
            self._index_sku(cur)
            if self.pg:
                self.dbapi.commit()
        finally:
            cur.close()
        self.count -= total
        return dups, total

    def _index_sku(self, cur) -> None:
        """The stage's unique SKU index. On PostgreSQL it sorts bytes ("C": the same equality as the default
        collation, without the locale's comparison) in memory rather than in batches on disk."""
        if self.pg:
            cur.execute(f"SET LOCAL maintenance_work_mem = '{PG_SORT_MEM}'")
        column = 'sku COLLATE "C"' if self.pg else "sku"
        cur.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS feed_stage_sku ON feed_stage ({column})")

    def _is_unique_violation(self, exc: Exception) -> bool:
        if self.pg:
            from psycopg import errors

            return isinstance(exc, errors.UniqueViolation)
        import sqlite3

        return isinstance(exc, sqlite3.IntegrityError)

    def _end_load(self) -> None:
        self._wait_loaded()
        self._end_copy()
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
            # Autovacuum never analyzes temp tables, and the planner needs the row count; a small sample
            # gives it (a tenth of the default's time).
            cur.execute("SET LOCAL default_statistics_target = 10")
            cur.execute("ANALYZE feed_stage")
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

    def apply(self, supplier_id: int, now: datetime, *, full: bool,
              finish: Callable[[Any, dict[str, int]], None] | None = None) -> dict[str, int]:
        """Write the differences in one transaction; returns counts (updated, inserted, zeroed, cost_changed: the
        updated offers whose cost moved, and absent: the offers newly marked absent from a full feed).

        `finish(uow, counts)`, when given, records the run's outcome (its status, the stock pushes owed,
        settled reservations, audit) through a unit of work inside that same transaction, so a crash leaves
        either none of it or all of it. Its after-commit callbacks run once the transaction committed."""
        self._finish_load()
        cur = self.dbapi.cursor()
        # Through SQLAlchemy, so the unit of work given to `finish` joins this transaction (on SQLite the
        # engine's begin hook issues BEGIN IMMEDIATE; psycopg opens it itself).
        trans = self.conn.execution_options(sqlite_immediate=True).begin()
        uow = None
        try:
            if self.pg:  # two syncs of one supplier never interleave
                cur.execute("SELECT id FROM suppliers WHERE id = %(sid)s FOR UPDATE", {"sid": supplier_id})
                cur.execute(f"SET LOCAL work_mem = '{PG_SORT_MEM}'")
                cur.execute("SET LOCAL default_statistics_target = 10")  # ANALYZE feed_diff: its size is enough
            ts = now if self.pg else now.replace(tzinfo=None).isoformat(sep=" ")
            params = {"sid": supplier_id, "now": ts, "cur": self.currency or "USD"}
            # The diff is taken under the write lock, so a run that committed just before is seen.
            diff_rows = self._diff(cur, params, full)
            if self.pg:
                cur.execute("ANALYZE feed_diff")
            # PostgreSQL: a few percent of a supplier's offers are updated faster by looking each up by id, in
            # table order (the diff came out of a scan of it), than by hashing them against a scan of every
            # offer, the planner's pick: about a quarter less for 80k of 1M offers.
            few = self.pg and full and diff_rows * 8 <= self.count
            with self._planner(cur, few, enable_hashjoin="off", enable_mergejoin="off"):
                cur.execute(self._sql(COST_CHANGES))
                cost_changed = cur.fetchone()[0]
                if self._identity:  # before the update below overwrites what was stored
                    cur.execute(self._sql(IDENTITY_CHANGES))
                    self.identity_changes = [(r[0], r[1], Identity(*r[2:5]), Identity(*r[5:8]))
                                             for r in cur.fetchall()]
                cur.execute("SELECT 1 FROM feed_diff WHERE absent <> was_absent LIMIT 1")
                if cur.fetchone() is not None:  # the usual run marks nothing: no join
                    cur.execute(self._sql(ABSENCE_CHANGED))
                    self.absence_changed = [r[0] for r in cur.fetchall()]
                cur.execute(self._fill(UPDATE_CHANGED), params)
                updated = cur.rowcount
                cur.execute(self._sql(ZERO_ABSENT), params)
                zeroed = cur.rowcount
                cur.execute(self._sql(MARK_ABSENT), params)
                absent = cur.rowcount
            inserted = self._insert_new(cur, params)
            if diff_rows:
                cur.execute("SELECT 1 FROM listings LIMIT 1")
                if cur.fetchone() is not None:  # a first import lists nothing yet: no join over its diff
                    cur.execute(self._sql(MARK_PUSHES_DUE), params)
            counts = {"updated": updated, "inserted": inserted, "zeroed": zeroed, "cost_changed": cost_changed,
                      "absent": absent}
            if finish is not None:
                uow = self._joined_uow()
                finish(uow, counts)
                uow.session.flush()
            trans.commit()
        except BaseException:
            if uow is not None:
                uow.session.close()
            trans.rollback()
            raise
        finally:
            cur.close()
        if uow is not None:
            uow.session.close()
            uow.run_after_commit()
        if inserted > 10_000:
            # A first import of a big catalog leaves the planner thinking the table is small (on PostgreSQL
            # until autovacuum catches up; SQLite keeps no statistics at all until asked): the next run's
            # joins would pick nested loops over a million rows, e.g. 0.15 s on SQLite to find that no
            # reservation is held (_settle_reservations).
            cur = self.dbapi.cursor()
            cur.execute("ANALYZE supplier_offers")
            cur.close()
            if self.pg:
                self.dbapi.commit()
        return counts

    def _joined_uow(self):
        """A unit of work on this stage's connection, inside the transaction `apply` holds: its commit()
        only flushes; the caller commits and then runs its after-commit callbacks."""
        from sqlalchemy.orm import Session

        from .uow import JoinedUnitOfWork

        return JoinedUnitOfWork(Session(bind=self.conn, join_transaction_mode="rollback_only",
                                        expire_on_commit=False))

    @property
    def owner(self) -> str:
        """Who runs this stage's sync (host, pid, process start): recorded on the run (run_owner.py)."""
        return run_owner.owner_token()

    def hold_run(self, run_id: int) -> None:
        """Mark the run as under way for as long as this stage lives, so that a process can tell a running
        sync from one whose process died (see run_owner.py): on PostgreSQL a session lock named after the
        run, held by this stage's connection."""
        self._run_id = run_id
        run_owner.hold(run_id)
        if self.pg:
            cur = self.dbapi.cursor()
            cur.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK_CLASS, run_id))
            cur.close()
            self.dbapi.commit()

    def _diff(self, cur, params: dict, full: bool) -> int:
        """Fill feed_diff: changed offers, new SKUs (no offer_id) and, for a full feed, absent offers to zero
        (absent). Returns its row count."""
        if not full:
            cur.execute(self._fill(DIFF_FROM_STAGE.format(where="o.id IS NULL OR " + _DIFFERS)), params)
            return cur.rowcount
        if self.pg:
            # A stage in SKU order (a feed exported sorted, the usual case) merges with the offers sorted
            # likewise in about three quarters of the time of the hash join; out of order, the hash join wins.
            with self._planner(cur, self._in_sku_order(cur), enable_hashjoin="off"):
                cur.execute(self._fill(DIFF_FULL_JOIN), params)
            return cur.rowcount
        # SQLite: one pass over the supplier's offers in SKU order finds the changed and the absent; the new
        # SKUs need a second pass over the stage, run only when the counts show some.
        cur.execute(self._fill(DIFF_FROM_OFFERS), params)
        rows = cur.rowcount
        cur.execute(self._sql("""SELECT (SELECT COUNT(*) FROM supplier_offers WHERE supplier_id = :sid)
                                        - (SELECT COUNT(*) FROM feed_diff WHERE absent)"""), params)
        if self.count > cur.fetchone()[0]:  # more staged SKUs than offers they matched
            cur.execute(self._sql(DIFF_FROM_STAGE.format(where="o.id IS NULL")), params)
            rows += cur.rowcount
        return rows

    def _in_sku_order(self, cur) -> bool:
        """PostgreSQL: whether the stage's rows lie in SKU order, by the correlation ANALYZE measured."""
        cur.execute("SELECT correlation FROM pg_stats WHERE tablename = 'feed_stage' AND attname = 'sku' "
                    "AND schemaname = (SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema())")
        row = cur.fetchone()
        return bool(row and row[0] is not None and row[0] > 0.9)

    @contextlib.contextmanager
    def _planner(self, cur, when: bool, **settings: str):
        """PostgreSQL planner settings for the statements inside, `when` true. JIT off with them: the
        estimates of the plans they force would pay for compiling."""
        if not when:
            yield
            return
        settings["jit"] = "off"
        for name, value in settings.items():
            cur.execute(f"SET LOCAL {name} = {value}")
        yield
        for name in settings:
            cur.execute(f"SET LOCAL {name} TO DEFAULT")

    def _insert_new(self, cur, params: dict) -> int:
        """New SKUs: attach to the variant with the same GTIN (another supplier's offer of the same item) or
        the same SKU; otherwise create the variant. Returns the offers inserted."""
        cur.execute("SELECT 1 FROM feed_diff d WHERE d.offer_id IS NULL AND d.cost_minor IS NOT NULL LIMIT 1")
        if cur.fetchone() is None:  # the usual run: spares the planner's anti-join over every variant
            return 0
        cur.execute(self._sql("""
            INSERT INTO variants (sku, title, gtin)
            SELECT d.sku, '', d.gtin FROM feed_diff d
            WHERE d.offer_id IS NULL AND d.cost_minor IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM variants v WHERE v.sku = d.sku)
              AND (d.gtin IS NULL OR NOT EXISTS (SELECT 1 FROM variants v2 WHERE v2.gtin = d.gtin))"""),
            params)
        cur.execute(self._sql("""
            INSERT INTO supplier_offers (supplier_id, supplier_sku, variant_id, cost_minor, currency, stock,
                                         reserved, lead_time_days, as_of, updated_at, gtin, parent_sku, options)
            SELECT :sid, d.sku,
                   COALESCE((SELECT MIN(v.id) FROM variants v WHERE d.gtin IS NOT NULL AND v.gtin = d.gtin),
                            (SELECT v.id FROM variants v WHERE v.sku = d.sku)),
                   d.cost_minor, d.currency, d.stock, 0, d.lead_time_days, :now, :now, d.gtin_key, d.parent_sku,
                   d.options
            FROM feed_diff d
            WHERE d.offer_id IS NULL AND d.cost_minor IS NOT NULL"""), params)
        return cur.rowcount

    def close(self) -> None:
        self._loader.shutdown()  # lets a batch in flight finish: the connection is the loader's until then
        if self._run_id is not None:
            run_owner.release(self._run_id)
        if self.pg:
            # Not back to the pool: the session ends, whatever a failed run left open and the temp tables
            # with it, and the next run's connection is one whose temp_buffers can be set.
            self.conn.invalidate()
            self.conn.close()
            return
        try:
            cur = self.dbapi.cursor()
            if self._loading:
                cur.execute("ROLLBACK")
            cur.execute("DROP TABLE IF EXISTS feed_stage")
            cur.execute("DROP TABLE IF EXISTS feed_diff")
            for name, value in self._saved.items():
                cur.execute(f"PRAGMA {name}={value}")
            cur.close()
        finally:
            self.conn.close()

    def _fill(self, sql: str) -> str:
        """`sql` for this dialect, comparing identities only when some staged row states one: a feed of stock
        and costs alone pays nothing for the drift check."""
        if self._identity:
            return self._sql(sql.format(identity=_IDENTITY_DIFFERS, identity_set=_IDENTITY_SET,
                                        identity_columns=", gtin, parent_sku, options"))
        return self._sql(sql.format(identity="", identity_set="", identity_columns=""))

    def conflicting_skus(self, supplier_id: int) -> dict[str, bool]:
        """Staged SKUs whose offer is quarantined or whose stated identity changed (read before the catalog
        import, which must not let them rewrite the variant they were mapped to), each with whether it is new
        (not quarantined yet). Empty, without a query, when no staged row states an identity."""
        self._finish_load()
        if not self._identity:
            return {}
        cur = self.dbapi.cursor()
        cur.execute(self._sql(CONFLICTING_SKUS), {"sid": supplier_id})
        out = {sku: bool(new) for sku, new in cur.fetchall()}
        cur.close()
        if self.pg:
            self.dbapi.commit()
        return out

    # Named parameters: psycopg wants %(name)s, sqlite3 takes :name.
    def _sql(self, sql: str) -> str:
        if not self.pg:
            return sql.replace("IS DISTINCT FROM", "IS NOT")
        return re.sub(r":(\w+)", r"%(\1)s", sql)
