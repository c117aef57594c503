"""Order intake and submission, measured in one run.

1. Ingest: the API in its own process(es) (uvicorn, --workers 1 on SQLite, 2 on PostgreSQL), loaded by an
   asyncio client with 32 concurrent connections posting distinct headless orders. Reported: orders/s and
   the p99 time to acknowledge. Baseline in the same run: the same server stack answering a bare
   `/healthz` (the HTTP ceiling on this machine), so the ratio says what our intake costs on top.
2. Submission: the embedded default (API + worker in one process), orders posted one at a time, time from
   the order's creation to its supplier order being accepted by the emulated supplier (p50).

    python bench/orders.py [--orders 2000] [--submit-orders 60]

Needs PostgreSQL at 127.0.0.1:5432 (user postgres) for the PostgreSQL figures; skips them otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from cryptography.fernet import Fernet  # noqa: E402

PG_ADMIN = os.environ.get("DROPBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SHIP_TO = {"name": "Jane", "address1": "1 Main St", "city": "Springfield", "country_code": "US"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db_url: str, data_dir: Path, keys: str) -> tuple[dict, str]:
    """Migrate, add a store, a supplier with stock, and a token; return (env, token)."""
    from dropbridge.bootstrap import bootstrap
    from dropbridge.config import Settings
    from dropbridge.services.connections import add_store, add_supplier
    from dropbridge.services.tokens import create_token
    from dropbridge.storage.migrate import upgrade

    env = {"DROPBRIDGE_DATA_DIR": str(data_dir), "DROPBRIDGE_DATABASE_URL": db_url,
           "DROPBRIDGE_QUEUE_URL": f"sqlite:///{data_dir / 'queue.db'}", "DROPBRIDGE_SECRET_KEYS": keys,
           "DROPBRIDGE_LOG_LEVEL": "WARNING"}
    app = bootstrap(Settings(data_dir=data_dir, database_url=db_url, queue_url=env["DROPBRIDGE_QUEUE_URL"],
                             secret_keys=keys))
    upgrade(app.engine)
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/none", {"webhook_secret": "s"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    import io

    from dropbridge.services.sync_feed import sync_feed

    sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nITEM,1000000,5.00\n"), "stock.csv")
    token = create_token(app.ctx, "bench")
    app.close()
    return env, token


def start_api(env: dict, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "dropbridge.api.asgi:build",
                             "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                             "--no-access-log"], env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("API did not start")


async def load(url: str, token: str, n: int, concurrency: int, path: str) -> tuple[float, list[float]]:
    latencies: list[float] = []
    run = uuid.uuid4().hex[:6]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=60) as client:
        async def worker():
            while not queue.empty():
                i = queue.get_nowait()
                t0 = time.perf_counter()
                if path == "/healthz":
                    r = await client.get(path)
                else:
                    body = {"store": "shop", "external_id": f"B{run}-{i}", "currency": "USD", "ship_to": SHIP_TO,
                            "lines": [{"sku": "ITEM", "quantity": 1, "unit_price": "19.99"}]}
                    r = await client.post(path, json=body, headers={"Idempotency-Key": f"B{run}-{i}"})
                latencies.append(time.perf_counter() - t0)
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"{path}: HTTP {r.status_code} {r.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 10 else max(values)


def measure_ingest(db_url: str, workers: int, n: int, keys: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        env, token = prepare(db_url, Path(d), keys)
        proc, url = start_api(env, workers)
        try:
            asyncio.run(load(url, token, min(200, n // 5), 32, "/api/v1/orders"))  # warm up
            hz_s, _ = asyncio.run(load(url, token, n, 32, "/healthz"))
            elapsed, lat = asyncio.run(load(url, token, n, 32, "/api/v1/orders"))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return {"per_s": n / elapsed, "p99_ms": p(lat, 0.99) * 1000, "p50_ms": p(lat, 0.50) * 1000,
            "ceiling_per_s": n / hz_s}


def measure_submit(n: int, keys: str) -> list[float]:
    """Embedded default: order creation to the supplier's acceptance, seconds."""
    from dropbridge.bootstrap import bootstrap
    from dropbridge.config import Settings
    from dropbridge.jobs.queue import Ticker
    from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
    from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
    from dropbridge.services.connections import add_store, add_supplier
    from dropbridge.storage.migrate import upgrade

    with tempfile.TemporaryDirectory() as d:
        data = Path(d)
        app = bootstrap(Settings(data_dir=data, secret_keys=keys, log_level="WARNING"))
        upgrade(app.engine)
        emu, store = RestSupplierEmulator(api_key="k", ship_after_seconds=None), HeadlessStoreEmulator("s")
        emu.start()
        store.start()
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "s"})
        add_supplier(app.ctx, "acme", "rest", emu.url, {"api_key": "k"}, {"currency": "USD"})
        import io

        from dropbridge.services.ingest_order import ingest_order
        from dropbridge.services.sync_feed import sync_feed

        sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nITEM,100000,5.00\n"), "stock.csv")
        consumer = app.huey.create_consumer(workers=app.settings.worker_threads, worker_type="thread")
        ticker = Ticker(app.ctx, app.huey)
        consumer.start()
        ticker.start()
        from dropbridge.connectors.base import Address, ExternalOrder, ExternalOrderLine
        from dropbridge.domain.money import Money

        waits = []
        try:
            for i in range(n):
                t0 = time.perf_counter()
                ingest_order(app.ctx, "shop", ExternalOrder(
                    external_id=f"S-{i}", currency="USD", ship_to=Address(name="J", address1="1", city="X",
                                                                          country_code="US"),
                    lines=[ExternalOrderLine("1", "ITEM", 1, Money(1999, "USD"))]))
                while len(emu.orders()) <= i:
                    time.sleep(0.002)
                waits.append(time.perf_counter() - t0)
        finally:
            ticker.stop()
            consumer.stop(graceful=True)
            emu.stop()
            store.stop()
            app.close()
        return waits


