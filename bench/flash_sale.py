"""A flash sale through routing: signed order webhooks arriving at a steady rate, until every supplier order is
placed at the supplier emulator.

    python bench/flash_sale.py [--orders 10000] [--seconds 20] [--skus 50] [--workers 2] [--api-workers 2]

The scaled deployment: PostgreSQL (a fresh database, created and dropped here), a Redis queue (db 13 by default,
`--redis-url`), the API in its own processes (uvicorn `--api-workers`) and `--workers` `dropbridge worker`
processes (one runs the scheduler). One headless store; one REST supplier (its emulator, a real HTTP server in
this process) whose feed offers `--skus` SKUs, each with exactly as many units as the sale orders of it, so any
oversell or lost order shows. `--orders` signed `order.created` webhooks (each its own event and order of one
unit) are sent at an even pace over `--seconds` from this process, on 16 keep-alive connections.

Measured at the supplier emulator: the supplier orders placed (one per order: `placed` counts our orders that
reached it), duplicates (supplier orders beyond the first for one of our orders or one reference), oversold
(units placed beyond the feed's stock, summed over SKUs), the rate from the first webhook sent to the last
supplier order placed, and the p99 from an order's webhook being sent to its supplier order being placed.

Also printed: PostgreSQL transactions committed per order in the bench's database (pg_stat_database).

Last line: flash_sale orders=N placed=P per_s=T p99_order_to_placed_ms=L oversold=O duplicates=D
Not part of the test suite; no timed assertions anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from cryptography.fernet import Fernet  # noqa: E402

PG_ADMIN = os.environ.get("DROPBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
WEBHOOK_SECRET = "flash"
WEBHOOK_PATH = "/webhooks/headless/shop"
CONNECTIONS = 16


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_database() -> str:
    import psycopg

    name = f"dropbridge_flash_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def drop_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def commits(url: str) -> int:
    """Transactions committed in the bench's database so far (pg_stat_database, updated as backends report)."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
                            (url.rsplit("/", 1)[1],)).fetchone()[0]


def clear_queue(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    for key in client.scan_iter("huey.*dropbridge*"):
        client.delete(key)


def prepare(db_url: str, queue_url: str, data_dir: Path, keys: str, supplier_url: str,
            stock: dict[str, int]) -> dict:
    from dropbridge.bootstrap import bootstrap
    from dropbridge.config import Settings
    from dropbridge.services.connections import add_store, add_supplier
    from dropbridge.services.sync_feed import sync_feed
    from dropbridge.storage.migrate import upgrade

    env = {"DROPBRIDGE_DATA_DIR": str(data_dir), "DROPBRIDGE_DATABASE_URL": db_url,
           "DROPBRIDGE_QUEUE_URL": queue_url, "DROPBRIDGE_SECRET_KEYS": keys, "DROPBRIDGE_LOG_LEVEL": "WARNING"}
    app = bootstrap(Settings(data_dir=data_dir, database_url=db_url, queue_url=queue_url, secret_keys=keys,
                             log_level="ERROR"))
    upgrade(app.engine)
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/none", {"webhook_secret": WEBHOOK_SECRET}, {})
    add_supplier(app.ctx, "acme", "rest", supplier_url, {"api_key": "k"}, {"currency": "USD"})
    feed = "sku,qty,cost\n" + "".join(f"{sku},{qty},5.00\n" for sku, qty in stock.items())
    sync_feed(app.ctx, "acme", io.BytesIO(feed.encode()), "stock.csv")
    app.close()
    return env


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:  # a pipe nobody reads would stall the process once full
        return subprocess.Popen([sys.executable, *cmd], env={**os.environ, **env}, stdout=out,
                                stderr=subprocess.STDOUT)


def wait_healthy(url: str, procs: list[subprocess.Popen]) -> None:
    for _ in range(600):
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a dropbridge process exited at start")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the API did not start")


def requests(run: str, orders: int, skus: list[str], host: str) -> list[bytes]:
    """Pre-built signed deliveries: order n buys one unit of skus[n % len(skus)]; its buyer's name carries n."""
    from dropbridge.connectors.stores.headless.webhooks import signed_headers

    now = int(time.time())
    out = []
    for n in range(orders):
        body = (f'{{"external_id":"{run}-{n}","currency":"USD","ship_to":{{"name":"Buyer {n}",'
                f'"address1":"1 Main St","city":"Springfield","country_code":"US"}},"lines":[{{"sku":'
                f'"{skus[n % len(skus)]}","quantity":1,"unit_price":"19.99"}}]}}').encode()
        headers = signed_headers(WEBHOOK_SECRET, "order.created", f"{run}-{n}", body, now)
        head = (f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + f"Content-Length: {len(body)}\r\n\r\n")
        out.append(head.encode() + body)
    return out


