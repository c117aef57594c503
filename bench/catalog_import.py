"""First import of a catalog feed at scale, and its unchanged re-sync, on SQLite and PostgreSQL against the
bare parse of the same file.

    .venv/bin/python bench/catalog_import.py [--rows 1000000] [--pg-url URL]

Generates a catalog feed of N rows (about N/4 parents of 4 variants with size and colour options): parent
SKU, title, description HTML, up to 3 image URLs (at a refused address: nothing downloads, the pictures are
only queued as background jobs), GTIN, category, stock and cost. Then, each in its own subprocess on a fresh
database (a temp-dir SQLite file; a PostgreSQL database created and dropped here): time the first
`sync_feed` of the file, then the re-sync of the same file. The bare parse is csv.reader with int(qty) and
Decimal(cost) over the same file (best of 3). Peak RSS is the largest of the children's.

Last line: catalog_import rows=N sqlite_s=A pg_s=B vs_parse_sqlite=Cx vs_parse_pg=Dx resync_sqlite_s=E
resync_pg_s=F peak_rss_mb=G. Not part of the test suite; no timed assertions anywhere.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

PG_ADMIN_URL = os.environ.get("DROPBRIDGE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SIZES = ("S", "M", "L", "XL")
COLOURS = ("Black", "White", "Navy", "Red", "Green")
CATEGORIES = ("Apparel > Tops > Tees", "Apparel > Tops > Hoodies", "Home > Kitchen > Mugs", "Outdoor > Bags")
REFUSED = "http://127.0.0.1:9/img"  # the discard port: connections are refused, nothing is fetched


def _gtin13(n: int) -> str:
    body = f"200{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def generate(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["sku", "parent sku", "title", "description", "option1 name", "option1 value", "option2 name",
                    "option2 value", "image urls", "gtin", "category", "qty", "cost"])
        for i in range(rows):
            parent, k = divmod(i, 4)
            images = "|".join(f"{REFUSED}/{parent}/{n}.jpg" for n in range(1 + parent % 3))
            cents = 500 + (i * 7919) % 20_000
            w.writerow([f"CAT-{parent:07d}-{k}", f"CAT-{parent:07d}", f"Organic cotton tee {parent}",
                        f"<p>Soft <b>organic</b> cotton, style {parent}.</p><ul><li>Machine wash</li>"
                        f"<li>Fits true to size</li></ul>",
                        "Size", SIZES[k], "Colour", COLOURS[parent % len(COLOURS)], images, _gtin13(i),
                        CATEGORIES[parent % len(CATEGORIES)], (i * 31) % 500, f"{cents // 100}.{cents % 100:02d}"])


def bare_parse(path: Path) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        with path.open(newline="", encoding="utf-8") as f:
            r = csv.reader(f)
            next(r)
            for row in r:
                int(row[11])
                Decimal(row[12])
        best = min(best, time.perf_counter() - t0)
    return best


def child(tmp: Path, db_url: str, feed: Path) -> dict:
    from cryptography.fernet import Fernet
    from sqlalchemy import text

    from dropbridge.bootstrap import bootstrap, configure_logging
    from dropbridge.config import Settings
    from dropbridge.services.connections import add_supplier
    from dropbridge.services.sync_feed import sync_feed
    from dropbridge.storage.migrate import upgrade

    configure_logging("WARNING")
    app = bootstrap(Settings(data_dir=tmp, database_url=db_url, queue_url=f"sqlite:///{tmp / 'queue.db'}",
                             secret_keys=Fernet.generate_key().decode()))
    try:
        upgrade(app.engine)
        add_supplier(app.ctx, "bench", "feed", "", {}, {"currency": "USD"})
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            with feed.open("rb") as f:
                out = sync_feed(app.ctx, "bench", f, feed.name)
            times.append(time.perf_counter() - t0)
            assert out.status == "applied", out
        with app.engine.connect() as c:
            counts = {t: c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar()  # noqa: S608 - fixed names
                      for t in ("products", "variants", "variant_sources", "supplier_offers", "jobs")}
        return {"first_s": times[0], "resync_s": times[1], "counts": counts,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    finally:
        app.close()


def run_child(db: str, tmp: Path, feed: Path, pg_url: str) -> dict:
    import psycopg

    work = Path(tempfile.mkdtemp(dir=tmp, prefix=f"{db}-"))
    dbname = None
    if db == "sqlite":
        db_url = f"sqlite:///{work / 'bench.db'}"
    else:
        dbname = f"dropbridge_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        db_url = f"{pg_url.rsplit('/', 1)[0]}/{dbname}"
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", "--db-url", db_url, "--work", str(work),
                               "--feed", str(feed)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{db} failed:\n{proc.stdout}\n{proc.stderr}")
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if dbname:
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg-url", default=PG_ADMIN_URL)
    ap.add_argument("--only", default="sqlite,postgresql")
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--db-url")
    ap.add_argument("--work", type=Path)
    ap.add_argument("--feed", type=Path)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.work, args.db_url, args.feed)))
        return
    with tempfile.TemporaryDirectory(prefix="catalog-import-") as d:
        tmp = Path(d)
        feed = tmp / "catalog.csv"
        generate(feed, args.rows)
        print(f"generated {args.rows} rows ({feed.stat().st_size / 1e6:.0f} MB), {(args.rows + 3) // 4} parents",
              flush=True)
        parse = bare_parse(feed)
        print(f"bare parse (csv + int + Decimal): {parse:.2f} s", flush=True)
        res = {}
        for db in args.only.split(","):
            res[db] = r = run_child(db, tmp, feed, args.pg_url)
            print(f"{db}: first sync {r['first_s']:.2f} s ({r['first_s'] / parse:.1f}x parse), re-sync "
                  f"{r['resync_s']:.2f} s, {r['counts']}, peak RSS {r['rss_mb']:.0f} MB", flush=True)
    get = lambda db, k: res[db][k] if db in res else float("nan")  # noqa: E731
    sq, pg = get("sqlite", "first_s"), get("postgresql", "first_s")
    rss = max(r["rss_mb"] for r in res.values())
    print(f"catalog_import rows={args.rows} sqlite_s={sq:.2f} pg_s={pg:.2f} vs_parse_sqlite={sq / parse:.1f}x "
          f"vs_parse_pg={pg / parse:.1f}x resync_sqlite_s={get('sqlite', 'resync_s'):.2f} "
          f"resync_pg_s={get('postgresql', 'resync_s'):.2f} peak_rss_mb={rss:.0f}")


if __name__ == "__main__":
    main()
