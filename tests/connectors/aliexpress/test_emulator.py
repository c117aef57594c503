"""The AliExpress emulator over real HTTP, through the connector the registry builds from its connection JSON:
the gateway's checks, per-country stock and prices, the order rules the docs state, the payment window,
splitting per seller, and the faults (timeout after accepting, 5xx, throttling, token expiry mid-run)."""

from __future__ import annotations

import time

import httpx
import pytest

from dropbridge.connectors.registry import Registry
from dropbridge.connectors.suppliers.aliexpress.signing import sign
from dropbridge.domain.errors import AlreadyPlaced, AuthExpired, PermanentError, RateLimited, RetryableError
from dropbridge.domain.money import Money
from dropbridge.sandbox.aliexpress import AliExpressEmulator, generate
from dropbridge.services.ports import (
    Address,
    Placement,
    ShippingQuoteRequest,
    SupplierOrderItem,
    SupplierOrderRequest,
)

US = Address(name="Jane Doe", address1="1 Main St", city="Springfield", country_code="US", province_code="IL",
             postal_code="62701", phone="+1 217 555 0100")


@pytest.fixture
def emulator(request):
    options = {"products": generate(5, 4), "auto_pay_allowed": True, **getattr(request, "param", {})}
    emu = AliExpressEmulator(app_key="500100", app_secret="emu-secret", **options)
    emu.start()
    yield emu
    emu.stop()


def build(emulator, **config):
    conn = emulator.connection()
    registry = Registry.default()
    clean = registry.validate("supplier", "aliexpress", conn["base_url"], conn["credentials"],
                              {**conn["config"], **config})
    return registry.build("supplier", "aliexpress", conn["base_url"], conn["credentials"], {"timeout": 2.0, **clean})


def skus(emulator, product: int = 0) -> list[str]:
    p = list(emulator.products.values())[product]
    return [f"{p.product_id}:{s.sku_id}" for s in p.skus]


def order(reference: str, *items: tuple[str, int], ship_to: Address = US) -> SupplierOrderRequest:
    return SupplierOrderRequest(reference=reference, ship_to=ship_to,
                                items=[SupplierOrderItem(s, q) for s, q in items])


def test_the_gateway_refuses_a_wrong_signature_and_unknown_paths_in_its_envelope(emulator):
    conn = emulator.connection()
    with pytest.raises(AuthExpired, match="IncompleteSignature"):
        build(emulator).client.__class__(conn["base_url"], "500100", "wrong-secret",
                                         budget=build(emulator).client._budget).post(
            "aliexpress.ds.product.get", {"product_id": "1"}, token=conn["credentials"]["access_token"], what="x")
    params = {"app_key": "500100", "method": "aliexpress.ds.product.get", "timestamp": "1", "sign_method": "md5",
              "session": conn["credentials"]["access_token"], "product_id": skus(emulator)[0].split(":")[0],
              "ship_to_country": "US"}
    params["sign"] = sign("emu-secret", params["method"], params, "md5")
    legacy = httpx.post(conn["base_url"] + "/sync", data=params).json()
    assert legacy["aliexpress_ds_product_get_response"]["rsp_code"] == "200"  # legacy md5 signing is accepted
    nowhere = httpx.get(conn["base_url"] + "/api/v2/orders")
    assert nowhere.status_code == 404 and nowhere.json()["error_response"]["code"] == "InvalidApiPath"
    params = {**params, "method": "aliexpress.ds.no.such", "sign_method": "sha256"}
    params["sign"] = sign("emu-secret", params["method"], {k: v for k, v in params.items() if k != "sign"})
    assert httpx.post(conn["base_url"] + "/sync", data=params).json()["error_response"]["code"] == "InvalidApiPath"


def test_stock_and_prices_are_those_of_the_ship_to_country_and_currency(emulator):
    us = {r.supplier_sku: r for r in build(emulator).fetch_offers().items}
    gb = {r.supplier_sku: r for r in build(emulator, ship_to_country="GB", currency="EUR").fetch_offers().items}
    local = skus(emulator, 0)[-1]  # ships from the US warehouse: sold to the US only
    assert (us[local].stock, us[local].ships_from, gb[local].stock) == (500, "US", 0)
    first = skus(emulator, 0)[0]
    assert us[first].cost.currency == "USD" and gb[first].cost.currency == "EUR"
    assert gb[first].cost.amount == round(us[first].cost.amount * 0.92)
    assert gb[first].catalog["options"] == {"Color": "Black", "Size": "XS"}


