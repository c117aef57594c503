"""Order and webhook intake's hot path: whole batches in as few statements as the dialect allows."""

from __future__ import annotations

import functools
import json
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, text

from . import tables as t


class OrderIntakeRepo:
    """Order intake's writes in as few statements as the rows allow, on a plain connection (no ORM unit of
    work: on the busiest path it cost more than the database did). Insert first: the unique constraints on
    (store, external id) and (store, idempotency key) decide whether an order is new, also under races, so
    there is no read before the write. The service builds every row; this only stores them."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def store(self, name: str) -> tuple[int, str, dict] | None:
        """(id, name, config) of a store."""
        row = self.conn.execute(_STORE_BY_NAME, {"name": name}).first()
        return (row[0], row[1], row[2] or {}) if row is not None else None

    def add_order_if_new_for_store(self, store_name: str, values: dict) -> tuple[int, dict, int | None] | None:
        """`add_order_if_new` for the store named `store_name`, whose id goes into the row: (store id, store
        config, new order id or None), or None when there is no such store. One statement on PostgreSQL."""
        if self.conn.dialect.name == "postgresql":
            row = self.conn.execute(_PG_STORE_AND_ORDER, {"store_name": store_name, **values}).first()
            return (row[0], row[1] or {}, row[2]) if row is not None else None
        store = self.store(store_name)
        if store is None:
            return None
        return store[0], store[2], self.add_order_if_new({**values, "store_id": store[0]})

    def add_order_if_new(self, values: dict) -> int | None:
        """Insert an order row; its id, or None when an order with the same external id or idempotency key
        is already stored for the store (nothing is written then; the transaction stays usable)."""
        return self.conn.execute(_insert_if_new(self.conn.dialect.name, "orders", "id"), values).scalar()

    def add_order_details(self, order_id: int, lines: list[dict], ledger: list[dict], job: dict,
                          audit: dict) -> int:
        """A new order's lines, ledger entries, outbox job and audit event; returns the job's id.

        Lines name their SKU (the variant id is looked up here) and their `line_no`; a ledger row names the
        `line_no` it belongs to (None for the order as a whole) and gets that line's id. An existing job key
        raises IntegrityError: the unique key is the guard. On PostgreSQL this is one statement (one round
        trip instead of four), elsewhere one per table."""
        if self.conn.dialect.name == "postgresql":
            return self.conn.execute(_PG_ORDER_DETAILS, {
                "order_id": order_id,
                "lines": _json_rows(lines),
                "ledger": _json_rows([{**e, "seq": i} for i, e in enumerate(ledger)]),
                **{f"job_{k}": v for k, v in job.items()},
                **{f"audit_{k}": v for k, v in audit.items()},
            }).scalar_one()
        ids = dict(zip([ln["line_no"] for ln in lines], self.conn.execute(_INSERT_LINES, [
            {**ln, "order_id": order_id, "variant_sku": ln["sku"]} for ln in lines]).scalars(), strict=True))
        if ledger:
            self.conn.execute(_INSERT_LEDGER, [
                {k: v for k, v in {**e, "order_id": order_id, "order_line_id": ids.get(e["line_no"])}.items()
                 if k != "line_no"} for e in ledger])
        job_id = self.conn.execute(_INSERT_JOB, job).scalar_one()
        self.conn.execute(_INSERT_AUDIT, audit)
        return job_id

    def stores_named(self, names: list[str]) -> dict[str, tuple[int, dict]]:
        """{name: (id, config)} of the stores among `names` that exist."""
        rows = self.conn.execute(_STORES_BY_NAMES, {"names": names})
        return {row.name: (row.id, row.config or {}) for row in rows}

    def add_new_orders(self, orders: list[dict], lines: list[dict], ledger: list[dict], job: dict,
                       audit: dict) -> dict[int, tuple[int, int]]:
        """Many orders at once (group commit): each order row names its request by `idx` and carries its
        audit event's `audit_detail` and `correlation_id`; lines and ledger entries name their order's `idx`
        (and `line_no`). Orders already stored (same external id or idempotency key) are skipped silently.
        Each new order gets one outbox job and one audit event from the templates `job` and `audit`, whose
        `key` and `subject` are prefixes the order id completes (the job's payload gets `order_id`).
        Returns {idx: (order id, job id)} for the orders inserted.

        Rows go in (store, external id) order, so two batches racing for the same orders lock them in the
        same order and cannot deadlock. One statement on PostgreSQL; elsewhere the per-order statements."""
        orders = sorted(orders, key=lambda o: (o["store_id"], o["external_id"]))
        if self.conn.dialect.name == "postgresql":
            rows = self.conn.execute(_PG_NEW_ORDERS, {
                "orders": _json_rows(orders), "lines": _json_rows(lines), "ledger": _json_rows(ledger),
                **{f"job_{k}": v for k, v in job.items() if k != "payload"},
                "job_payload": json.dumps(job["payload"]),
                **{f"audit_{k}": v for k, v in audit.items() if k in ("at", "actor", "action", "subject")},
            })
            return {row.idx: (row.order_id, row.job_id) for row in rows}
        return self._add_new_orders_sqlite(orders, lines, ledger, job, audit)

    def _add_new_orders_sqlite(self, orders: list[dict], lines: list[dict], ledger: list[dict], job: dict,
                               audit: dict) -> dict[int, tuple[int, int]]:
        """add_new_orders on SQLite, which has no data-modifying CTEs: one statement per table for the whole
        batch, each reading its rows from a JSON array (the per-order statements cost more Python than the
        rest of a request)."""
        encode = _sqlite_json_rows(self.conn)
        inserted = self.conn.execute(_SQLITE_INSERT["orders"], {"rows": encode(
            [{c: o[c] for c in ("store_id", *_ORDER_COLUMNS)} for o in orders])})
        by_key = {(row.store_id, row.external_id): row.id for row in inserted}
        order_of = {o["idx"]: (by_key[key], o) for o in orders if (key := (o["store_id"], o["external_id"])) in by_key}
        if not order_of:
            return {}
        self.conn.execute(_SQLITE_INSERT["order_lines"], {"rows": encode(
            [{**ln, "order_id": order_of[ln["idx"]][0]} for ln in lines if ln["idx"] in order_of])})
        if entries := [{**e, "order_id": order_of[e["idx"]][0]} for e in ledger if e["idx"] in order_of]:
            self.conn.execute(_SQLITE_INSERT["ledger_entries"], {"rows": encode(entries)})
        self.conn.execute(_SQLITE_INSERT["audit_events"], {"rows": encode([
            {**audit, "subject": f"{audit['subject']}{order_id}", "detail": o["audit_detail"],
             "correlation_id": o["correlation_id"], "store_id": o["store_id"], "supplier_id": None}
            for order_id, o in order_of.values()])})
        jobs = self.conn.execute(_SQLITE_INSERT["jobs"], {"rows": encode([
            {**job, "key": f"{job['key']}{order_id}", "payload": {**job["payload"], "order_id": order_id}}
            for order_id, _ in order_of.values()])})
        job_of = {row.key: row.id for row in jobs}
        return {idx: (order_id, job_of[f"{job['key']}{order_id}"]) for idx, (order_id, _) in order_of.items()}


class WebhookIntakeRepo:
    """Webhook intake on a plain connection (see LeanUnitOfWork): received events and their jobs, many at
    once. The (source, event id) unique key decides what is new, also under races."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def add_new_events(self, rows: list[dict]) -> dict[int, int]:
        """Insert the events (rows name their request by `idx`) not stored yet: {idx: new event id}."""
        idx = {(row["source"], row["event_id"]): row["idx"] for row in rows}
        stmt = _insert_if_new(self.conn.dialect.name, "webhook_events", "id", "source", "event_id")
        inserted = self.conn.execute(stmt, [{k: v for k, v in row.items() if k != "idx"} for row in rows])
        return {idx[(row.source, row.event_id)]: row.id for row in inserted}

    def add_jobs(self, jobs: list[dict]) -> list[int]:
        return list(self.conn.execute(_INSERT_JOB, jobs).scalars())


_STORE_BY_NAME = select(t.stores.c.id, t.stores.c.name, t.stores.c.config).where(
    t.stores.c.name == bindparam("name"))
_INSERT_LINES = (
    insert(t.order_lines)
    .values(variant_id=select(t.variants.c.id).where(t.variants.c.sku == bindparam("variant_sku"))
            .scalar_subquery())
    .returning(t.order_lines.c.id, sort_by_parameter_order=True)
)
# RETURNING makes SQLAlchemy send the rows as one multi-row INSERT.
_INSERT_LEDGER = insert(t.ledger_entries).returning(t.ledger_entries.c.id)
_INSERT_JOB = insert(t.jobs).returning(t.jobs.c.id)
_INSERT_AUDIT = insert(t.audit_events)

_ORDER_COLUMNS = ("external_id", "idempotency_key", "request_hash", "intake_response", "currency", "status", "email",
                  "ship_to", "shipping_price_minor", "hold_reason", "flags", "fx", "created_at", "updated_at")
_PG_STORE_AND_ORDER = text(f"""
WITH s AS (SELECT id, config FROM stores WHERE name = :store_name),
o AS (
  INSERT INTO orders (store_id, {", ".join(_ORDER_COLUMNS)})
  SELECT s.id, {", ".join(f":{c}" for c in _ORDER_COLUMNS)} FROM s
  ON CONFLICT DO NOTHING
  RETURNING id
)
SELECT s.id, s.config, (SELECT id FROM o) FROM s
""").bindparams(*(bindparam(c, type_=t.orders.c[c].type) for c in _ORDER_COLUMNS))

_STORES_BY_NAMES = select(t.stores.c.id, t.stores.c.name, t.stores.c.config).where(
    t.stores.c.name.in_(bindparam("names", expanding=True)))

# A batch of orders and everything a new order brings, in one statement (see add_new_orders). JSON rather
# than jsonb keeps each stored document's key order. `ro` pairs each inserted order with its request.
_PG_NEW_ORDERS = text(f"""
WITH r AS (
  SELECT * FROM json_to_recordset(CAST(:orders AS json)) AS r(
    idx integer, store_id bigint, external_id text, idempotency_key text, request_hash text, intake_response json,
    currency text, status text, email text, ship_to json, shipping_price_minor bigint, hold_reason text,
    flags json, fx json, created_at timestamptz, updated_at timestamptz, audit_detail json, correlation_id text)
), o AS (
  INSERT INTO orders (store_id, {", ".join(_ORDER_COLUMNS)})
  SELECT store_id, {", ".join(_ORDER_COLUMNS)} FROM r ORDER BY store_id, external_id
  ON CONFLICT DO NOTHING
  RETURNING id, store_id, external_id
), ro AS (
  SELECT r.*, o.id AS order_id FROM r JOIN o ON o.store_id = r.store_id AND o.external_id = r.external_id
), l AS (
  INSERT INTO order_lines (order_id, line_no, external_id, sku, variant_id, quantity, unit_price_minor, status,
                           offer_id, routing)
  SELECT ro.order_id, v.line_no, v.external_id, v.sku, (SELECT id FROM variants WHERE variants.sku = v.sku),
         v.quantity, v.unit_price_minor, v.status, NULL, NULL
  FROM json_to_recordset(CAST(:lines AS json))
       AS v(idx integer, line_no integer, external_id text, sku text, quantity integer, unit_price_minor bigint,
            status text)
  JOIN ro ON ro.idx = v.idx
  ORDER BY v.idx, v.line_no
  RETURNING id, order_id, line_no
), e AS (
  INSERT INTO ledger_entries (order_id, order_line_id, store_id, supplier_id, kind, amount_minor, currency, memo,
                              created_at)
  SELECT ro.order_id, l.id, x.store_id, x.supplier_id, x.kind, x.amount_minor, x.currency, x.memo, x.created_at
  FROM json_to_recordset(CAST(:ledger AS json))
       AS x(idx integer, seq integer, line_no integer, store_id bigint, supplier_id bigint, kind text,
            amount_minor bigint, currency text, memo text, created_at timestamptz)
  JOIN ro ON ro.idx = x.idx
  LEFT JOIN l ON l.order_id = ro.order_id AND l.line_no = x.line_no
  ORDER BY x.idx, x.seq
), a AS (
  INSERT INTO audit_events (at, actor, action, subject, detail, correlation_id, store_id, supplier_id)
  SELECT :audit_at, :audit_actor, :audit_action, :audit_subject || ro.order_id, ro.audit_detail,
         ro.correlation_id, ro.store_id, NULL
  FROM ro ORDER BY ro.idx
), j AS (
  INSERT INTO jobs (kind, key, payload, status, attempts, available_at, created_at, updated_at)
  SELECT :job_kind, :job_key || ro.order_id,
         CAST(CAST(:job_payload AS jsonb) || jsonb_build_object('order_id', ro.order_id) AS json),
         :job_status, :job_attempts, :job_available_at, :job_created_at, :job_updated_at
  FROM ro ORDER BY ro.idx
  RETURNING id, key
)
SELECT ro.idx, ro.order_id, j.id AS job_id FROM ro JOIN j ON j.key = :job_key || ro.order_id
""").bindparams(
    bindparam("audit_at", type_=t.audit_events.c.at.type),
    bindparam("job_available_at", type_=t.jobs.c.available_at.type),
    bindparam("job_created_at", type_=t.jobs.c.created_at.type),
    bindparam("job_updated_at", type_=t.jobs.c.updated_at.type),
)

# Lines and ledger entries travel as JSON arrays (one statement text whatever the row count, so PostgreSQL
# keeps it prepared), inserted in the order given (ORDER BY: ids follow it); data-modifying CTEs all run, in
# one snapshot, as part of the statement.
_PG_ORDER_DETAILS = text("""
WITH l AS (
  INSERT INTO order_lines (order_id, line_no, external_id, sku, variant_id, quantity, unit_price_minor, status,
                           offer_id, routing)
  SELECT :order_id, v.line_no, v.external_id, v.sku, (SELECT id FROM variants WHERE variants.sku = v.sku),
         v.quantity, v.unit_price_minor, v.status, NULL, NULL
  FROM jsonb_to_recordset(CAST(:lines AS jsonb))
       AS v(line_no integer, external_id text, sku text, quantity integer, unit_price_minor bigint, status text)
  ORDER BY v.line_no
  RETURNING id, line_no
), e AS (
  INSERT INTO ledger_entries (order_id, order_line_id, store_id, supplier_id, kind, amount_minor, currency, memo,
                              created_at)
  SELECT :order_id, l.id, x.store_id, x.supplier_id, x.kind, x.amount_minor, x.currency, x.memo,
         CAST(x.created_at AS timestamptz)
  FROM jsonb_to_recordset(CAST(:ledger AS jsonb))
       AS x(line_no integer, store_id bigint, supplier_id bigint, kind text, amount_minor bigint, currency text,
            memo text, created_at text, seq integer)
  LEFT JOIN l ON l.line_no = x.line_no
  ORDER BY x.seq
), a AS (
  INSERT INTO audit_events (at, actor, action, subject, detail, correlation_id, store_id, supplier_id)
  VALUES (:audit_at, :audit_actor, :audit_action, :audit_subject, :audit_detail, :audit_correlation_id,
          :audit_store_id, :audit_supplier_id)
)
INSERT INTO jobs (kind, key, payload, status, attempts, available_at, created_at, updated_at)
VALUES (:job_kind, :job_key, :job_payload, :job_status, :job_attempts, :job_available_at, :job_created_at,
        :job_updated_at)
RETURNING id
""").bindparams(
    bindparam("audit_at", type_=t.audit_events.c.at.type),
    bindparam("audit_detail", type_=t.audit_events.c.detail.type),
    bindparam("job_payload", type_=t.jobs.c.payload.type),
    bindparam("job_available_at", type_=t.jobs.c.available_at.type),
    bindparam("job_created_at", type_=t.jobs.c.created_at.type),
    bindparam("job_updated_at", type_=t.jobs.c.updated_at.type),
)


def _sqlite_json_insert(table: str, columns: tuple[str, ...], *, computed: dict[str, str] | None = None,
                        suffix: str = ""):
    """INSERT INTO `table` every object of the JSON array `:rows` (SQLite), each column from the key of its
    name unless `computed` gives its expression. `WHERE true` lets an ON CONFLICT clause follow the SELECT."""
    def value(column: str) -> str:
        return (computed or {}).get(column, f"json_extract(r.value, '$.{column}')")

    return text(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(map(value, columns))} "
                f"FROM json_each(:rows) AS r WHERE true {suffix}")