def pg_database() -> str | None:
    try:
        import psycopg

        conn = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL unavailable ({exc}); skipping its figures")
        return None
    name = f"dropbridge_bench_{uuid.uuid4().hex[:8]}"
    conn.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def drop_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--submit-orders", type=int, default=60)
    args = parser.parse_args()
    keys = Fernet.generate_key().decode()

    with tempfile.TemporaryDirectory() as d:
        sqlite = measure_ingest(f"sqlite:///{Path(d) / 'bench.db'}", 1, args.orders, keys)
    print(f"sqlite ingest: {sqlite['per_s']:.0f} orders/s, p50 {sqlite['p50_ms']:.1f} ms, p99 {sqlite['p99_ms']:.1f} ms"
          f" (bare HTTP ceiling {sqlite['ceiling_per_s']:.0f}/s)")
    pg = None
    pg_url = pg_database()
    if pg_url:
        try:
            pg = measure_ingest(pg_url, 2, args.orders, keys)
        finally:
            drop_pg(pg_url)
        print(f"postgresql ingest: {pg['per_s']:.0f} orders/s, p50 {pg['p50_ms']:.1f} ms, p99 {pg['p99_ms']:.1f} ms"
              f" (bare HTTP ceiling {pg['ceiling_per_s']:.0f}/s)")
    waits = measure_submit(args.submit_orders, keys)
    print(f"submission (embedded): p50 {statistics.median(waits) * 1000:.0f} ms, max {max(waits) * 1000:.0f} ms")
    pg_part = f"ingest_pg_per_s={pg['per_s']:.0f} " if pg else "ingest_pg_per_s=n/a "
    p99 = max(sqlite["p99_ms"], pg["p99_ms"]) if pg else sqlite["p99_ms"]
    print(f"orders ingest_sqlite_per_s={sqlite['per_s']:.0f} {pg_part}p99_ack_ms={p99:.1f} "
          f"submit_p50_ms={statistics.median(waits) * 1000:.0f} "
          f"vs_http_ceiling_sqlite={sqlite['per_s'] / sqlite['ceiling_per_s']:.2f}x"
          + (f" vs_http_ceiling_pg={pg['per_s'] / pg['ceiling_per_s']:.2f}x" if pg else ""))


if __name__ == "__main__":
    main()
