"""Pure translation of CJ's published payloads (fixtures/SOURCES.md) into our boundary types."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dropbridge.connectors.suppliers.cjdropshipping import mapping
from dropbridge.domain.errors import PermanentError
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    Address,
    Placement,
    SupplierOrderItem,
    SupplierOrderLineRequest,
    SupplierOrderRequest,
)

from .conftest import fixture

BLACK_M, WHITE_XL = "439FC05B-1311-4349-87FA-1E1EF942C418", "7A2E1F90-55C4-4B8B-9D2A-0C3E8B6F1A77"


def test_token_times_in_cjs_clock_become_utc():
    token = mapping.token_from_json(fixture("get_access_token.json")["data"])
    assert token == {"access_token": "f59ac98193d64d62a9e887abea830369",
                     "refresh_token": "f7edabe65c3b4a198b50ca8f969e36eb",
                     "access_expires": "2021-08-18T01:16:33+00:00", "refresh_expires": "2022-02-07T01:16:33+00:00",
                     "open_id": 123456789}
    with pytest.raises(PermanentError):
        mapping.token_from_json({"openId": 1})


def test_product_list_pages_name_their_products_and_the_page_count():
    ids, pages = mapping.product_ids(fixture("product_list_v2.json")["data"])
    assert ids == ["1424608189734850560", "1424608189734850561"]
    assert pages == 2


def test_one_offer_per_variant_with_stock_of_the_chosen_warehouse_country():
    product, stock = fixture("product_query.json")["data"], fixture("stock_by_pid.json")["data"]
    rows = mapping.offers_from_product(product, stock, country="CN", with_factory=True)
    assert [(r.supplier_sku, r.stock, r.cost, r.ships_from) for r in rows] == [
        ("CJNSSYTZ00854-Black-M", 25, Money(310, "USD"), "CN"),  # 5 CJ + 20 factory in China
        ("CJNSSYTZ00854-White-XL", 0, Money(420, "USD"), "CN"),  # "4.20" as text is exact too
    ]  # the variant without a price is left out: nothing to sell it at
    black = rows[0].catalog
    assert black["title"] == "Women's Casual Loose T-shirt" and black["parent_sku"] == "CJNSSYTZ00854"
    assert black["options"] == {"Color": "Black", "Size": "M"}
    assert black["images"] == ["https://cf.cjdropshipping.com/quick/product/v1.jpg",
                               "https://cf.cjdropshipping.com/quick/product/a1.jpg",
                               "https://cf.cjdropshipping.com/quick/product/a2.jpg"]
    assert black["warehouses"] == {"China Warehouse": 25, "US Warehouse": 100}
    assert black["cj_vid"] == BLACK_M and black["category"] == "T-Shirts"
    cj_only = mapping.offers_from_product(product, stock, country="CN", with_factory=False)
    assert [r.stock for r in cj_only] == [5, 0]
    us = mapping.offers_from_product(product, stock, country="US", with_factory=True)
    assert [(r.stock, r.ships_from) for r in us] == [(100, "US"), (0, "US")]


def test_freight_options_cheapest_first_with_their_day_range():
    options = mapping.shipping_options(fixture("freight_calculate.json")["data"])
    assert [(o.method, o.cost, o.min_days, o.max_days) for o in options] == [
        ("CJPacket Ordinary", Money(350, "USD"), 7, 12), ("USPS+", Money(471, "USD"), 2, 5)]


def _request(reference="db-17-3-1", **address):
    ship_to = Address(**{"name": "Jane Doe", "address1": "19749 Dearborn St", "city": "Chatsworth",
                         "country_code": "US", "postal_code": "91311", "province_code": "CA", **address})
    return SupplierOrderRequest(reference=reference, ship_to=ship_to, email="jane@example.com",
                                items=[SupplierOrderItem("CJNSSYTZ00854-Black-M", 2)],
                                lines=(SupplierOrderLineRequest("CJNSSYTZ00854-Black-M", 2, line_ref="41"),))


def test_an_order_carries_our_reference_the_quoted_logistic_and_the_payment_choice():
    body = mapping.order_request_to_json(_request(), logistic_name="CJPacket Ordinary", from_country="CN",
                                         pay_from_balance=True, sandbox=False)
    assert body == {"orderNumber": "db-17-3-1", "shippingCustomerName": "Jane Doe",
                    "shippingCountry": "United States", "shippingCountryCode": "US", "shippingProvince": "CA",
                    "shippingCity": "Chatsworth", "shippingAddress": "19749 Dearborn St",
                    "logisticName": "CJPacket Ordinary", "fromCountryCode": "CN", "payType": 2,
                    "products": [{"sku": "CJNSSYTZ00854-Black-M", "quantity": 2, "storeLineItemId": "41"}],
                    "shippingZip": "91311", "email": "jane@example.com"}
    unpaid = mapping.order_request_to_json(_request(province_code="", address2="Apt 2"), logistic_name="X",
                                           from_country="US", pay_from_balance=False, sandbox=True)
    assert (unpaid["payType"], unpaid["isSandbox"], unpaid["shippingProvince"]) == (3, 1, "Chatsworth")
    assert unpaid["shippingAddress2"] == "Apt 2"
    with pytest.raises(PermanentError, match="longer than CJ's 40"):
        mapping.order_request_to_json(_request("x" * 41), logistic_name="X", from_country="CN",
                                      pay_from_balance=True, sandbox=False)


def test_a_created_unpaid_order_waits_for_payment_and_states_its_costs():
    placed = mapping.placed_order_from_json(fixture("create_order_v2.json")["data"])
    assert placed.external_id == "SD2507100000123" and placed.reference == "db-17-3-1"
    assert placed.placement == Placement.AWAITING_PAYMENT and placed.status == "UNPAID"
    assert (placed.cost, placed.shipping_cost) == (Money(620, "USD"), Money(550, "USD"))
    with pytest.raises(PermanentError):
        mapping.placed_order_from_json({"orderNumber": "x"})


def test_order_detail_names_our_reference_its_tracking_and_what_cj_charges():
    detail = fixture("order_detail.json")["data"]
    placed = mapping.placed_order_from_json(detail)
    assert (placed.reference, placed.placement) == ("db-17-3-1", Placement.ACCEPTED)
    (update,) = mapping.tracking_from_detail(detail)
    assert (update.reference, update.external_order_id, update.carrier, update.tracking_number) == (
        "db-17-3-1", "SD2507100000123", "CJPacket Ordinary", "CJPKL7160102171YQ")
    assert update.tracking_url == "https://www.cjpacket.com/?trackingNumber=CJPKL7160102171YQ"
    assert update.shipped_at == datetime(2025, 7, 12, 10, 2, 11, tzinfo=UTC)
    invoice = mapping.invoice_from_detail(detail, "db-17-3-1", {BLACK_M: "CJNSSYTZ00854-Black-M"})
    assert invoice.number == "CJ-SD2507100000123" and invoice.total == Money(1170, "USD")
    assert [(ln.supplier_sku, ln.quantity, ln.unit_price, ln.kind) for ln in invoice.lines] == [
        ("CJNSSYTZ00854-Black-M", 2, Money(310, "USD"), "item"), (None, 1, Money(550, "USD"), "shipping")]
    assert invoice.issued_at == datetime(2025, 7, 10, 1, 16, 40, tzinfo=UTC)  # "2025-07-10 09:16:40" is CJ's +08:00
    assert mapping.tracking_from_detail({**detail, "trackNumber": None}) == []
    assert mapping.invoice_from_detail({**detail, "orderStatus": "UNPAID"}, "db-17-3-1") is None


def test_message_keys():
    assert mapping.message_order_key(fixture("webhook_order.json")["params"]) == "SD2507100000123"
    assert mapping.message_order_key(fixture("webhook_product.json")["params"]) is None
    assert mapping.message_vid({"vid": BLACK_M}) == BLACK_M and mapping.message_vid(None) is None
