"""Feed sync at catalog scale: our engine on SQLite and PostgreSQL against the straightforward approach and
against the bare parse of the same file.

    .venv/bin/python bench/feed_sync.py [--rows 1000000] [--naive-sample 100000] [--pg-url URL]

Generates two generations of a feed (sku, qty, cost): the second has about 7% of rows changed (stock or
price) and 1% absent, and the generator counts exactly how many offers' stock or price must change. Then:

- ours: sync generation 1 (untimed), then time the sync of generation 2, on a fresh SQLite database in a temp
  dir and on a fresh PostgreSQL database (created and dropped here). Each runs in its own subprocess, which
  reports its peak RSS.
- naive: one upsert per row, each its own transaction, then load every offer and zero the ones the feed
  lacked, one UPDATE each; timed on the first `--naive-sample` rows and extrapolated by its rate.
- parse: csv.reader + int(qty) + Decimal(cost) over generation 2 (best of 3).

Both engines must end with the exact stock total the generator expects, and report exactly the pushes owed.
Not part of the test suite; no timed assertions anywhere.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

PG_ADMIN_URL = os.environ.get("DROPBRIDGE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


# --- data ---------------------------------------------------------------------------------------------------

def generate(dirpath: Path, rows: int, sample: int, seed: int = 20240315) -> dict:
    """gen1.csv, gen2.csv and their first-`sample`-SKU slices; returns what a correct sync must report."""
    rnd = random.Random(seed)
    files = {k: (dirpath / f"{k}.csv").open("w", newline="", encoding="utf-8")
             for k in ("gen1", "gen2", "gen1_sample", "gen2_sample")}
    writers = {k: csv.writer(f, lineterminator="\n") for k, f in files.items()}
    for w in writers.values():
        w.writerow(["sku", "qty", "cost"])
    expect = {"rows": rows, "gen2_rows": 0, "changed": 0, "zeroed": 0, "stock_total": 0,
              "sample_rows": 0, "sample_stock_total": 0}
    for i in range(rows):
        sku = f"SKU-{i:08d}"
        qty = rnd.randrange(0, 500)
        cents = rnd.randrange(100, 100_000)
        in_sample = i < sample
        one = (sku, qty, f"{cents // 100}.{cents % 100:02d}")
        writers["gen1"].writerow(one)
        if in_sample:
            writers["gen1_sample"].writerow(one)
        roll = rnd.random()
        if roll < 0.01:  # absent: zeroed unless it already was 0
            expect["zeroed"] += qty != 0
            continue
        if roll < 0.08:  # changed: stock, price or both, always to a different value
            kind = rnd.randrange(3)
            if kind != 1:
                qty = (qty + rnd.randrange(1, 50)) % 500
            if kind != 0:
                cents += rnd.randrange(1, 500)
            expect["changed"] += 1
        two = (sku, qty, f"{cents // 100}.{cents % 100:02d}")
        writers["gen2"].writerow(two)
        expect["gen2_rows"] += 1
        expect["stock_total"] += qty
        if in_sample:
            writers["gen2_sample"].writerow(two)
            expect["sample_rows"] += 1
            expect["sample_stock_total"] += qty
    for f in files.values():
        f.close()
    expect["pushes_owed"] = expect["changed"] + expect["zeroed"]
    return expect


def bare_parse(path: Path) -> int:
    n = 0
    with path.open(newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        next(r)
        for row in r:
            (row[0].strip(), int(row[1]), Decimal(row[2]))
            n += 1
    return n


# --- children (each in its own process, so each peak RSS is its own) ------------------------------------------

def _app(tmp: Path, db_url: str):
    from cryptography.fernet import Fernet

    from dropbridge.bootstrap import bootstrap
    from dropbridge.config import Settings
    from dropbridge.services.connections import add_supplier
    from dropbridge.storage.migrate import upgrade

    app = bootstrap(Settings(data_dir=tmp, database_url=db_url, queue_url=f"sqlite:///{tmp / 'queue.db'}",
                             secret_keys=Fernet.generate_key().decode()))
    upgrade(app.engine)
    add_supplier(app.ctx, "bench", "feed", "", {}, {"currency": "USD"})
    return app


def _stock_total(app) -> int:
    from sqlalchemy import text

    with app.engine.connect() as c:
        return int(c.execute(text("SELECT COALESCE(SUM(stock), 0) FROM supplier_offers")).scalar())


def child_ours(tmp: Path, db_url: str, gen1: Path, gen2: Path) -> dict:
    from dropbridge.services.sync_feed import sync_feed

    app = _app(tmp, db_url)
    try:
        with gen1.open("rb") as f:
            first = sync_feed(app.ctx, "bench", f, gen1.name)
        assert first.status == "applied", first
        t0 = time.perf_counter()
        with gen2.open("rb") as f:
            out = sync_feed(app.ctx, "bench", f, gen2.name)
        elapsed = time.perf_counter() - t0
        assert out.status == "applied", out
        return {"seconds": elapsed, "changed": out.changed, "zeroed": out.zeroed, "pushes_owed": out.pushes_owed,
                "rows_read": out.rows_read, "stock_total": _stock_total(app), "first_s": None}
    finally:
        app.close()


def child_naive(tmp: Path, db_url: str, gen1: Path, gen2: Path) -> dict:
    """The straightforward sync: every row written as it is read, then every offer loaded to find the absent."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from dropbridge.services.sync_feed import sync_feed

    app = _app(tmp, db_url)
    try:
        with gen1.open("rb") as f:
            assert sync_feed(app.ctx, "bench", f, gen1.name).status == "applied"
        with app.engine.connect() as c:
            sid = c.execute(text("SELECT id FROM suppliers WHERE name = 'bench'")).scalar()
        upsert = text("""
            INSERT INTO supplier_offers (supplier_id, supplier_sku, cost_minor, currency, stock, reserved, as_of,
                                         updated_at)
            VALUES (:sid, :sku, :cost, 'USD', :qty, 0, :now, :now)
            ON CONFLICT (supplier_id, supplier_sku)
            DO UPDATE SET stock = excluded.stock, cost_minor = excluded.cost_minor, as_of = excluded.as_of,
                          updated_at = excluded.updated_at""")
        zero = text("UPDATE supplier_offers SET stock = 0, as_of = :now, updated_at = :now WHERE id = :id")
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        seen = set()
        with gen2.open(newline="", encoding="utf-8") as f:
            r = csv.reader(f)
            next(r)
            for sku, qty, cost in r:
                sku = sku.strip()
                seen.add(sku)
                with app.engine.begin() as c:
                    c.execute(upsert, {"sid": sid, "sku": sku, "cost": int(Decimal(cost) * 100), "qty": int(qty),
                                       "now": now})
        with app.engine.connect() as c:
            offers = c.execute(text("SELECT id, supplier_sku, stock FROM supplier_offers WHERE supplier_id = :sid"),
                               {"sid": sid}).all()
        for oid, sku, stock in offers:
            if sku not in seen and stock != 0:
                with app.engine.begin() as c:
                    c.execute(zero, {"id": oid, "now": now})
        elapsed = time.perf_counter() - t0
        return {"seconds": elapsed, "stock_total": _stock_total(app)}
    finally:
        app.close()


