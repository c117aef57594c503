"""Pull a Printful catalog of N variants from the emulator through `sync catalog`; compare the calls made with
the fewest Printful's API allows, and the time taken with the least its rate limit allows.

- ideal calls: the v2 catalog gives a product's variants, prices and stock in three separate resources, so
  per product one call for its variants, one for its prices, and its availability in pages of at most 100
  variants (together ceil(N / 100) pages when products have 100 variants), plus the product list itself in
  pages of 100: ideal = ceil(N / 100) + 2 x products + ceil(products / 100). Store products are off.
- floor: Printful meters every account with a token bucket of 120 requests, refilled at 120 a minute
  (contract 1.3), so `ideal` calls need at least (ideal - 120) / 2 seconds.
- The emulator enforces that limit and the connector keeps to it (its documented budget): the time measured
  is the platform's floor plus whatever dropbridge adds (parsing, staging, catalog import). Catalog images
  point at a loopback address, which the image policy refuses at once (a reported problem per product):
  what is measured is the pull and the feed engine, not image downloads.
- `--rate N` raises both limits to N a minute, to see dropbridge's own cost; the floor stays the documented one.

Usage: .venv/bin/python bench/catalog_pull_printful.py [--variants 50000] [--rate 120]
Last line: catalog_pull_printful variants=N calls=A ideal=B seconds=S floor=F vs_rate_floor=Rx
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

VARIANTS_PER_PRODUCT = 100  # Printful's larger apparel blanks have about this many sizes x colours
PAGE = 100  # limit max 100 (contract 1.2)
BUCKET, PER_MINUTE = 120, 120  # contract 1.3
IMAGES = "http://127.0.0.1:9/files"  # refused by the image policy (a private address): nothing is downloaded


def ideal_calls(variants: int) -> int:
    products = math.ceil(variants / VARIANTS_PER_PRODUCT)
    pages = sum(math.ceil(min(VARIANTS_PER_PRODUCT, variants - p * VARIANTS_PER_PRODUCT) / PAGE)
                for p in range(products))
    return pages + 2 * products + math.ceil(products / PAGE)


def floor_seconds(calls: int) -> float:
    return max(0, calls - BUCKET) / (PER_MINUTE / 60)


def measure(variants: int, rate_per_minute: int = PER_MINUTE) -> tuple[int, int, float, float]:
    """(calls, ideal_calls, seconds, floor_seconds) of one pull of `variants` variants."""
    from dropbridge.bootstrap import bootstrap
    from dropbridge.config import Settings
    from dropbridge.sandbox.printful import PrintfulEmulator
    from dropbridge.services.connections import add_supplier
    from dropbridge.services.sync_catalog import sync_catalog
    from dropbridge.storage.migrate import upgrade

    products, last = divmod(variants, VARIANTS_PER_PRODUCT)
    emulator = PrintfulEmulator(api_token=secrets.token_hex(16), featured=False, store_products=False,
                                catalog_products=products, variants_per_product=VARIANTS_PER_PRODUCT,
                                rate_limit_per_minute=rate_per_minute, image_base=IMAGES)
    if last:  # a last, smaller product
        from dropbridge.sandbox.printful import catalog

        (extra,) = catalog.generated(1, last, first_id=1000 + products, cdn=IMAGES)
        emulator.catalog[extra.id] = extra
        emulator.variants.update({v.id: (v, extra) for v in extra.variants})
    emulator.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.sqlite",
                            queue_url=f"sqlite:///{tmp}/queue.sqlite", secret_keys=Fernet.generate_key().decode())
        app = bootstrap(settings)
        try:
            upgrade(app.engine)
            conn = emulator.connection()
            add_supplier(app.ctx, "pf", "printful", conn["base_url"], conn["credentials"],
                         {**conn["config"], "catalog_products": "all", "store_products": False,
                          "rate_limit_per_minute": rate_per_minute})
            started = time.perf_counter()
            outcome = sync_catalog(app.ctx, "pf")
            seconds = time.perf_counter() - started
            assert outcome.status == "applied", outcome.reason
            assert outcome.rows_read == variants, (outcome.rows_read, variants)
        finally:
            app.close()
            emulator.stop()
    calls = sum(emulator.calls.values())
    ideal = ideal_calls(variants)
    return calls, ideal, seconds, floor_seconds(ideal)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--rate", type=int, default=PER_MINUTE, help="requests a minute (emulator and connector)")
    args = parser.parse_args(argv)
    from dropbridge.bootstrap import configure_logging

    configure_logging("WARNING")
    calls, ideal, seconds, floor = measure(args.variants, args.rate)
    ratio = seconds / floor if floor else float("inf")
    print(f"catalog_pull_printful variants={args.variants} calls={calls} ideal={ideal} seconds={seconds:.1f} "
          f"floor={floor:.1f} vs_rate_floor={ratio:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
