"""Prices follow costs, on the Shopify, WooCommerce and BigCommerce emulators over real HTTP: a feed that
raises a cost moves the store's price to exactly what the rules give (a job after the feed's commit); the
same feed again pushes nothing; a 60% cost jump waits for `dropbridge prices approve` before going live."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dropbridge.domain.model import Listing
from dropbridge.domain.money import Money
from dropbridge.domain.pricing import PricingRules, price_for
from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.price_approvals import pending_prices
from dropbridge.services.publish_listings import publish_products
from dropbridge.services.reprice_listings import reprice_store

from .helpers import load_feed, run_cli, run_due_jobs

PRICING = {"markup_percent": 100, "compare_at_percent": 25}


def _shop_prices(emu, vid):
    v = emu.variants[vid]
    return str(v["price"]), (str(v["compareAtPrice"]) if v["compareAtPrice"] is not None else None)


def _woo_prices(emu, vid):
    p = emu.products[int(vid)]
    if p["sale_price"]:  # regular_price is the "was" price when a sale price is set
        return p["sale_price"], p["regular_price"]
    return p["regular_price"], None


def _bc_prices(emu, vid):
    v = emu.variants[int(vid)]
    product = emu.products[v["product_id"]]  # a variant's null price is its product's (storefronts.md §3.4)
    price = v["price"] if v["price"] is not None else product["price"]
    retail = v["retail_price"] if v["retail_price"] is not None else product["retail_price"]
    return str(price), (str(retail) if retail else None)


PLATFORMS = {
    "shopify": (lambda: ShopifyEmulator(shop="prices", static_tokens=("shpat_t",)), _shop_prices),
    "woocommerce": (lambda: WooCommerceEmulator(), _woo_prices),
    "bigcommerce": (lambda: BigCommerceEmulator(inventory_delay=0), _bc_prices),
}


@pytest.fixture(params=sorted(PLATFORMS))
def store(request, app):
    make, read = PLATFORMS[request.param]
    emu = make()
    emu.start()
    conn = emu.connection()
    add_store(app.ctx, "shop", request.param, conn["base_url"], conn["credentials"],
              {**conn.get("config", {}), "pricing": PRICING})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                 {"currency": "USD", "shipping_per_order": "1.00"})
    yield emu, (lambda vid: read(emu, vid))
    emu.stop()


def _expected(cost: str) -> tuple[str, str]:
    price, compare = price_for(Money.parse(Decimal(cost) + 1, "USD"), PricingRules.from_config(PRICING))
    return str(price.to_decimal()), str(compare.to_decimal())


def test_prices_follow_costs_and_wait_for_approval(app, store):
    emu, prices = store
    load_feed(app.ctx, "acme", [("TEE", 20, "8.50"), ("MUG", 5, "3.20")])
    assert sorted(publish_products(app.ctx, "shop")) == ["MUG", "TEE"]
    with app.ctx.uow(read_only=True) as uow:
        vid = {uow.catalog.variants_by_id([ls.variant_id])[ls.variant_id].sku: ls.external_variant_id
               for ls in uow.listings.for_store(1)}
    assert prices(vid["TEE"]) == _expected("8.50") == ("19.99", "24.99")
    mug_before = prices(vid["MUG"])

    # A feed raises TEE's cost: after the feed commits, a job re-applies the rules and pushes TEE only.
    load_feed(app.ctx, "acme", [("TEE", 20, "10.00"), ("MUG", 5, "3.20")])
    calls = emu.api_calls()
    assert run_due_jobs(app, "push_prices") == 1
    assert prices(vid["TEE"]) == _expected("10.00") == ("22.99", "28.99")
    assert prices(vid["MUG"]) == mug_before
    assert emu.api_calls() - calls == 1  # one batch call carried the one change

    # The same feed again: nothing changed, no job, and a re-pricing run pushes nothing.
    load_feed(app.ctx, "acme", [("TEE", 20, "10.00"), ("MUG", 5, "3.20")])
    calls = emu.api_calls()
    assert run_due_jobs(app, "push_prices") == 0
    assert reprice_store(app.ctx, "shop").changes == 0
    assert emu.api_calls() == calls

    # Stock moves, no cost does: the stock push is owed, no re-pricing (it would read every listing for nothing).
    run_due_jobs(app, "push_stock")  # what the earlier feeds owed
    load_feed(app.ctx, "acme", [("TEE", 7, "10.00"), ("MUG", 5, "3.20")])
    assert run_due_jobs(app, "push_prices") == 0
    assert run_due_jobs(app, "push_stock") == 1

    # A 60% cost jump (10.00 -> 16.00) moves the price beyond the 30% tolerance: it waits.
    load_feed(app.ctx, "acme", [("TEE", 20, "16.00"), ("MUG", 5, "3.20")])
    calls = emu.api_calls()
    assert run_due_jobs(app, "push_prices") == 1
    assert emu.api_calls() == calls and prices(vid["TEE"]) == ("22.99", "28.99")
    [waiting] = pending_prices(app.ctx)
    assert (waiting["sku"], waiting["old_price"], waiting["new_price"]) == ("TEE", "22.99", _expected("16.00")[0])
    assert "beyond the 30% tolerance" in waiting["reason"]
    assert reprice_store(app.ctx, "shop").changes == 0  # held until a person decides; not asked twice
    assert len(pending_prices(app.ctx)) == 1
    from dropbridge.services.queries.overview import overview

    needs = {n["label"]: n["count"] for n in overview(app.ctx)["needs_action"]}
    assert needs["Prices awaiting approval"] == 1  # the dashboard's overview says so

    assert "1 approved" in run_cli(app, "prices", "approve", str(waiting["id"]))
    assert prices(vid["TEE"]) == ("22.99", "28.99")  # not live until the push runs
    assert run_due_jobs(app, "push_prices") == 1
    assert prices(vid["TEE"]) == _expected("16.00") == ("34.99", "43.99")
    assert pending_prices(app.ctx) == []
    assert {n["label"]: n["count"] for n in overview(app.ctx)["needs_action"]}["Prices awaiting approval"] == 0
    with app.ctx.uow(read_only=True) as uow:
        listing = next(ls for ls in uow.listings.for_store(1) if ls.external_variant_id == vid["TEE"])
        assert (listing.price_minor, listing.compare_at_minor) == (3499, 4399)
        audited = {e.action: e for e in uow.audit.recent(50)}
    assert audited["price.approved"].actor.startswith("cli:") and "prices.pushed" in audited
    assert reprice_store(app.ctx, "shop").changes == 0


def test_rejected_price_stays_and_is_not_asked_again(app, store):
    emu, prices = store
    load_feed(app.ctx, "acme", [("TEE", 20, "8.50")])
    publish_products(app.ctx, "shop")
    with app.ctx.uow(read_only=True) as uow:
        [listing] = uow.listings.for_store(1)
    load_feed(app.ctx, "acme", [("TEE", 20, "0.00")])  # a zero cost never goes live on its own
    run_due_jobs(app, "push_prices")
    [waiting] = pending_prices(app.ctx)
    assert waiting["reason"] == "zero or missing cost"
    assert "1 rejected" in run_cli(app, "prices", "reject", "--all")
    calls = emu.api_calls()
    assert reprice_store(app.ctx, "shop").changes == 0 and pending_prices(app.ctx) == []
    assert emu.api_calls() == calls and prices(listing.external_variant_id) == ("19.99", "24.99")
    with app.ctx.uow(read_only=True) as uow:
        assert uow.get(Listing, listing.id).price_minor == 1999


def test_api_approval_queue_with_scopes_on_a_headless_store(app):
    """The queue over HTTP: listing needs `read`, deciding needs `prices:write`; the headless store gets the
    approved price by its `prices.updated` event."""
    from fastapi.testclient import TestClient

    from dropbridge.api.app import create_app
    from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
    from dropbridge.services.tokens import create_token

    emu = HeadlessStoreEmulator("store-secret")
    emu.start()
    try:
        add_store(app.ctx, "shop", "headless", emu.events_url, {"webhook_secret": "store-secret"}, {"pricing": PRICING})
        add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                     {"currency": "USD", "shipping_per_order": "1.00"})
        load_feed(app.ctx, "acme", [("TEE", 20, "10.00")])
        publish_products(app.ctx, "shop")
        assert emu.prices()["TEE"]["price"] == "22.99"
        load_feed(app.ctx, "acme", [("TEE", 20, "16.00")])
        run_due_jobs(app, "push_prices")
        reader = {"Authorization": f"Bearer {create_token(app.ctx, 'reader', ['read'])}"}
        writer = {"Authorization": f"Bearer {create_token(app.ctx, 'pricer', ['prices:write'])}"}
        with TestClient(create_app(app)) as http:
            [waiting] = http.get("/api/v1/prices/pending", headers=reader).json()["pending"]
            assert (waiting["sku"], waiting["new_price"], waiting["new_compare_at"]) == ("TEE", "34.99", "43.99")
            assert http.post(f"/api/v1/prices/{waiting['id']}/approve", headers=reader).status_code == 403
            assert http.post("/api/v1/prices/999/approve", headers=writer).status_code == 404
            assert emu.prices()["TEE"]["price"] == "22.99"  # refused requests changed nothing
            answer = http.post(f"/api/v1/prices/{waiting['id']}/approve", headers=writer)
            assert answer.status_code == 200 and answer.json()["status"] == "approved"
        assert run_due_jobs(app, "push_prices") == 1
        assert emu.prices()["TEE"] == {"price": "34.99", "currency": "USD", "compare_at_price": "43.99"}
        with app.ctx.uow(read_only=True) as uow:
            approved = next(e for e in uow.audit.recent(50) if e.action == "price.approved")
        assert approved.actor == "token:pricer" and approved.detail["new_price"] == "34.99"
    finally:
        emu.stop()