_SQLITE_INSERT = {
    "orders": _sqlite_json_insert("orders", ("store_id", *_ORDER_COLUMNS),
                                  suffix="ON CONFLICT DO NOTHING RETURNING id, store_id, external_id"),
    "order_lines": _sqlite_json_insert(
        "order_lines", ("order_id", "line_no", "external_id", "sku", "variant_id", "quantity", "unit_price_minor",
                        "status"),
        computed={"variant_id": "(SELECT id FROM variants WHERE variants.sku = json_extract(r.value, '$.sku'))"}),
    "ledger_entries": _sqlite_json_insert(
        "ledger_entries", ("order_id", "order_line_id", "store_id", "supplier_id", "kind", "amount_minor", "currency",
                           "memo", "created_at"),
        computed={"order_line_id": "(SELECT id FROM order_lines AS l WHERE l.order_id = json_extract(r.value, "
                                   "'$.order_id') AND l.line_no = json_extract(r.value, '$.line_no'))"}),
    "audit_events": _sqlite_json_insert(
        "audit_events", ("at", "actor", "action", "subject", "detail", "correlation_id", "store_id", "supplier_id")),
    "jobs": _sqlite_json_insert(
        "jobs", ("kind", "key", "payload", "status", "attempts", "available_at", "created_at", "updated_at"),
        suffix="RETURNING id, key"),
}


def _sqlite_json_rows(conn: Connection):
    """_json_rows for the _SQLITE_INSERT statements: datetimes as the text our UTC columns store on SQLite."""
    as_stored = t.orders.c.created_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return lambda rows: _json_rows(rows, as_stored)


def _json_rows(rows: list[dict], time=datetime.isoformat) -> str:
    def encode(value):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            return time(value)
        raise TypeError(f"cannot store {type(value).__name__} in a row")

    return json.dumps(rows, default=encode)


@functools.cache
def _insert_if_new(dialect: str, table: str, *returning: str):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING `returning` for `dialect`. Without a conflict target it covers
    every unique constraint of the table (PostgreSQL, SQLite >= 3.35); skipped rows return nothing."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    target = t.metadata.tables[table]
    return dialect_insert(target).on_conflict_do_nothing().returning(*(target.c[c] for c in returning))