def test_shipping_quotes_per_destination(emulator):
    supplier = build(emulator)
    first, local = skus(emulator, 0)[0], skus(emulator, 0)[-1]
    options = supplier.quote_shipping(ShippingQuoteRequest(items=(SupplierOrderItem(first, 2),), country_code="DE",
                                                           currency="EUR"))
    assert [(o.method, o.cost) for o in options] == [("CAINIAO_FULFILLMENT_STD", Money(0, "EUR")),
                                                     ("CAINIAO_STANDARD", Money(229, "EUR")),
                                                     ("EMS", Money(1518, "EUR"))]
    assert supplier.quote_shipping(ShippingQuoteRequest(items=(SupplierOrderItem(local, 1),), country_code="DE")) == []
    both = supplier.quote_shipping(ShippingQuoteRequest(
        items=(SupplierOrderItem(first, 1), SupplierOrderItem(skus(emulator, 1)[0], 1)), country_code="US"))
    assert [o.method for o in both] == ["CAINIAO_FULFILLMENT_STD", "CAINIAO_STANDARD", "EMS"]
    assert both[1].cost == Money(398, "USD")


def test_an_order_lands_once_and_its_out_order_id_is_refused_again_for_the_window(emulator):
    supplier = build(emulator)
    placed = supplier.place_order(order("db-1-1-1", (skus(emulator)[0], 2)))
    assert placed.placement == Placement.ACCEPTED and placed.shipping_cost == Money(0, "USD")
    with pytest.raises(AlreadyPlaced, match="REPEATED_ORDER_ERROR"):
        supplier.place_order(order("db-1-1-1", (skus(emulator)[0], 2)))
    assert emulator.creations() == [{"out_order_id": "db-1-1-1", "order_ids": placed.external_id.split(",")}]
    sku_id = skus(emulator)[0].split(":")[1]
    assert next(s for p in emulator.products.values() for s in p.skus if s.sku_id == sku_id).stock == 498


@pytest.mark.parametrize("emulator", [{"dedupe_window_seconds": 0.3}], indirect=True)
def test_after_the_window_the_same_reference_makes_another_order(emulator):
    supplier = build(emulator)
    supplier.place_order(order("db-1-1-1", (skus(emulator)[0], 1)))
    time.sleep(0.4)
    supplier.place_order(order("db-1-1-1", (skus(emulator)[0], 1)))
    assert [c["out_order_id"] for c in emulator.creations()] == ["db-1-1-1", "db-1-1-1"]


@pytest.mark.parametrize("emulator", [{"repeat_answer": "same"}], indirect=True)
def test_a_repeat_answered_with_the_first_order_is_that_order(emulator):
    supplier = build(emulator)
    first = supplier.place_order(order("db-1-1-1", (skus(emulator)[0], 1)))
    again = supplier.place_order(order("db-1-1-1", (skus(emulator)[0], 1)))
    assert again.external_id == first.external_id and len(emulator.creations()) == 1


def test_the_documented_address_rules(emulator):
    supplier = build(emulator, shipping_method="CAINIAO_STANDARD")
    no_province = Address(name="Jane Doe", address1="1 Main", city="Springfield", country_code="US")
    with pytest.raises(PermanentError, match="Please select a State/Province/County"):
        supplier.place_order(order("db-2-1-1", (skus(emulator)[0], 1), ship_to=no_province))
    short = Address(name="J", address1="1 Main", city="Springfield", country_code="US", province_code="IL")
    with pytest.raises(PermanentError, match="Please enter between 2 - 32 characters"):
        supplier.place_order(order("db-2-1-2", (skus(emulator)[0], 1), ship_to=short))
    with pytest.raises(PermanentError, match="DELIVERY_METHOD_NOT_EXIST"):
        build(emulator, shipping_method="DHL").place_order(order("db-2-1-3", (skus(emulator)[0], 1)))
    assert emulator.creations() == []


@pytest.mark.parametrize("emulator", [{"auto_pay_allowed": False, "pay_timeout_seconds": 1}], indirect=True)
def test_an_unpaid_order_waits_and_closes_after_the_payment_window(emulator):
    supplier = build(emulator, auto_pay=True)
    placed = supplier.place_order(order("db-3-1-1", (skus(emulator)[0], 3)))
    assert (placed.placement, placed.status) == (Placement.AWAITING_PAYMENT, "OrderCreated, autoPay fail:APIPayFail")
    (order_id,) = placed.external_id.split(",")
    with pytest.raises(ValueError, match="not paid"):
        emulator.ship(order_id)
    deadline = time.monotonic() + 5
    while emulator.order(order_id).status != "FINISH" and time.monotonic() < deadline:
        time.sleep(0.05)
    closed = emulator.order(order_id)
    assert (closed.status, closed.end_reason) == ("FINISH", "CANCELED")
    assert supplier.fetch_tracking(placed.external_id, "db-3-1-1") == []
    assert next(iter(emulator.products.values())).skus[0].stock == 500  # given back