async def send_all(port: int, reqs: list[bytes], seconds: float) -> list[float]:
    """Each request sent at its slot of an even pace (wall-clock send times returned); raw keep-alive HTTP/1.1,
    so this process spends little CPU on it."""
    sent = [0.0] * len(reqs)
    gap = seconds / len(reqs)
    start = time.monotonic() + 0.2
    wall0 = time.time() + 0.2
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(reqs)):
        queue.put_nowait(i)

    async def connection():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                delay = start + i * gap - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent[i] = wall0 + (time.monotonic() - start)
                writer.write(reqs[i])
                await writer.drain()
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if b" 200 " not in status or b"accepted" not in body:
                    raise RuntimeError(f"webhook {i}: {status!r} {body[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return sent


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 2 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="the webhooks arrive over this long")
    parser.add_argument("--skus", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="dropbridge worker processes")
    parser.add_argument("--threads", type=int, default=4, help="job threads per worker")
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up when nothing is placed this long")
    parser.add_argument("--logs", type=Path, default=None, help="keep the processes' logs in this directory")
    args = parser.parse_args()

    from dropbridge.sandbox.rest_supplier import RestSupplierEmulator

    skus = [f"HOT-{i:03d}" for i in range(args.skus)]
    demand = Counter(skus[n % len(skus)] for n in range(args.orders))
    keys = Fernet.generate_key().decode()
    run = f"F{uuid.uuid4().hex[:6]}"
    # No stock check at the supplier: what we place beyond the feed's stock is counted, not refused.
    supplier = RestSupplierEmulator(api_key="k", ship_after_seconds=None)
    supplier.start()
    db_url = pg_database()
    clear_queue(args.redis_url)
    procs: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory() as d:
            data = Path(d)
            logs = args.logs or data
            logs.mkdir(parents=True, exist_ok=True)
            env = prepare(db_url, args.redis_url, data, keys, supplier.url, dict(demand))
            port = free_port()
            procs.append(start(["-m", "uvicorn", "--factory", "dropbridge.api.asgi:build", "--port", str(port),
                                "--workers", str(args.api_workers), "--log-level", "warning", "--no-access-log"],
                               env, logs / "api.log"))
            for w in range(args.workers):
                procs.append(start(["-m", "dropbridge.cli", "worker", "--threads", str(args.threads),
                                    *([] if w == 0 else ["--no-scheduler"])], env, logs / f"worker{w}.log"))
            wait_healthy(f"http://127.0.0.1:{port}", procs)
            time.sleep(2)  # the workers connect to the queue
            reqs = requests(run, args.orders, skus, f"127.0.0.1:{port}")
            commits_before = commits(db_url)
            sent = asyncio.run(send_all(port, reqs, args.seconds))
            last_sent = max(sent) - min(sent)
            print(f"{args.orders} webhooks sent over {last_sent:.1f} s, all accepted", file=sys.stderr)
            placed_before, progress_at = 0, time.monotonic()
            while True:
                count = len(supplier.orders())
                if count >= args.orders:
                    break
                if count != placed_before:
                    placed_before, progress_at = count, time.monotonic()
                    print(f"  {count} supplier orders placed", file=sys.stderr)
                elif time.monotonic() - progress_at > args.timeout:
                    print(f"NOTE: no progress for {args.timeout:g} s; stopping at {count}", file=sys.stderr)
                    break
                time.sleep(1.0)
            time.sleep(2)  # anything still in flight (a duplicate would land now)
            orders = supplier.orders()
            time.sleep(1)  # backends report their counts to the statistics at most once a second
            per_order_commits = (commits(db_url) - commits_before) / args.orders
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        supplier.stop()
        drop_pg(db_url)
        clear_queue(args.redis_url)

    per_order: Counter[int] = Counter()
    per_reference: Counter[str] = Counter()
    units: Counter[str] = Counter()
    latencies, placed_at = [], []
    for o in orders:
        n = int(o["ship_to"]["name"].split()[-1])
        per_order[n] += 1
        per_reference[o["reference"]] += 1
        for item in o["items"]:
            units[item["supplier_sku"]] += item["quantity"]
        at = datetime.fromisoformat(o["created_at"].replace("Z", "+00:00")).timestamp()
        placed_at.append(at)
        if per_order[n] == 1:
            latencies.append(at - sent[n])
    placed = len(per_order)
    duplicates = max(sum(c - 1 for c in per_order.values()), sum(c - 1 for c in per_reference.values()))
    oversold = sum(max(0, units[s] - demand[s]) for s in units)
    elapsed = max(placed_at) - min(sent) if placed_at else float("nan")
    per_s = placed / elapsed if placed else 0.0
    print(f"webhooks sent over {last_sent:.1f} s ({args.orders / last_sent:.0f}/s); last supplier order placed "
          f"{elapsed:.1f} s after the first webhook; p50 order to placed "
          f"{statistics.median(latencies) * 1000:.0f} ms; {per_order_commits:.1f} PostgreSQL transactions per order "
          "(API, workers and sweeper)" if latencies else "nothing placed")
    print(f"flash_sale orders={args.orders} placed={placed} per_s={per_s:.0f} "
          f"p99_order_to_placed_ms={p99(latencies) * 1000 if latencies else float('nan'):.0f} "
          f"oversold={oversold} duplicates={duplicates}")


if __name__ == "__main__":
    main()
