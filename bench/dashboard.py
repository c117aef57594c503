"""Dashboard page times with a year of trade in the database: 100,000 orders (two lines each, a supplier
order each, shipments for most) and 1,000,000 ledger entries, generated in bulk into SQLite and PostgreSQL.

Each page is requested in-process (the ASGI app through Starlette's test client, logged in as an owner, no
network) `--requests` times after a warm-up; the server time of each request is taken around the app call.
Reported per database: p50 and p95 of the overview (`/`), the orders list (`/orders`, first page and a
status filter), one order's detail page (`/orders/{id}`, a random order each time) and the margins page
(`/margins`, the last 30 days: charts and tables). Baseline in the same run: `/healthz` (one `SELECT 1`).
The last line takes the worse of the two databases per page:

    dashboard orders=100000 p95_ms_overview=A p95_ms_orders=B p95_ms_order=C p95_ms_margins=D

    python bench/dashboard.py [--orders 100000] [--requests 60]

Needs PostgreSQL at 127.0.0.1:5432 (user postgres) for its half; says so and reports SQLite alone otherwise.
Not part of the test suite; no timed assertions anywhere.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from dropbridge.bootstrap import bootstrap  # noqa: E402
from dropbridge.config import Settings  # noqa: E402
from dropbridge.storage import tables as t  # noqa: E402
from dropbridge.storage.migrate import upgrade  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
STORES, SUPPLIERS, SKUS = 3, 5, 2000
CHUNK = 20_000


def _chunks(rows, n=CHUNK):
    for i in range(0, len(rows), n):
        yield rows[i:i + n]


def generate(engine, orders: int, seed: int = 7) -> int:
    """Bulk rows through SQLAlchemy Core (its batched multi-row inserts); returns ledger entries written."""
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    ledger_total = 0
    with engine.begin() as conn:
        conn.execute(insert(t.stores), [{"id": i, "name": f"store{i}", "platform": "headless", "base_url": "",
                                         "config": {}, "created_at": start} for i in range(1, STORES + 1)])
        conn.execute(insert(t.suppliers), [{"id": i, "name": f"supplier{i}", "kind": "rest", "base_url": "",
                                            "config": {"currency": "USD", "lead_time_days": 5},
                                            "created_at": start} for i in range(1, SUPPLIERS + 1)])
        conn.execute(insert(t.products), [{"id": i, "sku": f"P{i}", "title": f"Product {i}", "description": "",
                                           "created_at": start} for i in range(1, SKUS + 1)])
        conn.execute(insert(t.variants), [{"id": i, "product_id": i, "sku": f"SKU{i}", "title": f"Variant {i}"}
                                          for i in range(1, SKUS + 1)])
        offers = []
        for v in range(1, SKUS + 1):
            for s in rnd.sample(range(1, SUPPLIERS + 1), 2):
                offers.append({"id": len(offers) + 1, "supplier_id": s, "supplier_sku": f"S{s}-{v}", "variant_id": v,
                               "cost_minor": rnd.randint(200, 4000), "currency": "USD", "stock": rnd.randint(0, 200),
                               "reserved": 0, "as_of": now, "updated_at": now})
        conn.execute(insert(t.supplier_offers), offers)
        conn.execute(insert(t.listings), [{"store_id": 1 + v % STORES, "variant_id": v, "price_minor": 2999,
                                           "currency": "USD", "pushed_stock": 10, "pushed_at": now}
                                          for v in range(1, SKUS + 1)])
        runs = [{"id": i, "supplier_id": 1 + i % SUPPLIERS, "source": f"feed{i}.csv", "mode": "full",
                 "status": "applied", "rows_read": 2000, "changed": 50, "unchanged": 1950, "zeroed": 0, "rejected": 0,
                 "report": {}, "started_at": now - timedelta(hours=i), "finished_at": now - timedelta(hours=i)}
                for i in range(1, 101)]
        conn.execute(insert(t.sync_runs), runs)
    statuses = ["shipped"] * 70 + ["delivered"] * 20 + ["submitted"] * 8 + ["on_hold", "cancelled"]
    for first in range(1, orders + 1, CHUNK):
        o_rows, l_rows, so_rows, sol_rows, sh_rows, e_rows, a_rows = [], [], [], [], [], [], []
        for oid in range(first, min(orders, first + CHUNK - 1) + 1):
            created = start + timedelta(seconds=rnd.randint(0, 365 * 86400))
            store = 1 + oid % STORES
            status = rnd.choice(statuses)
            o_rows.append({"id": oid, "store_id": store, "external_id": f"#{100000 + oid}",
                           "idempotency_key": f"k{oid}", "currency": "USD", "status": status,
                           "email": f"customer{oid % 5000}@example.com",
                           "ship_to": {"name": "Jane", "city": "Springfield", "country_code": "US"},
                           "shipping_price_minor": 499, "hold_reason": "expected margin below the floor"
                           if status == "on_hold" else None, "flags": {}, "fx": {}, "created_at": created,
                           "updated_at": created})
            supplier = 1 + oid % SUPPLIERS
            so_id = oid
            so_rows.append({"id": so_id, "supplier_id": supplier, "order_id": oid, "idempotency_key": f"db-{oid}-s",
                            "status": "shipped" if status in ("shipped", "delivered") else "submitted",
                            "external_id": f"X{oid}", "shipping_cost_minor": 400, "currency": "USD",
                            "submitted_at": created, "created_at": created, "updated_at": created})
            for n in (1, 2):
                lid = oid * 2 - 2 + n
                sku = rnd.randint(1, SKUS)
                price, cost = rnd.randint(1500, 6000), rnd.randint(500, 3000)
                cands = [{"offer_id": 2 * sku - k, "supplier": f"supplier{1 + (sku + k) % SUPPLIERS}",
                          "supplier_sku": f"S-{sku}", "available": 20, "landed_cost": f"{cost / 100:.2f} USD",
                          "score": f"{cost / 100:.2f}", "eligible": True, "chosen": k == 0,
                          "reason": "cheapest landed cost" if k == 0 else "costs more"} for k in (0, 1)]
                l_rows.append({"id": lid, "order_id": oid, "line_no": n, "external_id": str(n), "sku": f"SKU{sku}",
                               "variant_id": sku, "quantity": 1, "unit_price_minor": price, "status": "shipped",
                               "routing": {"reason": "cheapest landed cost", "candidates": cands}})
                sol_rows.append({"supplier_order_id": so_id, "order_line_id": lid, "supplier_sku": f"S-{sku}",
                                 "quantity": 1, "unit_cost_minor": cost, "currency": "USD"})
                e_rows.append(_entry(oid, lid, store, None, "revenue", price, created))
                e_rows.append(_entry(oid, lid, store, supplier, "supplier_cost", -cost, created))
            for kind, amount, sup in (("shipping_revenue", 499, None), ("supplier_shipping", -400, supplier),
                                      ("payment_fee", -120, None), ("platform_fee", -60, None),
                                      ("commission", -30, None), ("fx_difference", 0, None)):
                e_rows.append(_entry(oid, None, store, sup, kind, amount, created))
            if status in ("shipped", "delivered"):
                sh_rows.append({"id": oid, "supplier_order_id": so_id, "carrier": "UPS", "tracking_number": f"1Z{oid}",
                                "tracking_url": f"https://track.example/1Z{oid}", "lines": [],
                                "shipped_at": created, "pushed_at": created, "created_at": created})
            for action in ("order.received", "order.routed", "supplier_order.submitted"):
                a_rows.append({"at": created, "actor": "system", "action": action,
                               "subject": f"order:{oid}" if action != "supplier_order.submitted"
                               else f"supplier_order:{so_id}", "detail": {"n": oid}, "correlation_id": None,
                               "store_id": store, "supplier_id": None})
        with engine.begin() as conn:
            for table, rows in ((t.orders, o_rows), (t.order_lines, l_rows), (t.supplier_orders, so_rows),
                                (t.supplier_order_lines, sol_rows), (t.shipments, sh_rows),
                                (t.ledger_entries, e_rows), (t.audit_events, a_rows)):
                for part in _chunks(rows, 5000):
                    conn.execute(insert(table), part)
        ledger_total += len(e_rows)
        print(f"  {min(orders, first + CHUNK - 1):>7} orders, {ledger_total:>8} ledger entries", flush=True)
    with engine.begin() as conn:
        conn.execute(insert(t.alerts), [{"kind": "feed.stale", "severity": "warning", "message": f"alert {i}",
                                         "created_at": now, "dedupe_key": f"bench:{i}", "occurrences": 1,
                                         "resolved_at": now if i % 10 else None} for i in range(2000)])
        if engine.dialect.name == "postgresql":
            for table in ("stores", "suppliers", "products", "variants", "supplier_offers", "orders", "order_lines",
                          "supplier_orders", "shipments", "sync_runs"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return ledger_total


def _entry(oid, lid, store, supplier, kind, amount, at):
    return {"order_id": oid, "order_line_id": lid, "store_id": store, "supplier_id": supplier, "kind": kind,
            "amount_minor": amount, "currency": "USD", "memo": "", "created_at": at}


def measure(app, orders: int, requests: int) -> dict[str, list[float]]:
    from starlette.testclient import TestClient

    from dropbridge.api.app import create_app
    from dropbridge.services.users import add_user

    add_user(app.ctx, "bench@example.com", "owner", "bench-password-1")
    asgi = create_app(app)
    timings: dict[str, list[float]] = {}

    async def timed(scope, receive, send):  # server time: from the request reaching the app to its answer
        started = time.perf_counter()
        try:
            await asgi(scope, receive, send)
        finally:
            if scope["type"] == "http":
                timings.setdefault(scope["path"], []).append((time.perf_counter() - started) * 1000)

    rnd = random.Random(11)
    with TestClient(timed, follow_redirects=False) as client:
        client.get("/login")
        r = client.post("/login", data={"csrftoken": client.cookies.get("dropbridge_csrf"),
                                        "email": "bench@example.com", "password": "bench-password-1"})
        assert r.status_code == 303, r.text
        pages = {
            "healthz": lambda: "/healthz",
            "overview": lambda: "/",
            "orders": lambda: rnd.choice(["/orders", "/orders?status=on_hold", "/orders?page=3",
                                          "/orders?store=store2"]),
            "order": lambda: f"/orders/{rnd.randint(1, orders)}",
            "margins": lambda: "/margins",
        }
        out = {}
        for name, url in pages.items():
            for _ in range(3):  # warm-up
                assert client.get(url()).status_code == 200
            timings.clear()
            for _ in range(requests):
                r = client.get(url())
                assert r.status_code == 200, (name, r.status_code)
            out[name] = [ms for series in timings.values() for ms in series]
    return out


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(db_url: str, data_dir: Path, orders: int, requests: int) -> dict[str, float]:
    settings = Settings(data_dir=data_dir, database_url=db_url, queue_url="memory://",
                        secret_keys=Fernet.generate_key().decode())
    app = bootstrap(settings)
    upgrade(app.engine)
    started = time.perf_counter()
    entries = generate(app.engine, orders)
    print(f"  generated {orders} orders and {entries} ledger entries in {time.perf_counter() - started:.0f} s")
    result = measure(app, orders, requests)
    app.close()
    p95 = {}
    for name, values in result.items():
        p95[name] = pct(values, 95)
        print(f"  {name:<9} p50 {pct(values, 50):7.1f} ms  p95 {p95[name]:7.1f} ms  ({len(values)} requests)")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    results = {}
    with tempfile.TemporaryDirectory(prefix="db-bench-") as tmp:
        print("== SQLite")
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", Path(tmp), args.orders, args.requests)
        try:
            import psycopg

            admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
        except Exception as exc:
            print(f"== PostgreSQL unavailable ({exc}); SQLite alone")
            admin = None
        if admin is not None:
            name = f"dropbridge_bench_{uuid.uuid4().hex[:8]}"
            admin.execute(f'CREATE DATABASE "{name}"')
            try:
                print("== PostgreSQL")
                results["postgresql"] = run(f"postgresql://postgres@127.0.0.1:5432/{name}", Path(tmp) / "pg",
                                            args.orders, args.requests)
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()
    worst = {page: max(r[page] for r in results.values()) for page in ("overview", "orders", "order", "margins")}
    base = max(r["healthz"] for r in results.values())
    print(f"baseline /healthz p95 {base:.1f} ms (worse of the databases); pages against it: "
          + ", ".join(f"{k} {v / base:.0f}x" for k, v in worst.items()))
    print(json.dumps({db: {k: round(v, 1) for k, v in r.items()} for db, r in results.items()}))
    print(f"dashboard orders={args.orders} p95_ms_overview={worst['overview']:.0f} p95_ms_orders={worst['orders']:.0f} "
          f"p95_ms_order={worst['order']:.0f} p95_ms_margins={worst['margins']:.0f}")


if __name__ == "__main__":
    main()
