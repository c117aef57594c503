"""Pull N AliExpress variants from the emulator through `sync catalog` (the sync_catalog service on a fresh
SQLite data directory, catalog import included); calls and time against what the platform allows.

- The emulator runs in its own process (`python bench/catalog_pull_ali.py --serve PRODUCTS`): AliExpress is
  another machine, and sharing one interpreter would slow both sides.
- ideal calls: AliExpress has no batch lookup: ds.product.get answers one product with all its SKUs, so the
  fewest calls are one per product, ceil(N / SKUS_PER_PRODUCT) with the bench's 50 SKUs a product. The access
  token given is valid, so no renewal call is necessary.
- floor: the one documented rate, 500 calls per second for the connection (ds.product.get docs, FAQ):
  ideal / 500 seconds.
- the connector runs at rate_per_second 500, 8 lookups in flight, 50 products a page.

measure(variants) -> (calls, ideal_calls, seconds, floor_seconds), for bench/catalog_pull.py.
Usage alone: .venv/bin/python bench/catalog_pull_ali.py [--variants 50000]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SKUS_PER_PRODUCT = 50
DOCUMENTED_QPS = 500.0


def _serve(products: int) -> None:
    """The emulator process: print its connection JSON, then serve until stdin closes."""
    from dropbridge.sandbox.aliexpress import AliExpressEmulator, generate

    emulator = AliExpressEmulator(products=generate(products, SKUS_PER_PRODUCT), qps=DOCUMENTED_QPS)
    emulator.start()
    sys.stdout.write(json.dumps(emulator.connection()) + "\n")
    sys.stdout.flush()
    sys.stdin.read()
    emulator.stop()


def measure(variants: int) -> tuple[int, int, float, float]:
    from cryptography.fernet import Fernet

    from dropbridge.bootstrap import bootstrap
    from dropbridge.config import Settings
    from dropbridge.services.connections import add_supplier
    from dropbridge.services.sync_catalog import sync_catalog
    from dropbridge.storage.migrate import upgrade

    products = math.ceil(variants / SKUS_PER_PRODUCT)
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(products)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        conn = json.loads(server.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            app = bootstrap(Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/db.sqlite",
                                     queue_url=f"sqlite:///{tmp}/queue.db",
                                     secret_keys=Fernet.generate_key().decode()))
            upgrade(app.engine)
            try:
                add_supplier(app.ctx, "ali", "aliexpress", conn["base_url"], conn["credentials"],
                             {**conn["config"], "rate_per_second": DOCUMENTED_QPS, "concurrency": 8,
                              "products_per_page": 50})
                before = httpx.get(conn["base_url"] + "/_control/calls").json()["received"]
                started = time.perf_counter()
                outcome = sync_catalog(app.ctx, "ali")
                seconds = time.perf_counter() - started
                calls = httpx.get(conn["base_url"] + "/_control/calls").json()["received"] - before
            finally:
                app.close()
        pulled = products * SKUS_PER_PRODUCT
        assert outcome.status == "applied" and outcome.rows_read == pulled, outcome
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    ideal = products
    return calls, ideal, seconds, ideal / DOCUMENTED_QPS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return
    calls, ideal, seconds, floor = measure(args.variants)
    print(f"catalog_pull_ali variants={args.variants} ali_calls={calls} ali_ideal={ideal} seconds={seconds:.1f} "
          f"floor={floor:.1f} vs_rate_floor={seconds / floor:.1f}x")


if __name__ == "__main__":
    main()
