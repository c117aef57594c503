"""AliExpress's documented example bodies (fixtures/, sources in fixtures/SOURCES.md) into our types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dropbridge.connectors.suppliers.aliexpress import errors, mapping
from dropbridge.domain.errors import (
    AlreadyPlaced,
    AuthExpired,
    OutOfStock,
    PermanentError,
    RateLimited,
    RetryableError,
)
from dropbridge.domain.money import Money
from dropbridge.services.ports import Address, Placement, ShippingOption, SupplierOrderItem

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_the_documented_product_becomes_one_offer_per_sku_with_its_catalog_data():
    product = mapping.product_from_body(load("product_get.json"), "4000903675543")
    (row,) = mapping.offer_rows(product, "USD")
    assert row.supplier_sku == "4000903675543:12000027158136202"
    assert (row.stock, row.cost, row.lead_time_days, row.ships_from) == (57, Money(394, "USD"), 5, "CN")
    assert row.gtin is None  # "eanCode" and a 9-digit barcode are not GTINs
    assert row.catalog["title"].startswith("FUQIAN 2022 Fashion Square Polarized Sunglasses")
    assert row.catalog["parent_sku"] == "AE-4000903675543"
    assert row.catalog["options"] == {"Lenses Color": "Black Green"}
    assert row.catalog["images"][0] == "https://ae04.alicdn.com/kf/Hba46f8222fdf4440a271134f8ce2ca2aB.jpg"
    assert len(row.catalog["images"]) == 7 and row.catalog["category"] == "33902"
    assert mapping.sku_attr(product.sku("12000027158136202")) == "73:175#Black Green;71:193#Polarized"


def test_wrapped_lists_strings_for_numbers_and_ships_from_are_read_alike():
    body = {"aliexpress_ds_product_get_response": {"rsp_code": 200, "result": {
        "ae_item_base_info_dto": {"subject": "Bottle", "product_status_type": "onSelling"},
        "ae_item_sku_info_dtos": {"ae_item_sku_info_d_t_o": [
            {"sku_id": "1", "sku_attr": "200007763:201336103#GERMANY", "offer_sale_price": "5040",
             "currency_code": "KRW", "ipm_sku_stock": 37, "ean_code": "4006381333931",
             "ae_sku_property_dtos": {"ae_sku_property_d_t_o": {"sku_property_id": 200007763,
                                                                "sku_property_name": "Ships From",
                                                                "sku_property_value": "GERMANY"}}},
            {"sku_id": "2", "offer_sale_price": "", "sku_price": "7.00", "currency_code": "KRW"},
            {"offer_sale_price": "1.00"}]}}}}
    rows = mapping.offer_rows(mapping.product_from_body(body, "77"), "USD")
    assert [(r.supplier_sku, r.stock, r.cost, r.ships_from, r.gtin) for r in rows] == [
        ("77:1", 37, Money(5040, "KRW"), "DE", "04006381333931"), ("77:2", 0, Money(7, "KRW"), None, None)]


def test_a_product_off_sale_offers_no_stock_and_a_gone_product_none():
    body = load("product_get.json")
    body["result"]["ae_item_base_info_dto"]["product_status_type"] = "offline"
    (row,) = mapping.offer_rows(mapping.product_from_body(body, "4000903675543"), "USD")
    assert row.stock == 0
    assert mapping.product_from_body({"rsp_code": "605", "rsp_msg": "ITEM_ID_NOT_FOUND"}, "1") is None
    assert mapping.product_from_body({"aliexpress_ds_product_get_response": {"rsp_code": 602}}, "1") is None
    with pytest.raises(RetryableError, match="rsp_code 404"):
        mapping.product_from_body({"rsp_code": "404", "rsp_msg": "System Error"}, "1")


def test_freight_options_and_no_delivery():
    (option,) = mapping.freight_options(load("freight_query_ok.json"), "USD")
    # "shipping_fee_cent": "172.71" with shipping_fee_format "US $172.71": major units, despite the name
    assert option == ShippingOption("CAINIAO_STANDARD", "AliExpress standard shipping", Money(17271, "USD"), 17, 34)
    assert mapping.freight_options(load("freight_query_unavailable.json"), "USD") == []


def test_freight_options_of_several_items_keep_common_methods_summed_cheapest_first():
    a = [ShippingOption("STD", "Standard", Money(199, "USD"), 15, 30),
         ShippingOption("EMS", "EMS", Money(1450, "USD"), 7, 12)]
    b = [ShippingOption("STD", "Standard", Money(100, "USD"), 10, 35), ShippingOption("FREE", "x", Money(0, "USD"))]
    assert mapping.combine_options([a, b]) == [ShippingOption("STD", "Standard", Money(299, "USD"), 15, 35)]
    assert mapping.combine_options([a, []]) == []


def test_order_parameters_carry_our_reference_and_the_address_as_aliexpress_validates_it():
    address = Address(name="Jane Doe", address1="19749 Dearborn St", address2="Apt 2", city="Chatsworth",
                      province_code="CA", postal_code="91311", country_code="US", phone="+1 (818) 555-0100")
    params = mapping.order_params("db-7-2-1", address, [mapping.OrderItem("1005001234567890", 2,
                                                                          "14:193#Black;5:100014064",
                                                                          "CAINIAO_STANDARD")],
                                  auto_pay=True, pay_currency="USD")
    dto = params["param_place_order_request4_open_api_d_t_o"]
    assert dto["out_order_id"] == "db-7-2-1"
    assert dto["logistics_address"] == {"address": "19749 Dearborn St", "address2": "Apt 2", "city": "Chatsworth",
                                        "country": "US", "province": "California", "zip": "91311",
                                        "contact_person": "Jane Doe", "full_name": "Jane Doe",
                                        "mobile_no": "8185550100", "phone_country": "+1"}
    assert dto["product_items"] == [{"product_id": 1005001234567890, "product_count": 2,
                                     "sku_attr": "14:193#Black;5:100014064",
                                     "logistics_service_name": "CAINIAO_STANDARD", "order_memo": "db-7-2-1"}]
    assert params["ds_extend_request"]["payment"] == {"try_to_pay": "true", "pay_currency": "USD"}


def test_a_created_order_paid_unpaid_or_refused():
    ok = load("order_create_ok.json")
    paid = mapping.placed_order(ok, "db-1-1-1", auto_pay=True)
    assert (paid.external_id, paid.reference, paid.placement) == ("8198352049851315", "db-1-1-1", Placement.ACCEPTED)
    assert mapping.placed_order(ok, "db-1-1-1", auto_pay=False).placement == Placement.AWAITING_PAYMENT
    ok["aliexpress_ds_order_create_response"]["result"]["error_msg"] = "OrderCreated, autoPay fail:APIPayFail"
    unpaid = mapping.placed_order(ok, "db-1-1-1", auto_pay=True)
    assert (unpaid.placement, unpaid.status) == (Placement.AWAITING_PAYMENT, "OrderCreated, autoPay fail:APIPayFail")
    split = {"result": {"is_success": "true", "order_list": [3001, 3002]}}
    assert mapping.placed_order(split, "r", auto_pay=False).external_id == "3001,3002"
    with pytest.raises(PermanentError, match="B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL: Please enter a city"):
        mapping.placed_order(load("order_create_refused.json"), "db-1-1-1", auto_pay=False)
    with pytest.raises(RetryableError, match="without an order id"):
        mapping.placed_order({"result": {"is_success": True, "order_list": {"number": []}}}, "r", auto_pay=False)


@pytest.mark.parametrize(("code", "cls"), [("INVENTORY_HOLD_ERROR", OutOfStock),
                                           ("REPEATED_ORDER_ERROR", AlreadyPlaced),
                                           ("ERROR_WHEN_BUILD_FOR_PLACE_ORDER", RetryableError),
                                           ("DELIVERY_METHOD_NOT_EXIST", PermanentError),
                                           ("A003_SUSPICIOUS_BUYER", PermanentError)])
def test_order_refusals_are_classified(code, cls):
    body = {"aliexpress_ds_order_create_response": {"result": {"is_success": False, "error_code": code,
                                                               "error_msg": "x"}}}
    with pytest.raises(cls) as info:
        mapping.placed_order(body, "db-1-1-1", auto_pay=False)
    assert type(info.value) is cls


def test_tracking_of_a_shipped_order_and_of_none():
    (update,) = mapping.tracking_updates(load("tracking_ok.json"), "3001", "db-1-1-1")
    assert (update.tracking_number, update.carrier, update.reference, update.external_order_id) == \
        ("4209795192144903600008220012159992", "AliExpress standard shipping", "db-1-1-1", "3001")
    assert update.shipped_at == datetime.fromtimestamp(1739928180, UTC) and update.items == []
    assert mapping.tracking_updates(load("tracking_not_found.json"), "3001", "r") == []
    empty = {"result": {"ret": True, "data": {"tracking_detail_line_list": {"tracking_detail": []}}}}
    assert mapping.tracking_updates(empty, "3001", "r") == []
    assert mapping.parcel_products(load("tracking_ok.json")) == {"4209795192144903600008220012159992":
                                                                 {"1005008453688391"}}


def test_an_orders_skus_from_its_detail_name_what_a_parcel_carries():
    items = mapping.order_items(load("order_get_ok.json"))
    assert items == [SupplierOrderItem(":1200003702000037", 1)]  # the example omits product_id
    detail = {"result": {"child_order_list": [{"product_id": 5, "sku_id": "51", "product_count": 2},
                                              {"product_id": 6, "sku_id": "61", "product_count": 1}]}}
    updates = mapping.tracking_updates(load("tracking_ok.json"), "3001", "r")
    named = mapping.with_items(updates, {"4209795192144903600008220012159992": {"6"}}, mapping.order_items(detail))
    assert named[0].items == [SupplierOrderItem("6:61", 1)]


def test_error_envelopes_are_classified_by_what_to_do_next():
    denied = errors.from_error(load("order_get_denied.json")["error_response"], "aliexpress: order 1")
    assert type(denied) is PermanentError and "isv.insufficient-permission" in str(denied)
    assert "Insufficient permission." in str(denied) and "210126da17406391015547789" in str(denied)
    throttled = errors.from_error(load("throttled.json")["error_response"], "x")
    assert isinstance(throttled, RateLimited) and throttled.retry_after == 1.0
    banned = errors.from_error({"code": "AppCallLimit", "msg": "this ban will last 7 seconds"}, "x")
    assert banned.retry_after == 7.0
    assert isinstance(errors.from_error({"code": "IllegalAccessToken", "msg": "expired"}, "x"), errors.TokenRejected)
    assert isinstance(errors.from_error({"code": "IllegalRefreshToken", "message": "no"}, "x"), errors.RefreshRejected)
    signature = errors.from_error({"code": "IncompleteSignature", "msg": "bad"}, "x")
    assert type(signature) is AuthExpired
    assert type(errors.from_error({"type": "SYSTEM", "code": "InternalError"}, "x")) is RetryableError
    assert type(errors.from_error({"type": "ISP", "code": "x", "sub_code": "isp.service-unavailable"}, "x")) \
        is RetryableError
    assert type(errors.from_error({"type": "ISV", "code": "MissingParameter"}, "x")) is PermanentError


def test_renewed_tokens_and_stored_expiries():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    flat = {"access_token": "a2", "refresh_token": "r2", "expire_time": 1767312000000, "expires_in": 86400,
            "code": "0"}
    assert mapping.token_set(flat, now, "r1") == mapping.TokenSet("a2", "r2", datetime(2026, 1, 2, tzinfo=UTC))
    wrapped = {"/auth/token/refresh_response": {"access_token": "a3", "expires_in": 60}}
    got = mapping.token_set(wrapped, now, "r1")
    assert (got.refresh_token, got.expires_at) == ("r1", datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    with pytest.raises(RetryableError):
        mapping.token_set({"code": "0"}, now, "r1")
    assert mapping.parse_expiry("2026-01-02T00:00:00+00:00") == datetime(2026, 1, 2, tzinfo=UTC)
    assert mapping.parse_expiry("1767312000000") == datetime(2026, 1, 2, tzinfo=UTC)
    assert mapping.parse_expiry("soon") is None and mapping.parse_expiry(None) is None


def test_skus_are_split_or_refused():
    assert mapping.split_sku("1005:1200") == ("1005", "1200")
    for bad in ("TEE-BLK", "abc:1", "1005:"):
        with pytest.raises(PermanentError, match="not an AliExpress SKU"):
            mapping.split_sku(bad)
