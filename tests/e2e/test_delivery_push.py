"""Delivery windows reach the store, on the Shopify, WooCommerce and BigCommerce emulators over real HTTP:
after publish (`dropbridge sync push`) each variant holds its window ("dropbridge"/"delivery_days": Shopify
metafield, WooCommerce meta_data, BigCommerce variant metafield), read back through each platform's API; a
changed transit or lead time changes it (a job after the change commits); an unchanged run pushes nothing."""

from __future__ import annotations

import pytest

from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ports import TrackingUpdate
from dropbridge.services.push_delivery import push_delivery
from dropbridge.services.record_shipment import record_shipment
from tests.integration.test_vendor_report import NOW, T0, D, Gen, H

from .helpers import load_feed, run_cli, run_due_jobs

_SHOPIFY_READ = """
query Window($id: ID!) {
  productVariant(id: $id) { metafield(namespace: "dropbridge", key: "delivery_days") { type value } }
}
"""


def _shopify_window(connector, listing) -> str | None:
    data = connector.client.execute(_SHOPIFY_READ, {"id": listing.external_variant_id}, what="test read")
    field = data["productVariant"]["metafield"]
    if field is None:
        return None
    assert field["type"] == "single_line_text_field"
    return field["value"]


def _woo_window(connector, listing) -> str | None:
    if listing.external_product_id == listing.external_variant_id:
        path = f"/wp-json/wc/v3/products/{listing.external_variant_id}"
    else:
        path = f"/wp-json/wc/v3/products/{listing.external_product_id}/variations/{listing.external_variant_id}"
    body, _ = connector.client.get(path, what="test read")
    found = [m["value"] for m in body["meta_data"] if m["key"] == "dropbridge_delivery_days"]
    assert len(found) <= 1  # replaced by key, never added twice
    return found[0] if found else None


def _bc_window(connector, listing) -> str | None:
    body = connector.client.get(f"/v3/catalog/products/{listing.external_product_id}/variants/"
                                f"{listing.external_variant_id}/metafields", what="test read",
                                params={"namespace": "dropbridge"})
    rows = [r for r in body["data"] if r["key"] == "delivery_days"]
    assert len(rows) <= 1
    return rows[0]["value"] if rows else None


PLATFORMS = {
    "shopify": (lambda: ShopifyEmulator(shop="delivery", static_tokens=("shpat_t",)), _shopify_window),
    "woocommerce": (lambda: WooCommerceEmulator(), _woo_window),
    "bigcommerce": (lambda: BigCommerceEmulator(inventory_delay=0), _bc_window),
}


@pytest.fixture(params=sorted(PLATFORMS))
def store(request, app):
    make, read = PLATFORMS[request.param]
    emu = make()
    emu.start()
    conn = emu.connection()
    add_store(app.ctx, "shop", request.param, conn["base_url"], conn["credentials"],
              {**conn.get("config", {}), "delivery_country": "DE"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                 {"currency": "USD", "lead_time_days": 3, "transit_days": {"DE": [4, 6], "*": [7, 14]}})
    yield emu, read
    emu.stop()


def _windows(app, read) -> dict[str, str | None]:
    """SKU -> the window the store holds, read back through the platform's API."""
    with app.ctx.uow(read_only=True) as uow:
        store = uow.stores.by_name("shop")
        listings = uow.listings.for_store(store.id)
        skus = uow.catalog.variants_by_id([ls.variant_id for ls in listings])
        connector = app.ctx.store_connector(store)
        return {skus[ls.variant_id].sku: read(connector, ls) for ls in listings}


def test_delivery_windows_follow_transit_and_lead_time(app, store):
    emu, read = store
    load_feed(app.ctx, "acme", [("TEE", 20, "8.50"), ("MUG", 5, "3.20")])
    out = run_cli(app, "sync", "push", "shop")
    assert "shop: published 2 variants" in out
    assert "shop: 2 delivery windows of 2 listings" in out, out
    # lead 3 days + transit to DE 4..6
    assert _windows(app, read) == {"TEE": "7-9", "MUG": "7-9"}

    # The supplier's transit to DE changes: after that commits a job pushes the new windows.
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {}, {"transit_days": {"DE": [5, 8], "*": [7, 14]}})
    assert run_due_jobs(app, "push_delivery") == 1
    assert _windows(app, read) == {"TEE": "8-11", "MUG": "8-11"}

    # Its lead time changes.
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {}, {"lead_time_days": 5})
    assert run_due_jobs(app, "push_delivery") == 1
    assert _windows(app, read) == {"TEE": "10-13", "MUG": "10-13"}

    # Nothing changed: a run pushes nothing (no call to the store).
    calls = emu.api_calls()
    summary = push_delivery(app.ctx, "shop")
    assert (summary.changes, summary.calls) == (0, 0)
    assert emu.api_calls() == calls
    # An unrelated supplier setting schedules nothing.
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {}, {"ack_hours": 12})
    assert run_due_jobs(app, "push_delivery") == 0

    # The store's destination has no entry of its own: the supplier's "*" transit counts.
    add_store(app.ctx, "shop", emu.name, emu.connection()["base_url"], {}, {"delivery_country": "FR"})
    assert run_due_jobs(app, "push_delivery") == 1
    assert _windows(app, read) == {"TEE": "12-19", "MUG": "12-19"}
    assert push_delivery(app.ctx, "shop").changes == 0

    # Shipments measure the lead time: two shipped after 1 and 2 days, a third recorded as the supplier
    # reports it (after 4 days). That shipment owes the store a push at the end of its hour, which moves
    # the window to the measured one: median 2 + 7, 90th percentile 4 + 14.
    app.ctx.clock = lambda: NOW
    g = Gen(app)
    for days in (1, 2):
        g.supplier_order(1, "shipped", 1, shipments=[(T0 + days * D, T0 + days * D, None)])
    third = g.supplier_order(1, "submitted", 1)
    record_shipment(app.ctx, 1, TrackingUpdate(reference=f"db-{third}-1-1", external_order_id="", carrier="DHL",
                                               tracking_number="JD014600006281230000", shipped_at=T0 + 4 * D))
    assert run_due_jobs(app, "push_delivery") == 0  # not before the end of the hour
    app.ctx.clock = lambda: NOW + 2 * H
    assert run_due_jobs(app, "push_delivery") == 1
    assert _windows(app, read) == {"TEE": "9-18", "MUG": "9-18"}
