"""Partial refunds from the stores, over real HTTP: the store's emulator refunds part of a shipped order and
sends the platform's webhooks; dropbridge records one refund entry set of exactly the refunded amount (tax
refunded as negative tax collected), a re-delivery records nothing more, the supplier side is untouched, and
the margin report's realised figure is net of it."""

from __future__ import annotations

import httpx

from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.model import LedgerEntry, Order
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.margin_report import margin_summary
from dropbridge.services.order_view import order_detail

from .helpers import load_feed, running, wait_for


def _entries(app, order_id: int) -> list[LedgerEntry]:
    with app.ctx.uow(read_only=True) as uow:
        return uow.ledger.for_order(order_id)


def _refund_rows(app, order_id: int) -> list[tuple[str, int, str | None]]:
    with app.ctx.uow(read_only=True) as uow:
        skus = {ln.id: ln.sku for ln in uow.get(Order, order_id).lines}
        rows = []
        for e in uow.ledger.for_order(order_id):
            if "[refund " in e.memo:
                rows.append((e.kind, e.amount_minor, skus.get(e.order_line_id, e.order_line_id)))
        return sorted(rows, key=str)


def _realised(app) -> dict:
    return next(r for r in margin_summary(app.ctx, "order")["totals"] if r["basis"] == "realised")


def _order_id(app, store: str, external_id: str) -> int | None:
    with app.ctx.uow(read_only=True) as uow:
        st = uow.stores.by_name(store)
        o = uow.orders.by_external_id(st.id, external_id)
        return o.id if o else None


def _replay(delivery: dict) -> dict:
    """Send a delivery again, byte for byte with the headers of its last attempt (a platform's re-delivery)."""
    headers = dict(delivery["attempts"][-1]["headers"])
    r = httpx.post(delivery["url"], content=delivery["body"].encode(), headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _ship_everything(app, supplier: RestSupplierEmulator, order_id: int) -> None:
    wait_for(lambda: supplier.orders())
    supplier.ship(supplier.orders()[0]["order_id"])
    wait_for(lambda: order_detail(app.ctx, order_id)["status"] == "shipped")


def _supplier_side(app, order_id: int) -> list:
    d = order_detail(app.ctx, order_id)
    return [(so["supplier"], so["status"]) for so in d["supplier_orders"]] + [
        (e.kind, e.amount_minor) for e in _entries(app, order_id) if e.supplier_id is not None]


def _supplier(api) -> RestSupplierEmulator:
    emu = RestSupplierEmulator(api_key="key-acme", name="acme", ship_after_seconds=None,
                               webhook_url=f"{api.url}/webhooks/suppliers/acme", webhook_secret="whsec-acme")
    emu.start()
    return emu


def test_shopify_partial_refund_recorded_once_and_net_in_realised(app):
    shop = ShopifyEmulator(shop="refunds", static_tokens=("shpat_t",), webhook_retry_delays=(0.2,))
    shop.start()
    with running(app) as api:
        acme = _supplier(api)
        try:
            add_store(app.ctx, "shop", "shopify", shop.url,
                      {"access_token": "shpat_t", "client_secret": shop.client_secret},
                      {"api_version": shop.api_version})
            add_supplier(app.ctx, "acme", "rest", acme.url, {"api_key": "key-acme", "webhook_secret": "whsec-acme"},
                         {"currency": "USD", "shipping_per_order": "4.00"})
            load_feed(app.ctx, "acme", [("TEE", 20, "8.50"), ("MUG", 20, "3.20")])
            shop.seed_product("Tee", [{"sku": "TEE", "price": "24.00", "quantity": 10}])
            shop.seed_product("Mug", [{"sku": "MUG", "price": "12.50", "quantity": 10}])
            app.ctx.store_connector(_store(app, "shop")).subscribe_webhooks(f"{api.url}/webhooks/shopify/shop")
            placed = shop.create_order([{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}],
                                       shipping_price="5.00", tax_rate="0.10")
            ext = placed["admin_graphql_api_id"]
            order_id = wait_for(lambda: _order_id(app, "shop", ext))
            _ship_everything(app, acme, order_id)
            before = _realised(app)
            supplier_side = _supplier_side(app, order_id)

            # One TEE back (24.00 and its 2.40 tax) and the shipping (5.00, untaxed in this shop).
            tee = next(li for li in placed["line_items"] if li["sku"] == "TEE")
            r = httpx.post(f"{shop.url}/_control/orders/{placed['id']}/refunds",
                           json={"lines": [{"line_item_id": tee["id"], "quantity": 1}], "shipping": "5.00",
                                 "note": "damaged"})
            assert r.status_code == 200, r.text
            wanted = sorted([(EntryKind.REFUND, -2400, "TEE"), (EntryKind.TAX_COLLECTED, -240, "TEE"),
                             (EntryKind.REFUND, -500, None)], key=str)
            wait_for(lambda: _refund_rows(app, order_id) == wanted)
            # refunds/create and the orders/updated that lists the same refund were both delivered.
            shop.sender.wait_idle()
            topics = [d["topic"] for d in shop.webhook_deliveries() if d["done"]]
            assert topics.count("refunds/create") == 1 and "orders/updated" in topics

            # The same webhook again: accepted as a duplicate, nothing new.
            refund_delivery = next(d for d in shop.webhook_deliveries() if d["topic"] == "refunds/create")
            count = len(_entries(app, order_id))
            assert _replay(refund_delivery) == {"status": "duplicate"}
            _settle(app)
            assert _refund_rows(app, order_id) == wanted and len(_entries(app, order_id)) == count
            assert _supplier_side(app, order_id) == supplier_side

            after = _realised(app)
            assert _minor(before["revenue"]) - _minor(after["revenue"]) == 0  # refunds are costs, not revenue cuts
            assert _minor(before["costs"]) + 2900 == _minor(after["costs"])
            assert _minor(before["margin"]) - 2900 == _minor(after["margin"])
            assert _minor(before["tax_collected"]) - 240 == _minor(after["tax_collected"])
        finally:
            acme.stop()
            shop.stop()


def _store(app, name):
    with app.ctx.uow(read_only=True) as uow:
        return uow.stores.by_name(name)


def _minor(text: str) -> int:
    return int(round(float(text) * 100))


def _settle(app) -> None:
    """Wait until every stored inbox entry is processed (the replay's job included, if it made one)."""
    from sqlalchemy import select

    from dropbridge.storage import tables as t

    def done():
        with app.ctx.uow(read_only=True) as uow:
            return all(s != "received" for s in uow.session.scalars(select(t.webhook_events.c.status)))
    wait_for(done)
