"""The AliExpress connector's requests and its handling of answers, through httpx.MockTransport: what it
sends (signed as IOP checks, by the emulator's independent check), token renewal before expiry and when the
gateway refuses a token mid-run, and what an order does when its reads fail or the answer refuses it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from dropbridge.connectors.suppliers.aliexpress.connector import AliExpressSupplier
from dropbridge.connectors.suppliers.aliexpress.errors import RefreshRejected
from dropbridge.domain.errors import (
    AlreadyPlaced,
    ConfigurationError,
    NotSent,
    OutOfStock,
    PermanentError,
    RateLimited,
)
from dropbridge.domain.money import Money
from dropbridge.sandbox.aliexpress.gateway import signature_ok
from dropbridge.services.ports import Address, Placement, SupplierOrderItem, SupplierOrderRequest

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "s3cr3t"
SHIP_TO = Address(name="Jane Doe", address1="1 Main St", city="Springfield", country_code="US", province_code="IL",
                  postal_code="62701")


def product_body(product_id: str, skus: list[tuple[str, str, int]]) -> dict:
    return {"aliexpress_ds_product_get_response": {"rsp_code": "200", "result": {
        "ae_item_base_info_dto": {"product_id": int(product_id), "subject": f"Item {product_id}",
                                  "product_status_type": "onSelling"},
        "ae_item_sku_info_dtos": {"ae_item_sku_info_d_t_o": [
            {"sku_id": sku_id, "sku_attr": f"14:{sku_id}#C", "offer_sale_price": price, "currency_code": "USD",
             "sku_available_stock": stock} for sku_id, price, stock in skus]}}}}


class Gateway:
    """A scripted gateway: answers per method name (callables or bodies, consumed in order when a list)."""

    def __init__(self, answers: dict):
        self.answers = {k: (list(v) if isinstance(v, list) else v) for k, v in answers.items()}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        api = params["method"]
        self.requests.append((request.url.path, params))
        assert signature_ok(SECRET, api, params), f"bad signature on {api}"
        answer = self.answers[api]
        if isinstance(answer, list):
            answer = answer.pop(0)
        if callable(answer):
            answer = answer(params)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def methods(self) -> list[str]:
        return [p["method"] for _, p in self.requests]


def connector(gateway: Gateway, **kwargs) -> AliExpressSupplier:
    options = {"product_ids": ["1001", "1002"], "rate_per_second": 500.0, "concurrency": 1}
    options.update(kwargs)
    return AliExpressSupplier("https://api-sg.example", "500100", SECRET, "tok-1", refresh_token="ref-1",
                              transport=httpx.MockTransport(gateway), clock=lambda: NOW, sleep=lambda s: None,
                              **options)


def test_catalog_calls_are_signed_iop_calls_with_the_ship_to_country_and_currency():
    gateway = Gateway({"aliexpress.ds.product.get": lambda p: product_body(p["product_id"],
                                                                           [("1", "2.50", 9), ("2", "3.00", 0)])})
    page = connector(gateway, ship_to_country="GB", currency="GBP", language="en_GB").fetch_offers()
    path, sent = gateway.requests[0]
    assert path == "/sync"
    assert {k: sent[k] for k in ("app_key", "method", "session", "sign_method", "partner_id", "simplify", "format",
                                 "timestamp", "product_id", "ship_to_country", "target_currency",
                                 "target_language")} == {
        "app_key": "500100", "method": "aliexpress.ds.product.get", "session": "tok-1", "sign_method": "sha256",
        "partner_id": "iop-sdk-python-20220609", "simplify": "false", "format": "json",
        "timestamp": str(int(NOW.timestamp() * 1000)), "product_id": "1001", "ship_to_country": "GB",
        "target_currency": "GBP", "target_language": "en_GB"}
    assert len(sent["sign"]) == 64 and sent["sign"] == sent["sign"].upper()
    assert [(r.supplier_sku, r.stock, r.cost) for r in page.items] == [
        ("1001:1", 9, Money(250, "USD")), ("1001:2", 0, Money(300, "USD")),
        ("1002:1", 9, Money(250, "USD")), ("1002:2", 0, Money(300, "USD"))]
    assert page.next_cursor is None


def test_catalog_pages_over_the_product_ids_and_skips_products_aliexpress_no_longer_has():
    gone = {"aliexpress_ds_product_get_response": {"rsp_code": "605", "rsp_msg": "ITEM_ID_NOT_FOUND"}}
    gateway = Gateway({"aliexpress.ds.product.get": lambda p: gone if p["product_id"] == "3" else
                       product_body(p["product_id"], [("9", "1.00", 1)])})
    supplier = connector(gateway, product_ids=["1", "2", "3", "4", "5"], products_per_page=2)
    pages, cursor = [], None
    while True:
        page = supplier.fetch_offers(cursor)
        pages.append(([r.supplier_sku for r in page.items], page.next_cursor))
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == [(["1:9", "2:9"], "2"), (["4:9"], "4"), (["5:9"], None)]
    with pytest.raises(ConfigurationError, match="no product_ids"):
        connector(gateway, product_ids=[]).fetch_offers()


def test_a_token_about_to_expire_is_renewed_first_and_handed_back_to_be_stored():
    saved = []
    renewal = {"access_token": "tok-2", "refresh_token": "ref-2", "expire_time": int((NOW + timedelta(days=1))
                                                                                      .timestamp() * 1000),
               "expires_in": 86400, "code": "0", "request_id": "1"}
    gateway = Gateway({"/auth/token/refresh": renewal,
                       "aliexpress.ds.product.get": lambda p: product_body(p["product_id"], [("1", "1.00", 1)])})
    supplier = AliExpressSupplier("https://api-sg.example", "500100", SECRET, "tok-1", refresh_token="ref-1",
                                  expires_at=NOW + timedelta(minutes=10), product_ids=["1001"], concurrency=1,
                                  transport=httpx.MockTransport(gateway), clock=lambda: NOW,
                                  save_credentials=saved.append)
    supplier.fetch_offers()
    supplier.fetch_offers()
    (path, refresh), (_, first), (_, second) = gateway.requests
    assert path == "/rest/auth/token/refresh"
    assert refresh["refresh_token"] == "ref-1" and "session" not in refresh
    assert first["session"] == second["session"] == "tok-2"
    assert saved == [{"access_token": "tok-2", "refresh_token": "ref-2",
                      "access_token_expires_at": (NOW + timedelta(days=1)).isoformat()}]


def test_a_token_refused_mid_run_is_renewed_once_and_the_call_repeated():
    refused = {"error_response": {"type": "ISV", "code": "IllegalAccessToken",
                                  "msg": "The specified access token is invalid or expired"}}
    ok = product_body("1001", [("1", "1.00", 1)])
    gateway = Gateway({"/auth/token/refresh": {"access_token": "tok-2", "expires_in": 60, "code": "0"},
                       "aliexpress.ds.product.get": [ok, refused, ok]})
    supplier = connector(gateway, product_ids=["1001", "1002"], products_per_page=1)
    supplier.fetch_offers()
    supplier.fetch_offers("1")
    sessions = [p.get("session") for _, p in gateway.requests]
    assert gateway.methods() == ["aliexpress.ds.product.get", "aliexpress.ds.product.get", "/auth/token/refresh",
                                 "aliexpress.ds.product.get"]
    assert sessions == ["tok-1", "tok-1", None, "tok-2"]
    assert gateway.requests[2][1]["refresh_token"] == "ref-1"  # kept: the renewal answer named none


def test_a_refused_refresh_token_asks_for_a_new_authorization():
    gateway = Gateway({"/auth/token/refresh": {"type": "ISV", "code": "IllegalRefreshToken", "message": "expired"},
                       "aliexpress.ds.product.get": {"error_response": {"code": "IllegalAccessToken", "msg": "no"}}})
    with pytest.raises(RefreshRejected, match="authorize the app again"):
        connector(gateway).fetch_offers()


def _order(reference: str = "db-5-1-1", *skus: tuple[str, int]) -> SupplierOrderRequest:
    items = [SupplierOrderItem(s, q) for s, q in (skus or (("1001:1", 2),))]
    return SupplierOrderRequest(reference=reference, ship_to=SHIP_TO, items=items)


FREIGHT = json.loads((FIXTURES / "freight_query_ok.json").read_text())
CREATED = json.loads((FIXTURES / "order_create_ok.json").read_text())


def test_an_order_reads_sku_and_delivery_for_its_country_then_sends_our_reference_once():
    gateway = Gateway({"aliexpress.ds.product.get": product_body("1001", [("1", "4.00", 5)]),
                       "aliexpress.ds.freight.query": FREIGHT, "aliexpress.ds.order.create": CREATED})
    placed = connector(gateway).place_order(_order())
    assert gateway.methods() == ["aliexpress.ds.product.get", "aliexpress.ds.freight.query",
                                 "aliexpress.ds.order.create"]
    assert gateway.requests[0][1]["ship_to_country"] == "US"
    freight = json.loads(gateway.requests[1][1]["queryDeliveryReq"])
    assert freight == {"quantity": 2, "shipToCountry": "US", "productId": "1001", "selectedSkuId": "1",
                       "language": "en_US", "locale": "en_US", "currency": "USD", "provinceCode": "Illinois"}
    sent = gateway.requests[2][1]
    dto = json.loads(sent["param_place_order_request4_open_api_d_t_o"])
    assert dto["out_order_id"] == "db-5-1-1"
    assert dto["product_items"] == [{"product_id": 1001, "product_count": 2, "sku_attr": "14:1#C",
                                     "logistics_service_name": "CAINIAO_STANDARD", "order_memo": "db-5-1-1"}]
    assert json.loads(sent["ds_extend_request"])["payment"]["try_to_pay"] == "false"
    assert (placed.external_id, placed.placement, placed.shipping_cost) == \
        ("8198352049851315", Placement.AWAITING_PAYMENT, Money(17271, "USD"))


def test_a_method_routing_or_the_merchant_chose_is_used_without_a_quote():
    gateway = Gateway({"aliexpress.ds.product.get": product_body("1001", [("1", "4.00", 5)]),
                       "aliexpress.ds.order.create": CREATED})
    connector(gateway, shipping_method="EMS").place_order(_order())
    dto = json.loads(gateway.requests[-1][1]["param_place_order_request4_open_api_d_t_o"])
    assert gateway.methods() == ["aliexpress.ds.product.get", "aliexpress.ds.order.create"]
    assert dto["product_items"][0]["logistics_service_name"] == "EMS"


def test_too_little_stock_for_the_orders_country_is_a_refusal_before_anything_is_sent():
    gateway = Gateway({"aliexpress.ds.product.get": product_body("1001", [("1", "4.00", 1)])})
    with pytest.raises(OutOfStock, match="has 1 of 1001:1 for US, 2 wanted"):
        connector(gateway).place_order(_order())
    gone = Gateway({"aliexpress.ds.product.get": {"rsp_code": "602", "rsp_msg": "not allowed"}})
    with pytest.raises(OutOfStock, match="no longer sells 1001:1 to US"):
        connector(gone).place_order(_order())
    assert "aliexpress.ds.order.create" not in gateway.methods() + gone.methods()


def test_no_delivery_to_the_country_is_a_refusal():
    gateway = Gateway({"aliexpress.ds.product.get": product_body("1001", [("1", "4.00", 5)]),
                       "aliexpress.ds.freight.query": json.loads((FIXTURES / "freight_query_unavailable.json")
                                                                 .read_text())})
    with pytest.raises(PermanentError, match="does not deliver 1001:1 to US"):
        connector(gateway).place_order(_order())


def test_reads_an_order_needs_that_keep_failing_mean_it_was_not_sent():
    down = httpx.Response(503, text="upstream down")
    gateway = Gateway({"aliexpress.ds.product.get": [down, down, down]})
    with pytest.raises(NotSent, match="db-5-1-1 not sent"):
        connector(gateway).place_order(_order())
    assert gateway.methods() == ["aliexpress.ds.product.get"] * 3


def test_the_order_answer_decides_the_outcome():
    repeated = {"aliexpress_ds_order_create_response": {"result": {
        "is_success": False, "error_code": "REPEATED_ORDER_ERROR", "error_msg": "Repeated placed order"}}}
    throttled = json.loads((FIXTURES / "throttled.json").read_text())
    for answer, error in ((repeated, AlreadyPlaced), (throttled, RateLimited)):
        gateway = Gateway({"aliexpress.ds.product.get": product_body("1001", [("1", "4.00", 5)]),
                           "aliexpress.ds.order.create": answer})
        with pytest.raises(error):
            connector(gateway, shipping_method="EMS").place_order(_order())
        assert gateway.methods().count("aliexpress.ds.order.create") == 1  # never repeated in the call


def test_auto_pay_is_asked_for_and_its_outcome_read():
    unpaid = {"aliexpress_ds_order_create_response": {"result": {
        "is_success": True, "order_list": {"number": [5]}, "error_msg": "OrderCreated, autoPay fail:APIPayFail"}}}
    for answer, placement in ((CREATED, Placement.ACCEPTED), (unpaid, Placement.AWAITING_PAYMENT)):
        gateway = Gateway({"aliexpress.ds.product.get": product_body("1001", [("1", "4.00", 5)]),
                           "aliexpress.ds.order.create": answer})
        placed = connector(gateway, shipping_method="EMS", auto_pay=True, pay_currency="USD").place_order(_order())
        assert placed.placement == placement
        extend = json.loads(gateway.requests[-1][1]["ds_extend_request"])
        assert extend["payment"] == {"try_to_pay": "true", "pay_currency": "USD"}


def test_an_order_whose_outcome_is_unknown_cannot_be_looked_up():
    from dropbridge.services.ports import CANNOT_KNOW

    gateway = Gateway({})
    assert connector(gateway).find_order("db-5-1-1") is CANNOT_KNOW
    assert gateway.requests == []
