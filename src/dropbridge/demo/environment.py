"""The demo's little world: two REST suppliers with overlapping catalogs, Printful (print on demand), a
headless store and a Shopify store, all emulated over real HTTP on localhost, and registered in dropbridge as
ordinary connections."""

from __future__ import annotations

import secrets
import time

from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.printful import PrintfulEmulator
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.services.connections import add_store, add_supplier, subscribe_store_webhooks

STORE = "demo-shop"
PRINTFUL = "printful"
SHOPIFY_STORE = "demo-shopify"
SHOPIFY_TOKEN = "shpat_static_emulator_token"
# The rest of each catalog: enough rows that one bad line stays under the feed error threshold.
FILLER = [(f"STICKER-{n:03d}", 100 + n, f"{0.40 + n / 100:.2f}") for n in range(40)]
# name -> (currency, per-order shipping, stock buffer, feed rows sku,qty,cost)
SUPPLIERS = {
    "acme": ("USD", "4.00", 1, [("TEE-BLK-M", 20, "8.50"), ("TEE-WHT-M", 15, "8.00"), ("MUG-11OZ", 0, "3.20"),
                                ("HOODIE-L", 6, "21.00")]),
    "globex": ("USD", "3.50", 0, [("TEE-BLK-M", 30, "9.10"), ("MUG-11OZ", 40, "3.90"), ("CAP-RED", 12, "6.00"),
                                  ("HOODIE-L", 9, "22.40")]),
}


class DemoEnvironment:
    def __init__(self, ctx, api_url: str, ship_after_seconds: float = 1.0):
        self.ctx = ctx
        self.api_url = api_url.rstrip("/")
        self.store_secret = secrets.token_hex(16)
        self.store = HeadlessStoreEmulator(self.store_secret)
        self.shopify = ShopifyEmulator(shop=SHOPIFY_STORE, client_secret=secrets.token_hex(16),
                                       static_tokens=(SHOPIFY_TOKEN,), webhook_retry_delays=(0.5, 1.0, 2.0),
                                       first_id=int(time.time() * 1000) % 10**12)  # fresh ids on every run
        self.suppliers: dict[str, RestSupplierEmulator] = {}
        for name in SUPPLIERS:
            # acme's warehouse knows better than its feed: the hoodie sold out since the file was made,
            # so acme refuses that order and dropbridge re-routes it.
            stock = {sku: (0 if sku == "HOODIE-L" else qty) for sku, qty, _ in self.catalog(name)} \
                if name == "acme" else None
            self.suppliers[name] = RestSupplierEmulator(
                api_key=secrets.token_hex(12), name=name, ship_after_seconds=ship_after_seconds, stock=stock,
                webhook_url=f"{self.api_url}/webhooks/suppliers/{name}", webhook_secret=secrets.token_hex(16))
        self.printful = PrintfulEmulator(api_token=secrets.token_hex(16), ship_after_seconds=ship_after_seconds,
                                         cost_delay_seconds=0.2,
                                         webhook_url=f"{self.api_url}/webhooks/suppliers/{PRINTFUL}")

    def start(self) -> None:
        self.store.start()
        add_store(self.ctx, STORE, "headless", self.store.events_url, {"webhook_secret": self.store_secret},
                  {"payment_fee_percent": "2.9", "payment_fee_fixed": "0.30"})
        self.shopify.start()
        self.shopify.seed_product("Black tee", [{"sku": "TEE-BLK-M", "price": "24.00", "quantity": 10}])
        self.shopify.seed_product("Mug 11oz", [{"sku": "MUG-11OZ", "price": "12.50", "quantity": 10}])
        add_store(self.ctx, SHOPIFY_STORE, "shopify", self.shopify.url,
                  {"access_token": SHOPIFY_TOKEN, "client_secret": self.shopify.client_secret},
                  {"api_version": self.shopify.api_version, "payment_fee_percent": "2.9",
                   "payment_fee_fixed": "0.30"})
        subscribe_store_webhooks(self.ctx, SHOPIFY_STORE, self.api_url)
        for name, emulator in self.suppliers.items():
            emulator.start()
            currency, shipping, buffer, _ = SUPPLIERS[name]
            add_supplier(self.ctx, name, "rest", emulator.url,
                         {"api_key": emulator.api_key, "webhook_secret": emulator.webhook_secret},
                         {"currency": currency, "shipping_per_order": shipping, "buffer": buffer,
                          "feed": {"format": "csv", "mapping": {"preset": "generic"}}})
        self.printful.start()
        conn = self.printful.connection()  # as `sandbox run printful` prints it
        add_supplier(self.ctx, PRINTFUL, "printful", conn["base_url"], conn["credentials"], conn["config"])

    @staticmethod
    def catalog(name: str) -> list[tuple[str, int, str]]:
        return SUPPLIERS[name][3] + FILLER

    def feed_csv(self, name: str) -> bytes:
        rows = ["sku,qty,cost"] + [f"{sku},{qty},{cost}" for sku, qty, cost in self.catalog(name)]
        if name == "globex":
            rows.append("POSTER-A2,lots,4.00")  # a bad row: reported with its line number, the rest apply
        return ("\n".join(rows) + "\n").encode()

    def stop(self) -> None:
        for emulator in self.suppliers.values():
            emulator.stop()
        self.printful.stop()
        self.store.stop()
        self.shopify.stop()
