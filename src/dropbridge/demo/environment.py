"""The demo's little world: two REST suppliers with overlapping catalogs, Printful (print on demand),
CJdropshipping and AliExpress (catalogs pulled by API), an EDI trading partner over SFTP, a wholesaler taking
purchase orders by email, a headless store and a Shopify store, all emulated on localhost (real HTTP, SFTP,
SMTP and IMAP) and registered in dropbridge as ordinary connections."""

from __future__ import annotations

import secrets
import time

from dropbridge.sandbox.aliexpress import AliExpressEmulator, generate
from dropbridge.sandbox.cjdropshipping import CjEmulator
from dropbridge.sandbox.edi_partner import EdiPartnerEmulator
from dropbridge.sandbox.headless import HeadlessStoreEmulator
from dropbridge.sandbox.mail import MailEmulator
from dropbridge.sandbox.printful import PrintfulEmulator
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.services.connections import add_store, add_supplier, subscribe_store_webhooks

STORE = "demo-shop"
ALIEXPRESS = "aliexpress"
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

# An EDI trading partner over SFTP: its stock comes as an 846, orders go as 850s, answers come as files.
EDI_SUPPLIER = "initech"
EDI_STOCK = {"TOTE-NAT": (25, "6.40"), "APRON-BLK": (8, "9.10")}


# CJdropshipping sells what the feed suppliers do not: its catalog is pulled through its API.
CJ = "cj"
CJ_CATALOG = [{"sku": "PHONECASE", "name": "Silicone phone case", "key_names": "Color",
               "variants": [{"sku": "PHONECASE-BLK", "key": "Black", "price": "1.90", "stock": {"CN": 300}},
                            {"sku": "PHONECASE-RED", "key": "Red", "price": "1.90", "stock": {"CN": 120}}]}]
# A wholesaler that takes purchase orders by email and answers them by email (confirmation, then tracking).
MAIL_SUPPLIER = "papermill"
MAIL_CATALOG = [("NOTEBOOK-A5", 25, "2.80"), ("PEN-BLK", 200, "0.35")]


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
        self.edi = EdiPartnerEmulator(name=EDI_SUPPLIER, partner_id="INITECH", ship_after_seconds=ship_after_seconds)
        # AliExpress: its catalog pulled by API, orders auto-paid, tracking polled (it sends no signed events).
        self.aliexpress = AliExpressEmulator(products=generate(2, 2, seed=11), auto_pay_allowed=True,
                                             ship_after_seconds=ship_after_seconds)
        self.cj = CjEmulator(api_key=f"CJ{secrets.randbelow(10**7):07d}@api@{secrets.token_hex(16)}", name=CJ,
                             catalog=CJ_CATALOG, images=False, qps=6, ship_after_seconds=ship_after_seconds,
                             webhook_url=f"{self.api_url}/webhooks/suppliers/{CJ}")
        self.mail = MailEmulator(name=MAIL_SUPPLIER, confirm_after=0.3, ship_after=ship_after_seconds + 0.5)
        self.printful = PrintfulEmulator(api_token=secrets.token_hex(16), ship_after_seconds=ship_after_seconds,
                                         cost_delay_seconds=0.2,
                                         webhook_url=f"{self.api_url}/webhooks/suppliers/{PRINTFUL}")

    @property
    def aliexpress_sku(self) -> tuple[str, str]:
        """An AliExpress SKU the demo orders (our SKU for it) and a store price well above its cost."""
        product = next(iter(self.aliexpress.products.values()))
        sku = product.skus[0]
        return f"{product.product_id}:{sku.sku_id}", f"{sku.price * 3:.2f}"

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
        self.edi.start()
        conn = self.edi.connection()
        add_supplier(self.ctx, EDI_SUPPLIER, "edi_x12", conn["base_url"], conn["credentials"],
                     {**conn["config"], "currency": "USD", "shipping_per_order": "4.80"})
        self.aliexpress.start()
        conn = self.aliexpress.connection()
        add_supplier(self.ctx, ALIEXPRESS, "aliexpress", conn["base_url"], conn["credentials"],
                     {**conn["config"], "auto_pay": True})

        self.cj.start()
        cj = self.cj.connection()
        add_supplier(self.ctx, CJ, "cjdropshipping", cj["base_url"], cj["credentials"],
                     {**cj["config"], "shipping_per_order": "3.50"})
        self.mail.start()
        conn = self.mail.connection()
        add_supplier(self.ctx, MAIL_SUPPLIER, "email_po", conn["base_url"], conn["credentials"],
                     {**conn["config"], "shipping_per_order": "3.00", "inbox_cursor": None})
        self.printful.start()
        conn = self.printful.connection()  # as `sandbox run printful` prints it
        add_supplier(self.ctx, PRINTFUL, "printful", conn["base_url"], conn["credentials"], conn["config"])

    def mail_feed_csv(self) -> bytes:
        return ("sku,qty,cost\n" + "".join(f"{sku},{qty},{cost}\n" for sku, qty, cost in MAIL_CATALOG)).encode()

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
        self.edi.stop()
        self.aliexpress.stop()
        self.cj.stop()
        self.mail.stop()
        self.printful.stop()
        self.store.stop()
        self.shopify.stop()
