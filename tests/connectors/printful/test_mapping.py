"""Printful's published payloads (fixtures/, the samples its documentation shows) through the pure mapping:
what each field becomes in dropbridge's boundary types, with the vendor's quirks as published."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dropbridge.connectors.suppliers.printful import mapping
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    Address,
    Branding,
    Placement,
    PrintFile,
    ShippingQuoteRequest,
    SupplierOrderItem,
    SupplierOrderLineRequest,
    SupplierOrderRequest,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def test_skus_say_how_printful_knows_the_item():
    assert mapping.sku_kind("PF-4012") == ("catalog", 4012)
    assert mapping.sku_kind("PF-SV-88") == ("sync", 88)
    assert mapping.sku_kind("LOGO-TEE-BLK-M") == ("external", "LOGO-TEE-BLK-M")
    assert mapping.sku_kind("PF-12A") == ("external", "PF-12A")
    assert mapping.all_catalog(["PF-1", "PF-2"]) and not mapping.all_catalog(["PF-1", "TEE"])


def test_a_v2_order_with_done_costs_states_goods_and_shipping_apart():
    order = fixture("v2_order.json")["data"]  # total 26.50 of which shipping 4.79
    placed = mapping.placed(order)
    assert (placed.external_id, placed.reference, placed.status) == ("123", "4235234213", "draft")
    assert placed.placement == Placement.AWAITING_PAYMENT  # a draft is charged only once confirmed
    assert (placed.cost, placed.shipping_cost) == (Money(2171, "USD"), Money(479, "USD"))
    confirmed = mapping.placed({**order, "status": "pending"})
    assert confirmed.placement == Placement.ACCEPTED


def test_costs_still_calculating_are_not_stated():
    order = copy.deepcopy(fixture("v2_order.json")["data"])
    order["costs"] = {**{k: None for k in order["costs"]}, "calculation_status": "calculating"}
    assert mapping.costs(order) is None
    assert mapping.placed(order).cost is None


def test_v1_order_shipments_become_tracking_with_items_by_sku():
    order = fixture("v1_order.json")["result"]
    (update,) = mapping.tracking(order, "db-1-2-1")
    assert (update.reference, update.external_order_id, update.carrier) == ("db-1-2-1", "13", "FEDEX")
    assert update.tracking_number == "0"  # the sample gives the number 0; the schema says string
    assert update.tracking_url == "https://www.fedex.com/fedextrack/?tracknumbers=0000000000"
    assert update.shipped_at == datetime(2020, 5, 5, 22, 1, tzinfo=UTC)
    assert update.items == [SupplierOrderItem("variant-1", 1)]  # item 1 was ordered by external variant id


def test_a_shipment_without_a_tracking_number_is_not_tracking():
    order = copy.deepcopy(fixture("v1_order.json")["result"])
    order["shipments"][0]["tracking_number"] = ""
    assert mapping.tracking(order) == []


def test_shipping_rates_of_both_versions():
    (v2,) = mapping.options(fixture("v2_shipping_rates.json")["data"])
    assert (v2.method, v2.cost, v2.min_days, v2.max_days) == ("STANDARD", Money(1360, "EUR"), 4, 7)
    assert v2.name.startswith("Flat Rate")
    (v1,) = mapping.options(fixture("v1_shipping_rates.json")["result"])  # camelCase delivery days
    assert (v1.method, v1.cost, v1.min_days, v1.max_days) == ("STANDARD", Money(1360, "EUR"), 4, 7)


def test_catalog_variants_become_offers_priced_at_the_chosen_technique():
    product = fixture("v2_catalog_product.json")["data"]
    variants = fixture("v2_catalog_variants.json")["data"]
    prices = fixture("v2_catalog_prices.json")["data"]
    stock = fixture("v2_catalog_availability.json")["data"]
    variants[0]["id"] = prices["variants"][0]["id"] = stock[0]["catalog_variant_id"] = 4011
    (row,) = mapping.catalog_offers(product, variants, prices, stock, region="worldwide", technique="digital",
                                    quantity=500)
    assert (row.supplier_sku, row.stock, row.cost) == ("PF-4011", 500, Money(850, "EUR"))  # the discounted price
    assert row.catalog["title"] == product["name"] and row.catalog["parent_sku"] == f"PF-P{product['id']}"
    assert row.catalog["options"] == {"Color": variants[0]["color"], "Size": variants[0]["size"]}
    assert row.catalog["images"] == [variants[0]["image"], product["image"]]
    assert row.catalog["availability"] == {"worldwide": "in stock"}


def test_a_variant_out_of_stock_in_the_region_offers_nothing():
    product = fixture("v2_catalog_product.json")["data"]
    variants = fixture("v2_catalog_variants.json")["data"]
    prices = fixture("v2_catalog_prices.json")["data"]
    stock = copy.deepcopy(fixture("v2_catalog_availability.json")["data"])
    variants[0]["id"] = prices["variants"][0]["id"] = stock[0]["catalog_variant_id"] = 4011
    stock[0]["techniques"][0]["selling_regions"][0]["availability"] = "out of stock"
    (row,) = mapping.catalog_offers(product, variants, prices, stock, region="worldwide", technique=None,
                                    quantity=500)
    assert row.stock == 0
    (elsewhere,) = mapping.catalog_offers(product, variants, prices, fixture("v2_catalog_availability.json")["data"],
                                          region="europe", technique=None, quantity=500)
    assert elsewhere.stock == 0  # no status for that region: unknown, promised as none


def test_store_products_become_offers_at_their_catalog_variants_price():
    info = copy.deepcopy(fixture("v1_sync_product.json")["result"])
    ignored = copy.deepcopy(info["sync_variants"][0])
    active = {**copy.deepcopy(ignored), "is_ignored": False}
    prices = copy.deepcopy(fixture("v2_catalog_prices.json")["data"])
    prices["variants"][0]["id"] = active["product"]["variant_id"]
    rows = mapping.store_offers(info["sync_product"], [ignored, active], {301: prices}, technique=None,
                                quantity=40)
    (row,) = rows  # the ignored variant is not orderable
    assert (row.supplier_sku, row.stock, row.cost) == ("12312414", 40, Money(850, "EUR"))
    assert row.catalog["parent_sku"] == "PF-SP-4235234213" and row.catalog["options"] == {"Color": "White",
                                                                                           "Size": "XS"}
    unavailable = {**active, "availability_status": "temporary_out_of_stock"}
    assert mapping.store_offers(info["sync_product"], [unavailable], {301: prices}, technique=None,
                                quantity=40)[0].stock == 0


def _request(sku="PF-4012", files=(), **kw) -> SupplierOrderRequest:
    return SupplierOrderRequest(
        reference="db-7-3-1", email="jane@example.com",
        ship_to=Address(name="Jane Doe", address1="19749 Dearborn St", city="Chatsworth", country_code="US",
                        postal_code="91311", province_code="CA"),
        items=[SupplierOrderItem(sku, 2)],
        lines=(SupplierOrderLineRequest(sku, 2, Money(985, "USD"), line_ref="44", print_files=tuple(files)),),
        branding=Branding(store_name="Acme Tees", logo_url="https://acme.example/logo.png", message="Thanks!",
                          customer_order_number="#1001"), **kw)


def test_a_catalog_order_carries_our_reference_designs_and_packing_slip():
    body = mapping.order_v2(_request(files=[PrintFile("front", "https://acme.example/f.png", "dtg"),
                                            PrintFile("back", "https://acme.example/b.png")]), None, "dtg")
    assert body == {
        "external_id": "db-7-3-1",
        "recipient": {"name": "Jane Doe", "address1": "19749 Dearborn St", "city": "Chatsworth", "state_code": "CA",
                      "country_code": "US", "zip": "91311", "email": "jane@example.com"},
        "order_items": [{"source": "catalog", "catalog_variant_id": 4012, "quantity": 2, "external_id": "44",
                         "placements": [
                             {"placement": "front", "technique": "dtg",
                              "layers": [{"type": "file", "url": "https://acme.example/f.png"}]},
                             {"placement": "back", "technique": "dtg",
                              "layers": [{"type": "file", "url": "https://acme.example/b.png"}]}]}],
        "customization": {"packing_slip": {"store_name": "Acme Tees", "logo_url": "https://acme.example/logo.png",
                                           "message": "Thanks!", "custom_order_id": "#1001"}}}


def test_a_store_product_order_goes_by_external_variant_id_with_the_quoted_method():
    body = mapping.order_v1(_request("LOGO-TEE-BLK-M", shipping_method="EXPRESS"), "STANDARD")
    assert body["items"] == [{"quantity": 2, "external_variant_id": "LOGO-TEE-BLK-M", "external_id": "44"}]
    assert body["shipping"] == "EXPRESS" and body["external_id"] == "db-7-3-1"
    assert body["packing_slip"]["custom_order_id"] == "#1001"
    assert mapping.order_v1(_request("PF-SV-9"), "STANDARD")["items"][0]["sync_variant_id"] == 9


def test_a_catalog_line_without_a_design_is_named():
    assert mapping.missing_designs(_request()) == ["PF-4012"]
    assert mapping.missing_designs(_request("LOGO-TEE-BLK-M")) == []


def test_rate_requests_name_variants_as_each_version_wants():
    request = ShippingQuoteRequest((SupplierOrderItem("PF-4012", 2),), "US", "91311", "CA", "USD", "Chatsworth",
                                   "1 Main St")
    assert mapping.rates_v2(request) == {
        "recipient": {"address1": "1 Main St", "city": "Chatsworth", "country_code": "US", "state_code": "CA",
                      "zip": "91311"},
        "order_items": [{"source": "catalog", "catalog_variant_id": 4012, "quantity": 2}], "currency": "USD"}
    mixed = ShippingQuoteRequest((SupplierOrderItem("PF-4012", 1), SupplierOrderItem("TEE", 1)), "DE")
    assert mapping.rates_v1(mixed)["items"] == [{"variant_id": "4012", "quantity": 1},
                                                {"external_variant_id": "TEE", "quantity": 1}]
    with pytest.raises(ValueError, match="PF-SV-3"):
        mapping.rates_v1(ShippingQuoteRequest((SupplierOrderItem("PF-SV-3", 1),), "DE"))


def test_an_invoice_is_the_charged_orders_costs_line_by_line():
    order = {**fixture("v2_order.json")["data"], "status": "fulfilled"}
    invoice = mapping.invoice(order, "db-1-1-1")
    assert (invoice.number, invoice.currency, invoice.total) == ("PF-123", "USD", Money(2650, "USD"))
    kinds = [(ln.kind, ln.description, ln.unit_price.amount) for ln in invoice.lines]
    assert kinds == [("item", "Custom name", 800), ("shipping", "shipping", 479), ("fee", "digitization", 395),
                     ("tax", "vat", 460), ("discount", "discount", -179)]
    assert invoice.lines[0].supplier_sku == "PF-4011" and invoice.lines[0].reference == "db-1-1-1"
    assert mapping.invoice(fixture("v2_order.json")["data"], "db-1-1-1") is None  # a draft is not charged


def test_stock_events_price_what_they_name():
    changes = fixture("v2_webhook_catalog_stock_updated.json")["data"]
    prices = copy.deepcopy(fixture("v2_catalog_prices.json")["data"])
    prices["variants"][0]["id"] = 4011
    (row,) = mapping.stock_rows(changes, {71: prices}, technique=None, quantity=9)
    assert (row.supplier_sku, row.stock, row.cost, row.catalog) == ("PF-4011", 9, Money(850, "EUR"), None)
    out = [{**changes[0], "availability": "out of stock"}]
    assert mapping.stock_rows(out, {71: prices}, technique=None, quantity=9)[0].stock == 0
