"""Products and stock out to a store (the Shopify emulator over real HTTP): publish once, then push
only what changed."""

from __future__ import annotations

import pytest

from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.publish_listings import publish_products, push_stock

from .helpers import load_feed


@pytest.fixture
def shopify(app):
    emu = ShopifyEmulator(shop="pub", static_tokens=("shpat_t",))
    emu.start()
    add_store(app.ctx, "shop", "shopify", emu.url, {"access_token": "shpat_t", "client_secret": emu.client_secret},
              {"api_version": emu.api_version, "pricing": {"markup_percent": 100, "compare_at_percent": 25}})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                 {"currency": "USD", "buffer": 2, "shipping_per_order": "1.00"})
    yield emu
    emu.stop()


def test_publish_then_push_only_changes(app, shopify):
    load_feed(app.ctx, "acme", [("TEE", 20, "8.50"), ("MUG", 5, "3.20"), ("CAP", 0, "6.00")])
    assert sorted(publish_products(app.ctx, "shop")) == ["CAP", "MUG", "TEE"]
    assert publish_products(app.ctx, "shop") == []  # nothing new to list
    products = shopify.products
    skus = {v["sku"]: {**v, "variant_id": vid} for vid, v in shopify.variants.items()}
    # (cost + 1.00 shipping) x 2, up to the next .99; compare-at 25% above, same ending
    assert {s: (str(v["price"]), str(v.get("compareAtPrice"))) for s, v in skus.items()} == {
        "TEE": ("19.99", "24.99"), "MUG": ("8.99", "11.99"), "CAP": ("14.99", "18.99")}
    assert len(products) == 3
    assert {s: shopify.available(v["variant_id"]) for s, v in skus.items()} == {"TEE": 18, "MUG": 3, "CAP": 0}

    first = push_stock(app.ctx, "shop")
    assert (first.listings, first.changes, first.calls) == (3, 0, 0)
    load_feed(app.ctx, "acme", [("TEE", 20, "8.50"), ("MUG", 9, "3.20"), ("CAP", 0, "6.00")])
    second = push_stock(app.ctx, "shop")
    assert (second.changes, second.applied, second.failed) == (1, 1, [])
    assert shopify.available(skus["MUG"]["variant_id"]) == 7
    assert push_stock(app.ctx, "shop").changes == 0


def test_push_after_publish_uses_the_inventory_ids_the_publish_learnt(app, shopify):
    """Shopify: the inventory item recorded at publish, so the push is one mutation and no lookup first."""
    load_feed(app.ctx, "acme", [("TEE", 20, "8.50"), ("MUG", 5, "3.20")])
    publish_products(app.ctx, "shop")
    app.ctx.forget_connectors()  # a fresh worker process: no lookups cached in the connector
    load_feed(app.ctx, "acme", [("TEE", 12, "8.50"), ("MUG", 9, "3.20")])
    before = len(shopify.call_log)
    pushed = push_stock(app.ctx, "shop")
    assert (pushed.changes, pushed.applied, pushed.failed) == (2, 2, [])
    # the primary location (not configured here), then the one mutation: no variant lookup (root `nodes`)
    assert [call["root"] for call in shopify.call_log[before:]] == [["location"], ["inventorySetQuantities"]]
    assert sorted(shopify.available(vid) for vid in shopify.variants) == [7, 10]


def test_a_product_tracked_bigcommerce_item_is_pushed_by_its_product(app):
    """A single-variant BigCommerce product is tracked by product: the push must name the product id the
    publish learnt (by variant id the store refuses it, 422)."""
    from dropbridge.sandbox.bigcommerce import BigCommerceEmulator

    emu = BigCommerceEmulator(inventory_delay=0)
    emu.start()
    try:
        conn = emu.connection()
        add_store(app.ctx, "bc", "bigcommerce", conn["base_url"], conn["credentials"], conn["config"])
        add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
        load_feed(app.ctx, "acme", [("TEE", 20, "8.50")])
        assert publish_products(app.ctx, "bc") == ["TEE"]
        load_feed(app.ctx, "acme", [("TEE", 6, "8.50")])
        pushed = push_stock(app.ctx, "bc")
        assert (pushed.changes, pushed.applied, pushed.failed) == (1, 1, [])
        (variant_id,) = emu.variants
        assert emu.stock_of(variant_id) == 6
        assert push_stock(app.ctx, "bc").changes == 0
    finally:
        emu.stop()
