"""Freshness to every store: from a feed's upload to the last store showing the new stock, against the least
time the platforms' rate limits allow for the pushes it needs.

    python bench/freshness.py [--skus 100000] [--changed-share 0.05] [--variants 4] [--woo-limit 25/10]

Generates `--skus` SKUs and lists every one of them in each of three store emulators (real HTTP servers):
Shopify (products of `--variants` variants; cost throttle of a Standard shop: 2000-point bucket restoring 100
points/s, storefronts.md 1.6), BigCommerce (products of `--variants` variants; Standard plan quota of 150
requests per 30 s, 2.6; inventory writes applied 0.5 s after they are accepted, as the emulator's default)
and WooCommerce (simple products; core WooCommerce has no limit of its own, 2.6, so the emulator's host limiter
is on at `--woo-limit` requests per seconds: 25 per 10 s, the only limit WooCommerce documents, its Store API
default). The products are seeded in the emulators and the listings written to the database as if published.

Then dropbridge runs as the embedded default (`dropbridge serve`: API, job threads and scheduler in one
process, SQLite; `--database-url` for another database), a second feed changes the stock of `--changed-share`
of the SKUs, and the clock runs from the start of its upload (`POST /api/v1/suppliers/acme/feeds`) until every
changed SKU shows its new quantity in all three emulators (read back from the emulators' own state).

Floor: each platform's least time for the calls its batch limits need (Shopify inventorySetQuantities 250
items at 10 points, WooCommerce products/batch 100, BigCommerce absolute adjustments 2000), from a full
bucket or a fresh window: Shopify max(0, points - bucket) / restore rate, BigCommerce and WooCommerce one
window per quota beyond the first. The stores are pushed in parallel, so the floor is the largest of the three.

Last line: freshness skus=N changed=C seconds=S floor_seconds=F vs_floor=Rx
Not part of the test suite; no timed assertions anywhere.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from cryptography.fernet import Fernet  # noqa: E402

SHOPIFY_LIMIT, WOO_LIMIT, BC_LIMIT = 250, 100, 2000
MUTATION_COST = 10
START_QTY = 50
COST = "5.00"


def listed_price() -> tuple[str, str | None]:
    """The price (and compare-at price) the default pricing rules give every SKU at COST: the stores show it
    already, so the re-pricing a feed also triggers has nothing to push (this bench measures stock)."""
    from dropbridge.domain.money import Money
    from dropbridge.domain.pricing import PricingRules, price_for

    price, compare = price_for(Money.parse(COST, "USD"), PricingRules.from_config(None))
    return str(price.to_decimal()), str(compare.to_decimal()) if compare else None
SHOPIFY_TOKEN = "shpat_bench"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def feed_bytes(skus: list[str], qty: dict[str, int]) -> bytes:
    return ("sku,qty,cost\n" + "".join(f"{s},{qty.get(s, START_QTY)},{COST}\n" for s in skus)).encode()


def unchecked(emu, maps: tuple[str, ...], make):
    """`make()` run against empty maps, then merged in: the emulators check SKUs, names and handles for
    uniqueness by scanning every product (fine at test sizes, quadratic at 100,000); the bench's are unique by
    construction. Ids stay unique: the emulators count them apart from the maps."""
    saved = {name: getattr(emu, name) for name in maps}
    with emu.lock:
        for name in maps:
            setattr(emu, name, {})
        try:
            made = make()
        finally:
            for name in maps:
                saved[name].update(getattr(emu, name))
                setattr(emu, name, saved[name])
    return made


def seed_emulators(emus: dict, skus: list[str], per_product: int) -> dict[str, dict[str, tuple]]:
    """The catalog in each emulator as a merchant's admin would make it: {store: {sku: (product, variant,
    inventory id)}}, the ids a publish would have recorded."""
    out: dict[str, dict[str, tuple]] = {"shopify": {}, "woocommerce": {}, "bigcommerce": {}}
    shop, woo, bc = emus["shopify"], emus["woocommerce"], emus["bigcommerce"]
    price, compare = listed_price()
    for p in range(0, len(skus), per_product):
        group = skus[p:p + per_product]
        variants = [{"sku": s, "price": price, "compareAtPrice": compare, "options": {"Size": s},
                     "quantity": START_QTY} for s in group]
        product = unchecked(shop, ("products", "variants", "items"),
                            lambda group=group, variants=variants: shop.seed_product(f"Bench {group[0]}", variants))
        out["shopify"].update({v["sku"]: (product["id"], v["id"], v["inventoryItemId"]) for v in product["variants"]})
        body = {"name": f"Bench {group[0]}", "type": "physical", "weight": 1, "price": price, "sku": f"P-{group[0]}",
                "inventory_tracking": "variant",
                "variants": [{"sku": s, "price": price, "retail_price": compare, "inventory_level": START_QTY,
                              "option_values": [{"option_display_name": "Size", "label": s}]} for s in group]}
        made = unchecked(bc, ("products", "variants"), lambda body=body: bc.add_product(body))
        data = made.get("data", made)
        out["bigcommerce"].update({v["sku"]: (str(data["id"]), str(v["id"]), None) for v in data["variants"]})
    for s in skus:
        body = {"name": f"Bench {s}", "type": "simple", "sku": s, "regular_price": compare or price,
                "sale_price": price if compare else "", "manage_stock": True, "stock_quantity": START_QTY}
        made = unchecked(woo, ("products",), lambda body=body: woo.add_product(body))
        out["woocommerce"][s] = (str(made["id"]), str(made["id"]), None)
    return out


def prepare(db_url: str, queue_url: str, data_dir: Path, keys: str, emus: dict, skus: list[str],
            per_product: int) -> tuple[dict, str, dict]:
    """Migrate, connect the stores and the supplier, sync the first feed, list every SKU in every store."""
    import io

    from sqlalchemy import insert, select

    from dropbridge.bootstrap import bootstrap
    from dropbridge.config import Settings
    from dropbridge.services.connections import add_store, add_supplier
    from dropbridge.services.sync_feed import sync_feed
    from dropbridge.services.tokens import create_token
    from dropbridge.storage.migrate import upgrade
    from dropbridge.storage.tables import listings, stores, variants

    env = {"DROPBRIDGE_DATA_DIR": str(data_dir), "DROPBRIDGE_DATABASE_URL": db_url,
           "DROPBRIDGE_QUEUE_URL": queue_url, "DROPBRIDGE_SECRET_KEYS": keys, "DROPBRIDGE_LOG_LEVEL": "WARNING"}
    app = bootstrap(Settings(data_dir=data_dir, database_url=db_url, queue_url=queue_url, secret_keys=keys,
                             log_level="ERROR"))
    upgrade(app.engine)
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    for name, emu in emus.items():
        conn = emu.connection()
        creds = {"access_token": SHOPIFY_TOKEN} if name == "shopify" else conn["credentials"]
        add_store(app.ctx, name, name, conn["base_url"], creds, conn.get("config", {}))
    t0 = time.perf_counter()
    sync_feed(app.ctx, "acme", io.BytesIO(feed_bytes(skus, {})), "first.csv")
    print(f"first feed ({len(skus)} SKUs) synced in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    t0 = time.perf_counter()
    ids = seed_emulators(emus, skus, per_product)
    print(f"emulators seeded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    from dropbridge.domain.money import Money

    price, compare = listed_price()
    price_minor = Money.parse(price, "USD").amount
    compare_minor = Money.parse(compare, "USD").amount if compare else None
    with app.engine.begin() as conn:
        variant_of = dict(conn.execute(select(variants.c.sku, variants.c.id)).all())
        store_of = dict(conn.execute(select(stores.c.name, stores.c.id)).all())
        now = app.ctx.clock()
        for name, listed in ids.items():
            rows = [{"store_id": store_of[name], "variant_id": variant_of[sku], "external_product_id": product,
                     "external_variant_id": variant, "external_inventory_id": inventory, "currency": "USD",
                     "price_minor": price_minor, "compare_at_minor": compare_minor, "pushed_stock": START_QTY,
                     "pushed_at": now}
                    for sku, (product, variant, inventory) in listed.items()]
            for start in range(0, len(rows), 10_000):
                conn.execute(insert(listings), rows[start:start + 10_000])
    token = create_token(app.ctx, "bench")
    app.close()
    return env, token, ids


def start_serve(env: dict, threads: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with log.open("wb") as out:  # a pipe nobody reads would stall the server once full
        proc = subprocess.Popen([sys.executable, "-m", "dropbridge.cli", "serve", "--port", str(port), "--workers",
                                 str(threads)], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"dropbridge serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("dropbridge serve did not start")


def shown(emus: dict, store: str, ref: tuple) -> int | None:
    emu = emus[store]
    if store == "shopify":
        return emu.available(ref[1])
    if store == "woocommerce":
        return emu.stock_of(ref[1])
    return emu.stock_of(ref[1])


def floor_seconds(changed: int, bucket: float, restore: float, bc_quota: int, bc_window: float,
                  woo_limit: tuple[int, float] | None) -> dict[str, float]:
    points = math.ceil(changed / SHOPIFY_LIMIT) * MUTATION_COST
    bc_calls = math.ceil(changed / BC_LIMIT)
    woo_calls = math.ceil(changed / WOO_LIMIT)
    return {"shopify": max(0.0, (points - bucket) / restore),
            "bigcommerce": (math.ceil(bc_calls / bc_quota) - 1) * bc_window,
            "woocommerce": (math.ceil(woo_calls / woo_limit[0]) - 1) * woo_limit[1] if woo_limit else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--changed-share", type=float, default=0.05)
    parser.add_argument("--variants", type=int, default=4, help="variants per Shopify and BigCommerce product")
    parser.add_argument("--woo-limit", default="25/10", help="WooCommerce host limiter, REQUESTS/SECONDS or none")
    parser.add_argument("--threads", type=int, default=4, help="job threads of dropbridge serve")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--server-log", type=Path, default=None, help="keep dropbridge serve's log here")
    args = parser.parse_args()

    from dropbridge.bootstrap import configure_logging
    from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
    from dropbridge.sandbox.shopify import ShopifyEmulator
    from dropbridge.sandbox.woocommerce import WooCommerceEmulator

    configure_logging("WARNING")
    woo_limit = None
    if args.woo_limit != "none":
        n, s = args.woo_limit.split("/")
        woo_limit = (int(n), float(s))
    emus = {"shopify": ShopifyEmulator(static_tokens=(SHOPIFY_TOKEN,)),  # Standard: 2000 points, 100/s
            "woocommerce": WooCommerceEmulator(rate_limit=woo_limit),
            "bigcommerce": BigCommerceEmulator()}  # Standard: 150 requests per 30 s; inventory applied 0.5 s late
    rng = random.Random(args.seed)
    skus = [f"F{i:06d}" for i in range(args.skus)]
    changed = sorted(rng.sample(skus, round(args.skus * args.changed_share)))
    new_qty = {s: rng.choice([q for q in range(0, 100) if q != START_QTY]) for s in changed}
    keys = Fernet.generate_key().decode()
    proc = None
    for emu in emus.values():
        emu.start()
    try:
        with tempfile.TemporaryDirectory() as d:
            data = Path(d)
            db_url = args.database_url or f"sqlite:///{data / 'bench.db'}"
            env, token, ids = prepare(db_url, f"sqlite:///{data / 'queue.db'}", data, keys, emus, skus,
                                      args.variants)
            proc, url = start_serve(env, args.threads, data / "serve.log")
            second = feed_bytes(skus, new_qty)
            before = {name: emu.api_calls() for name, emu in emus.items()}
            waiting = {name: {s: ids[name][s] for s in changed} for name in emus}
            done_at: dict[str, float] = {}
            started = time.perf_counter()
            response = httpx.post(f"{url}/api/v1/suppliers/acme/feeds", headers={"Authorization": f"Bearer {token}"},
                                  files={"file": ("second.csv", second, "text/csv")}, timeout=args.timeout)
            uploaded = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"feed upload: HTTP {response.status_code} {response.text[:500]}")
            while any(waiting.values()):
                for name, left in waiting.items():
                    for sku in [s for s, ref in left.items() if shown(emus, name, ref) == new_qty[s]]:
                        del left[sku]
                    if not left and name not in done_at:
                        done_at[name] = time.perf_counter() - started
                if time.perf_counter() - started > args.timeout:
                    raise RuntimeError(f"not fresh after {args.timeout:g} s: "
                                       + ", ".join(f"{n} {len(left)} left" for n, left in waiting.items()))
                time.sleep(0.05)
            seconds = time.perf_counter() - started
            calls = {name: emu.api_calls() - before[name] for name, emu in emus.items()}
            if args.server_log:
                args.server_log.write_bytes((data / "serve.log").read_bytes())
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for emu in emus.values():
            emu.stop()

    shop, bc = emus["shopify"], emus["bigcommerce"]
    floors = floor_seconds(len(changed), shop.bucket_size, shop.restore_rate, bc.quota, bc.window_ms / 1000,
                           woo_limit)
    floor = max(floors.values())
    print(f"upload answered (sync run applied) after {uploaded:.2f} s")
    for name in ("shopify", "woocommerce", "bigcommerce"):
        print(f"{name}: fresh after {done_at[name]:.2f} s, {calls[name]} API calls, "
              f"rate floor {floors[name]:.2f} s")
    ratio = f"{seconds / floor:.2f}x" if floor > 0 else "inf"
    print(f"freshness skus={args.skus} changed={len(changed)} seconds={seconds:.1f} floor_seconds={floor:.1f} "
          f"vs_floor={ratio}")


if __name__ == "__main__":
    main()
