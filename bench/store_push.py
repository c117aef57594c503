"""Push 10,000 stock changes to each storefront emulator present; compare calls (and, for Shopify, time)
against what the platform's limits allow.

- calls vs ideal: ideal = ceil(changes / the platform's batch limit).
- Shopify time vs min: the cost throttle allows at best (total points - bucket size) / restore rate seconds;
  the bench uses a small bucket so that bound is not zero (a real Standard shop has 2000 points at
  100/s, under which 10,000 changes at 10 points per 250 fit in the bucket at once).

Usage: .venv/bin/python bench/store_push.py [--changes 10000] [--bucket 50] [--restore 100]
Last line: store_push shopify_calls=.. ideal=.. time_vs_min=..x woo_calls=.. bc_calls=..
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
from collections.abc import Callable

from dropbridge.services.ports import StockUpdate

SHOPIFY_LIMIT, WOO_LIMIT, BC_LIMIT = 250, 100, 2000
MUTATION_COST = 10


def _available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return False
        raise
    return True


def bench_shopify(changes: int, bucket: float, restore: float) -> dict:
    from dropbridge.connectors.stores.shopify import from_config
    from dropbridge.sandbox.shopify import ShopifyEmulator

    emu = ShopifyEmulator(bucket_size=bucket, restore_rate=restore)
    emu.start()
    try:
        updates = []
        per_product = SHOPIFY_LIMIT
        for p in range(math.ceil(changes / per_product)):
            count = min(per_product, changes - p * per_product)
            product = emu.seed_product(f"Bench {p}", [
                {"sku": f"B{p:03d}-{i:03d}", "price": "5.00", "options": {"Size": f"S{i:03d}"}, "quantity": 1}
                for i in range(count)
            ])
            updates.extend(StockUpdate(v["id"], v["sku"], 7, v["inventoryItemId"]) for v in product["variants"])
        store = from_config(emu.url, {"access_token": next(iter(emu.static_tokens))},
                            {"location_id": emu.primary_location})
        before = emu.stats["calls"]
        started = time.perf_counter()
        result = store.push_stock(updates, "bench-shopify")
        elapsed = time.perf_counter() - started
        calls = emu.stats["calls"] - before
        assert result.applied == changes and not result.failed, result.failed[:3]
        assert all(level["available"] == 7 for level in emu.inventory_levels())
        store.close()
    finally:
        emu.stop()
    ideal = math.ceil(changes / SHOPIFY_LIMIT)
    min_time = max(0.0, (ideal * MUTATION_COST - bucket) / restore)
    return {"calls": calls, "ideal": ideal, "elapsed": elapsed, "min_time": min_time,
            "throttled": emu.stats["throttled"]}


def bench_woo(changes: int) -> dict:
    from dropbridge.connectors.stores.woocommerce import from_config
    from dropbridge.sandbox.woocommerce import WooCommerceEmulator

    emu = WooCommerceEmulator()
    emu.start()
    try:
        updates = []
        for i in range(changes):
            product = emu.add_product({"name": f"Bench {i}", "type": "simple", "sku": f"W{i:05d}",
                                       "regular_price": "5.00", "manage_stock": True, "stock_quantity": 1})
            updates.append(StockUpdate(str(product["id"]), f"W{i:05d}", 7))
        store = from_config(emu.url, {"consumer_key": "ck_test_0123456789", "consumer_secret": "cs_test_0123456789",
                                      "webhook_secret": "bench"}, {})
        before = emu.api_calls()
        started = time.perf_counter()
        result = store.push_stock(updates, "bench-woo")
        elapsed = time.perf_counter() - started
        calls = emu.api_calls() - before
        assert result.applied == changes and not result.failed, result.failed[:3]
        store.close()
    finally:
        emu.stop()
    return {"calls": calls, "ideal": math.ceil(changes / WOO_LIMIT), "elapsed": elapsed}


def bench_bc(changes: int) -> dict:
    from dropbridge.connectors.stores.bigcommerce import from_config
    from dropbridge.sandbox.bigcommerce import BigCommerceEmulator

    emu = BigCommerceEmulator(inventory_delay=0.0)
    emu.start()
    try:
        updates = []
        per_product = 200
        for p in range(math.ceil(changes / per_product)):
            count = min(per_product, changes - p * per_product)
            product = emu.add_product({
                "name": f"Bench {p}", "type": "physical", "weight": 1, "price": "5.00", "sku": f"BC{p:03d}",
                "inventory_tracking": "variant",
                "variants": [{"sku": f"BC{p:03d}-{i:03d}", "price": "5.00", "inventory_level": 1,
                              "option_values": [{"option_display_name": "Size", "label": f"S{i:03d}"}]}
                             for i in range(count)],
            })
            updates.extend(StockUpdate(str(v["id"]), v["sku"], 7) for v in product["variants"])
        store = from_config(emu.url, {"access_token": emu.access_token, "client_secret": emu.client_secret},
                            {"store_hash": emu.store_hash})
        before = emu.api_calls()
        started = time.perf_counter()
        result = store.push_stock(updates, "bench-bc")
        elapsed = time.perf_counter() - started
        calls = emu.api_calls() - before
        assert result.applied == changes and not result.failed, result.failed[:3]
        store.close()
    finally:
        emu.stop()
    return {"calls": calls, "ideal": math.ceil(changes / BC_LIMIT), "elapsed": elapsed}


def _run(name: str, fn: Callable[[], dict]) -> dict | None:
    try:
        return fn()
    except Exception as exc:  # a broken platform must not hide the others' numbers
        print(f"{name}: FAILED {type(exc).__name__}: {exc}")
        return None


def main() -> None:
    from dropbridge.bootstrap import configure_logging

    configure_logging("WARNING")  # per-call debug lines would drown the figures
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--bucket", type=float, default=50.0, help="Shopify bucket size (points)")
    parser.add_argument("--restore", type=float, default=100.0, help="Shopify restore rate (points/s)")
    args = parser.parse_args()

    shop = _run("shopify", lambda: bench_shopify(args.changes, args.bucket, args.restore))
    if shop:
        ratio = shop["elapsed"] / shop["min_time"] if shop["min_time"] else float("nan")
        print(f"shopify: {args.changes} changes in {shop['calls']} calls (ideal {shop['ideal']}), "
              f"{shop['elapsed']:.2f}s vs throttle minimum {shop['min_time']:.2f}s ({ratio:.2f}x), "
              f"throttled answers {shop['throttled']} (bucket {args.bucket:g}, restore {args.restore:g}/s)")
    woo = bc = None
    if _available("dropbridge.sandbox.woocommerce") and _available("dropbridge.connectors.stores.woocommerce"):
        woo = _run("woocommerce", lambda: bench_woo(args.changes))
        if woo:
            print(f"woocommerce: {args.changes} changes in {woo['calls']} calls (ideal {woo['ideal']}), "
                  f"{woo['elapsed']:.2f}s")
    else:
        print("woocommerce: emulator or connector not present")
    if _available("dropbridge.sandbox.bigcommerce") and _available("dropbridge.connectors.stores.bigcommerce"):
        bc = _run("bigcommerce", lambda: bench_bc(args.changes))
        if bc:
            print(f"bigcommerce: {args.changes} changes in {bc['calls']} calls (ideal {bc['ideal']}), "
                  f"{bc['elapsed']:.2f}s")
    else:
        print("bigcommerce: emulator or connector not present")

    def fmt(result: dict | None, key: str = "calls") -> str:
        return "na" if result is None else str(result[key])

    ratio = "na"
    if shop and shop["min_time"]:
        ratio = f"{shop['elapsed'] / shop['min_time']:.2f}x"
    print(f"store_push shopify_calls={fmt(shop)} ideal={fmt(shop, 'ideal')} time_vs_min={ratio} "
          f"woo_calls={fmt(woo)} bc_calls={fmt(bc)}")


if __name__ == "__main__":
    main()