def test_an_order_across_sellers_is_several_aliexpress_orders_each_tracked_with_its_skus(emulator):
    supplier = build(emulator)
    a, b = skus(emulator, 0)[0], skus(emulator, 1)[1]
    placed = supplier.place_order(order("db-4-1-1", (a, 1), (b, 2)))
    first, second = placed.external_id.split(",")
    assert supplier.fetch_tracking(placed.external_id, "db-4-1-1") == []  # not shipped yet
    emulator.ship(second)
    (update,) = supplier.fetch_tracking(placed.external_id, "db-4-1-1")
    assert (update.external_order_id, update.reference) == (second, "db-4-1-1")
    assert [(i.supplier_sku, i.quantity) for i in update.items] == [(b, 2)]
    assert update.tracking_number.startswith("LP00") and update.carrier == "AliExpress Selection Standard"
    emulator.ship(first)
    assert {u.external_order_id for u in supplier.fetch_tracking(placed.external_id, "db-4-1-1")} == {first, second}


def test_faults_on_order_creation(emulator):
    supplier = build(emulator, shipping_method="CAINIAO_STANDARD", timeout=0.5)
    emulator.faults.inject("timeout_before_accept", seconds=1.0)
    with pytest.raises(RetryableError):
        supplier.place_order(order("db-5-1-1", (skus(emulator)[0], 1)))
    assert emulator.creations() == []
    emulator.faults.inject("hang_after_accept", seconds=1.5)
    with pytest.raises(RetryableError, match="timed out"):
        supplier.place_order(order("db-5-1-2", (skus(emulator)[0], 1)))
    assert [c["out_order_id"] for c in emulator.creations()] == ["db-5-1-2"]  # it landed all the same
    emulator.faults.inject("rate_limit", retry_after=4)
    with pytest.raises(RateLimited) as info:
        supplier.place_order(order("db-5-1-3", (skus(emulator)[0], 1)))
    assert info.value.retry_after == 4.0
    emulator.faults.inject("reject")
    with pytest.raises(PermanentError, match="INVENTORY_HOLD_ERROR"):
        supplier.place_order(order("db-5-1-4", (skus(emulator)[0], 1)))
    assert len(emulator.creations()) == 1


def test_a_token_that_expires_mid_run_is_renewed_and_the_order_lands_once(emulator):
    supplier = build(emulator, shipping_method="CAINIAO_STANDARD")
    supplier.fetch_offers()
    emulator.faults.inject("token_expired", operation="orders.create")
    supplier.place_order(order("db-6-1-1", (skus(emulator)[0], 1)))
    assert [c["out_order_id"] for c in emulator.creations()] == ["db-6-1-1"]
    assert supplier.tokens.renewals == 1 and emulator.calls["/auth/token/refresh"] == 1
    emulator.expire_token()  # between calls, as a token ends: the next catalog page renews again
    assert len(supplier.fetch_offers().items) == 20 and supplier.tokens.renewals == 2


@pytest.mark.parametrize("emulator", [{"token_ttl_seconds": 60}], indirect=True)
def test_a_token_near_its_expiry_is_renewed_before_use(emulator):
    supplier = build(emulator)
    supplier.fetch_offers()
    assert supplier.tokens.renewals == 1 and emulator.calls["/auth/token/refresh"] == 1


@pytest.mark.parametrize("emulator", [{"qps": 3, "ban_seconds": 1}], indirect=True)
def test_over_the_qps_limit_the_ban_is_waited_out_on_reads(emulator):
    supplier = build(emulator, products_per_page=5, concurrency=1)
    started = time.monotonic()
    rows = supplier.fetch_offers().items
    assert len(rows) == 20 and time.monotonic() - started >= 1.0
    assert emulator.calls["aliexpress.ds.product.get"] == 5  # refused calls are not counted as served


@pytest.mark.parametrize("emulator", [{"order_visible_after_seconds": 30}], indirect=True)
def test_an_order_just_made_is_not_visible_to_order_get_yet(emulator):
    supplier = build(emulator, shipping_method="CAINIAO_STANDARD")
    placed = supplier.place_order(order("db-7-1-1", (skus(emulator)[0], 1)))
    with pytest.raises(PermanentError, match="isv.insufficient-permission"):
        supplier._read("aliexpress.trade.ds.order.get", {"single_order_query": f'{{"order_id": {placed.external_id}}}'},
                       "order")
