"""The `aliexpress` supplier kind against its emulator (dropbridge.sandbox.aliexpress).

`can_look_up` is False: AliExpress cannot be asked whether an order landed (no lookup by our reference, no
buyer order list; see the connector's docstring), so the connector answers CANNOT_KNOW and the suites check
that nothing is resent without the merchant's word (the fault test, which needs a lookup, skips this kind)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from decimal import Decimal

from dropbridge.domain.catalog import gtin_key
from dropbridge.domain.model import Variant
from dropbridge.sandbox.aliexpress import AliExpressEmulator, Product, Sku, generate
from dropbridge.sandbox.aliexpress.catalog import ean13
from dropbridge.services.connections import add_supplier
from dropbridge.services.sync_catalog import sync_catalog

_ids = itertools.count(1)


class AliExpressHarness:
    kind = "aliexpress"
    can_look_up = False
    fault_trials = 30

    def __init__(self, emulator: AliExpressEmulator):
        self.emulator = emulator
        product = next(iter(emulator.products.values()))
        self.contract_sku = f"{product.product_id}:{product.skus[0].sku_id}"

    def connection(self) -> dict:
        return self.emulator.connection()

    def offer(self, app, supplier_name: str, sku: str, stock: int, cost: str) -> None:
        """An AliExpress product with one SKU that carries an EAN; our variant `sku` has the same GTIN, so the
        offer `sync catalog` pulls for it attaches to `sku` (matched by GTIN, as any two sources of one item)."""
        n = next(_ids)
        product_id = str(1005009900000000 + n)
        ean = ean13(900000000 + n)
        product = Product(product_id=product_id, title=f"Harness item {sku}", store_id=1199000 + n,
                          store_name="Harness Store", category_id=200000345,
                          skus=[Sku(sku_id=str(12000099000000000 + n), attr="", properties=[], price=Decimal(cost),
                                    list_price=Decimal(cost) * 2, stock=stock, ean=ean)])
        with self.emulator.lock:
            self.emulator.products[product_id] = product
        with app.ctx.uow() as uow:
            variant = uow.catalog.variant_by_sku(sku)
            if variant is None:
                variant = uow.add(Variant(sku=sku, title=sku))
            variant.gtin = gtin_key(ean)
            uow.commit()
        conn = self.emulator.connection()
        add_supplier(app.ctx, supplier_name, self.kind, conn["base_url"], {}, {"product_ids": [product_id]})
        sync_catalog(app.ctx, supplier_name)

    def inject(self, mode: str, count: int = 1, *, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        self.emulator.faults.inject(mode, count, operation="orders.create", seconds=seconds, retry_after=retry_after)

    def orders(self) -> list[dict[str, str]]:
        return [{"reference": c["out_order_id"], "external_id": ",".join(c["order_ids"])}
                for c in self.emulator.creations()]

    def ship(self, reference: str) -> None:
        (creation,) = [c for c in self.emulator.creations() if c["out_order_id"] == reference]
        for order_id in creation["order_ids"]:
            self.emulator.pay(order_id)  # the merchant pays on the website, if auto-pay did not
            self.emulator.ship(order_id)


@contextlib.contextmanager
def open_harness(webhook_url: str | None = None) -> Iterator[AliExpressHarness]:
    # The shared suites send minimal addresses (a one-letter name, no province), which AliExpress's address
    # rules refuse; those rules have tests of their own (tests/connectors/aliexpress).
    emulator = AliExpressEmulator(app_key="500100", app_secret="contract-secret", products=generate(2, 3),
                                  auto_pay_allowed=True, address_rules=False)
    emulator.start()
    try:
        yield AliExpressHarness(emulator)
    finally:
        emulator.stop()