def run_child(kind: str, db: str, tmp: Path, gen1: Path, gen2: Path, pg_url: str) -> dict:
    """Run one measurement in a fresh process on a fresh database; returns its report and peak RSS."""
    import psycopg

    work = Path(tempfile.mkdtemp(dir=tmp, prefix=f"{kind}-{db}-"))
    dbname = None
    if db == "sqlite":
        db_url = f"sqlite:///{work / 'bench.db'}"
    else:
        dbname = f"dropbridge_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        db_url = f"{pg_url.rsplit('/', 1)[0]}/{dbname}"
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--db-url", db_url, "--work", str(work),
             "--gen1", str(gen1), "--gen2", str(gen2)],
            capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{kind} on {db} failed:\n{proc.stdout}\n{proc.stderr}")
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if dbname:
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


# --- main -----------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--naive-sample", type=int, default=100_000)
    ap.add_argument("--pg-url", default=PG_ADMIN_URL)
    ap.add_argument("--child", choices=("ours", "naive"))
    ap.add_argument("--db-url")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--gen1", type=Path)
    ap.add_argument("--gen2", type=Path)
    args = ap.parse_args()

    if args.child:
        fn = child_ours if args.child == "ours" else child_naive
        report = fn(args.work, args.db_url, args.gen1, args.gen2)
        report["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(json.dumps(report))
        return

    rows, sample = args.rows, min(args.naive_sample, args.rows)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="feed_sync_bench_") as tmpdir:
        tmp = Path(tmpdir)
        expect = generate(tmp, rows, sample)
        gen1, gen2 = tmp / "gen1.csv", tmp / "gen2.csv"
        print(f"generated {rows} rows; generation 2: {expect['gen2_rows']} rows, {expect['changed']} changed, "
              f"{expect['zeroed']} absent with stock to zero, pushes owed {expect['pushes_owed']}", flush=True)

        parse_s = min(_timed(bare_parse, gen2) for _ in range(3))
        print(f"bare parse (csv + int + Decimal): {parse_s:.2f} s", flush=True)

        ours, naive = {}, {}
        for db in ("sqlite", "postgresql"):
            ours[db] = r = run_child("ours", db, tmp, gen1, gen2, args.pg_url)
            assert r["stock_total"] == expect["stock_total"], (db, r, expect)
            assert (r["changed"], r["zeroed"], r["pushes_owed"]) == (
                expect["changed"], expect["zeroed"], expect["pushes_owed"]), (db, r, expect)
            print(f"ours on {db}: {r['seconds']:.2f} s, changed {r['changed']}, zeroed {r['zeroed']}, "
                  f"peak RSS {r['rss_mb']:.0f} MB", flush=True)
            n = run_child("naive", db, tmp, tmp / "gen1_sample.csv", tmp / "gen2_sample.csv", args.pg_url)
            assert n["stock_total"] == expect["sample_stock_total"], (db, n, expect)
            n["extrapolated"] = n["seconds"] * expect["gen2_rows"] / expect["sample_rows"]
            naive[db] = n
            print(f"naive on {db}: {n['seconds']:.2f} s for {sample} rows, "
                  f"{expect['sample_rows'] / n['seconds']:,.0f} rows/s, {n['extrapolated']:.0f} s extrapolated",
                  flush=True)

    sq, pg = ours["sqlite"]["seconds"], ours["postgresql"]["seconds"]
    peak = max(r["rss_mb"] for r in ours.values())
    print(f"bench took {time.perf_counter() - started:.0f} s")
    print(f"feed_sync rows={rows} sqlite_s={sq:.2f} pg_s={pg:.2f} "
          f"vs_naive_sqlite={naive['sqlite']['extrapolated'] / sq:.0f}x "
          f"vs_naive_pg={naive['postgresql']['extrapolated'] / pg:.0f}x "
          f"vs_parse_sqlite={sq / parse_s:.1f}x vs_parse_pg={pg / parse_s:.1f}x "
          f"changed={ours['sqlite']['changed']} pushes_owed={ours['sqlite']['pushes_owed']} peak_rss_mb={peak:.0f}")


def _timed(fn, *a) -> float:
    t0 = time.perf_counter()
    fn(*a)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
