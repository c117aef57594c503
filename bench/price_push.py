"""10,000 price changes through dropbridge's re-pricing (services/reprice_listings.py) to the Shopify,
WooCommerce and BigCommerce emulators: a feed raises every cost, each store is re-priced, and a second run of
the same feed must push nothing.

- calls vs ideal: the ideal is what each platform's batch limit allows. Shopify's productVariantsBulkUpdate and
  WooCommerce's variations/batch take one product per call, so their ideal is the sum over products of
  ceil(variants / 250) and ceil(variants / 100); BigCommerce's variant batch spans products: ceil(changes / 50).
- time_vs_min: Shopify's elapsed time against the least its cost throttle allows, (points - bucket) / restore
  rate, at 10 points per mutation, on a Standard shop (2000-point bucket, 100 points/s).
- unchanged_pushed: prices pushed by the second, identical run (nothing changed, so it must be 0).

The catalog (products in the emulators, listings in a fresh SQLite database) is generated here, as if published.
Usage: .venv/bin/python bench/price_push.py [--changes 10000] [--variants 10]
Last line: price_push changes=.. shopify_calls=.. shopify_ideal=.. woo_calls=.. woo_ideal=.. bc_calls=..
bc_ideal=.. unchanged_pushed=0 time_vs_min=..x
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from cryptography.fernet import Fernet

PRICING = {"markup_percent": 100, "compare_at_percent": 25}
SHOPIFY_LIMIT, WOO_LIMIT, BC_LIMIT = 250, 100, 50
MUTATION_COST = 10


def _build(tmp: Path):
    from dropbridge.bootstrap import bootstrap
    from dropbridge.config import Settings
    from dropbridge.storage.migrate import upgrade

    settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'bench.db'}",
                        queue_url=f"sqlite:///{tmp / 'queue.db'}", secret_keys=Fernet.generate_key().decode(),
                        log_level="ERROR")
    built = bootstrap(settings)
    upgrade(built.engine)
    return built


def _feed(ctx, rows: list[tuple[str, str]]):
    from dropbridge.services.sync_feed import sync_feed

    text = "sku,qty,cost\n" + "".join(f"{sku},50,{cost}\n" for sku, cost in rows)
    return sync_feed(ctx, "acme", io.BytesIO(text.encode()), "acme.csv")


def _price(cost: str) -> tuple[str, str]:
    from dropbridge.domain.money import Money
    from dropbridge.domain.pricing import PricingRules, price_for

    price, compare = price_for(Money.parse(Decimal(cost), "USD"), PricingRules.from_config(PRICING))
    return str(price.to_decimal()), str(compare.to_decimal())


def _seed(emus, skus_by_store, cost_of, variants_per_product):
    """Each store's products in its emulator, priced from the first costs; (sku -> (product id, variant id))."""
    ids: dict[str, dict[str, tuple[str, str]]] = {}
    for name, skus in skus_by_store.items():
        emu, out = emus[name], {}
        for p in range(0, len(skus), variants_per_product):
            group = skus[p:p + variants_per_product]
            if name == "shopify":
                product = emu.seed_product(f"Bench {group[0]}", [
                    {"sku": s, "price": _price(cost_of[s])[0], "compareAtPrice": _price(cost_of[s])[1],
                     "options": {"Size": s}, "quantity": 50} for s in group])
                out.update({v["sku"]: (product["id"], v["id"]) for v in product["variants"]})
            elif name == "woocommerce":
                parent = emu.add_product({"name": f"Bench {group[0]}", "type": "variable", "sku": f"P-{group[0]}"})
                for s in group:
                    price, compare = _price(cost_of[s])
                    v = emu.add_product({"sku": s, "regular_price": compare, "sale_price": price,
                                         "manage_stock": True, "stock_quantity": 50}, parent["id"])
                    out[s] = (str(parent["id"]), str(v["id"]))
            else:
                body = {"name": f"Bench {group[0]}", "type": "physical", "weight": 1, "price": 1,
                        "sku": f"P-{group[0]}",
                        "variants": [{"sku": s, "price": _price(cost_of[s])[0], "retail_price": _price(cost_of[s])[1],
                                      "option_values": [{"option_display_name": "Size", "label": s}]} for s in group]}
                product = emu.add_product(body)
                data = product.get("data", product)
                out.update({v["sku"]: (str(data["id"]), str(v["id"])) for v in data["variants"]})
        ids[name] = out
    return ids


