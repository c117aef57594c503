"""Pull N variants from the CJdropshipping emulator through `sync catalog` (the same service, the same staged
feed engine) on a fresh SQLite database, and compare with what CJ's documented limits allow.

    .venv/bin/python bench/catalog_pull_cj.py [--variants 50000] [--per-product 25] [--qps 6]

CJ has no variant listing: `product/listV2` lists products (at most 100 a page), so each product costs one
`product/query` (its variants and their prices) and one `product/stock/getInventoryByPid` (its stock per
warehouse). For P = ceil(N / per_product) products the least a pull can make is

    ideal = ceil(P / 100) list pages + 2 P + 1 getAccessToken

and the least time the account's rate allows is (ideal - 1) / qps seconds: every call but the token's counts
against the per-user limit (1 a second Free, 2 Plus, 4 Prime, 6 Advanced; the emulator enforces it as CJ
does, refusing the excess with code 1600200). `--qps 6` is the Advanced level, the highest documented.

`measure(variants)` returns (calls, ideal_calls, seconds, floor_seconds) for bench/catalog_pull.py. Not part of
the test suite; no timed assertions. Run it at 50,000 variants at most once: that takes about 12 minutes.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

LIST_PAGE = 100  # listV2's largest page (product.html)
ADVANCED_QPS = 6.0


def measure(variants: int, *, per_product: int = 25, qps: float = ADVANCED_QPS,
            split: dict | None = None) -> tuple[int, int, float, float]:
    """(calls, ideal_calls, seconds, floor_seconds); `split`, when given, gets "pull" (seconds until the last
    page arrived) and "apply" (the rest: the feed engine importing the catalog and applying the offers)."""
    from cryptography.fernet import Fernet

    from dropbridge.bootstrap import bootstrap
    from dropbridge.config import Settings
    from dropbridge.sandbox.cjdropshipping import CjEmulator
    from dropbridge.services.connections import add_supplier
    from dropbridge.services.sync_catalog import sync_catalog
    from dropbridge.storage.migrate import upgrade

    products = math.ceil(variants / per_product)
    emulator = CjEmulator(products=products, variants_per_product=per_product, qps=qps, images=False,
                          ship_after_seconds=None)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        app = bootstrap(Settings(data_dir=data, database_url=f"sqlite:///{data / 'db.sqlite'}",
                                 queue_url=f"sqlite:///{data / 'queue.db'}", secret_keys=Fernet.generate_key().decode(),
                                 log_level="WARNING"))
        upgrade(app.engine)
        emulator.start()
        try:
            conn = emulator.connection()
            add_supplier(app.ctx, "cj", "cjdropshipping", conn["base_url"], conn["credentials"],
                         {**conn["config"], "qps": qps})
            last_page = [0.0]
            started = time.monotonic()
            outcome = sync_catalog(app.ctx, "cj", progress=lambda n: last_page.__setitem__(0, time.monotonic()))
            seconds = time.monotonic() - started
            if split is not None:
                split.update(pull=last_page[0] - started, apply=started + seconds - last_page[0])
        finally:
            emulator.stop()
            app.close()
    if outcome.status != "applied" or outcome.rows_read != products * per_product:
        raise RuntimeError(f"catalog pull did not apply every variant: {outcome}")
    calls = sum(emulator.calls.values())
    ideal = math.ceil(products / LIST_PAGE) + 2 * products + 1
    return calls, ideal, seconds, (ideal - 1) / qps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--per-product", type=int, default=25)
    parser.add_argument("--qps", type=float, default=ADVANCED_QPS)
    args = parser.parse_args()
    from dropbridge.bootstrap import configure_logging

    configure_logging("WARNING")
    split: dict = {}
    calls, ideal, seconds, floor = measure(args.variants, per_product=args.per_product, qps=args.qps, split=split)
    print(f"cj: {args.variants:,} variants in {math.ceil(args.variants / args.per_product):,} products: "
          f"{calls:,} calls (ideal {ideal:,}), {seconds:,.1f} s (rate floor {floor:,.1f} s at {args.qps:g}/s): "
          f"pull {split['pull']:,.1f} s, then catalog import and offers {split['apply']:,.1f} s")
    print(f"catalog_pull_cj variants={args.variants} cj_calls={calls} cj_ideal={ideal} "
          f"seconds={seconds:.1f} floor_seconds={floor:.1f} vs_rate_floor={seconds / floor:.2f}x")


if __name__ == "__main__":
    main()