def _list(ctx, ids, cost_of):
    from dropbridge.domain.model import Listing
    from dropbridge.domain.money import Money

    with ctx.uow() as uow:
        variants = {v.sku: v for v in uow.catalog.variants_by_id(list(range(1, len(cost_of) + 1))).values()}
        for store_id, (_, listed) in enumerate(sorted(ids.items()), start=1):
            for sku, (product_id, variant_id) in listed.items():
                price, compare = _price(cost_of[sku])
                uow.add(Listing(store_id=store_id, variant_id=variants[sku].id, external_product_id=product_id,
                                external_variant_id=variant_id, price_minor=Money.parse(price, "USD").amount,
                                compare_at_minor=Money.parse(compare, "USD").amount, currency="USD", pushed_stock=50))
        uow.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=10, help="variants per product")
    args = parser.parse_args()

    from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
    from dropbridge.sandbox.shopify import ShopifyEmulator
    from dropbridge.sandbox.woocommerce import WooCommerceEmulator
    from dropbridge.services.connections import add_store, add_supplier
    from dropbridge.services.reprice_listings import reprice_store

    emus = {"bigcommerce": BigCommerceEmulator(inventory_delay=0),
            "shopify": ShopifyEmulator(static_tokens=("shpat_bench",)), "woocommerce": WooCommerceEmulator()}
    for emu in emus.values():
        emu.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            built = _build(Path(tmp))
            ctx = built.ctx
            add_supplier(ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
            for name in sorted(emus):  # store ids 1..3 in this order
                conn = emus[name].connection()
                creds = {"access_token": "shpat_bench"} if name == "shopify" else conn["credentials"]
                add_store(ctx, name, name, conn["base_url"], creds, {**conn.get("config", {}), "pricing": PRICING})
            skus = [f"S{i:05d}" for i in range(args.changes)]
            first = {s: f"{5 + (i % 400) / 100:.2f}" for i, s in enumerate(skus)}
            raised = {s: f"{Decimal(c) * Decimal('1.1'):.2f}" for s, c in first.items()}  # +10%: within tolerance
            _feed(ctx, list(first.items()))
            third = math.ceil(args.changes / 3)
            by_store = {"shopify": skus[:third], "woocommerce": skus[third:2 * third], "bigcommerce": skus[2 * third:]}
            _list(ctx, _seed(emus, by_store, first, args.variants), first)
            _feed(ctx, list(raised.items()))

            calls, seconds, pushed = {}, {}, 0
            for name in ("shopify", "woocommerce", "bigcommerce"):
                before = emus[name].api_calls()
                started = time.perf_counter()
                summary = reprice_store(ctx, name)
                seconds[name] = time.perf_counter() - started
                calls[name] = emus[name].api_calls() - before
                assert summary.applied == summary.changes == len(by_store[name]) and not summary.failed, summary
                assert summary.held == 0, summary
                pushed += summary.changes
                print(f"{name}: {summary.changes} changes, {calls[name]} calls, {seconds[name]:.1f} s", file=sys.stderr)
            sample = by_store["shopify"][0]
            variant = next(v for v in emus["shopify"].variants.values() if v["sku"] == sample)
            assert str(variant["price"]) == _price(raised[sample])[0], (variant["price"], raised[sample])

            _feed(ctx, list(raised.items()))  # the second, identical run
            unchanged = sum(reprice_store(ctx, name).changes for name in emus)
            built.close()

        def per_product(skus_, limit):
            return sum(math.ceil(len(skus_[p:p + args.variants]) / limit) for p in range(0, len(skus_), args.variants))

        ideal = {"shopify": per_product(by_store["shopify"], SHOPIFY_LIMIT),
                 "woocommerce": per_product(by_store["woocommerce"], WOO_LIMIT),
                 "bigcommerce": math.ceil(len(by_store["bigcommerce"]) / BC_LIMIT)}
        shop = emus["shopify"]
        points = ideal["shopify"] * MUTATION_COST
        minimum = max((points - shop.bucket_size) / shop.restore_rate, 0.001)
        print(f"price_push changes={pushed} shopify_calls={calls['shopify']} shopify_ideal={ideal['shopify']} "
              f"woo_calls={calls['woocommerce']} woo_ideal={ideal['woocommerce']} bc_calls={calls['bigcommerce']} "
              f"bc_ideal={ideal['bigcommerce']} unchanged_pushed={unchanged} "
              f"time_vs_min={seconds['shopify'] / minimum:.2f}x")
    finally:
        for emu in emus.values():
            emu.stop()


if __name__ == "__main__":
    main()
