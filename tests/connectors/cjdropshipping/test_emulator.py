"""The emulator behaves as the contract documents CJ (and the connector copes): envelope everywhere, tokens
and their limits, the account's QPS, order rules, faults. Real HTTP on a free localhost port."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from dropbridge.connectors.kit.budget import RateBudget
from dropbridge.connectors.registry import Registry
from dropbridge.domain.errors import PermanentError, RetryableError
from dropbridge.sandbox.cjdropshipping import CjEmulator
from dropbridge.services.ports import Address, Placement, SupplierOrderItem, SupplierOrderRequest

SHIP_TO = Address(name="Jane Doe", address1="1 Main St", city="Springfield", country_code="US",
                  province_code="IL", postal_code="62701")


@pytest.fixture
def emu():
    # Tokens may be bought as often as asked here: each test's connectors are new processes, as it were.
    emulator = CjEmulator(api_key="CJ1@api@k", qps=50, images=False, ship_after_seconds=None, token_interval=0,
                          catalog=[{"sku": "TEE", "key_names": "Color-Size",
                                    "variants": [{"sku": "TEE-BLK-M", "key": "Black-M", "price": "8.50",
                                                  "stock": {"CN": 5, "US": 2}},
                                                 {"sku": "TEE-WHT-M", "key": "White-M", "price": "8.00",
                                                  "stock": {"CN": 0}}]}])
    emulator.start()
    RateBudget._accounts.clear()
    yield emulator
    emulator.stop()


@pytest.fixture
def http(emu):
    with httpx.Client(base_url=f"{emu.url}/api2.0/v1", timeout=5) as client:
        yield client


def _token(http) -> str:
    return http.post("/authentication/getAccessToken", json={"apiKey": "CJ1@api@k"}).json()["data"]["accessToken"]


def _connector(emu, **config):
    conn = emu.connection()
    return Registry.default().build("supplier", "cjdropshipping", conn["base_url"], conn["credentials"],
                                    {**conn["config"], "qps": 6, "timeout": 2.0, **config})


def test_every_reply_is_in_cjs_envelope_unknown_routes_and_methods_too(http):
    missing = http.get("/no/such/route")
    assert missing.status_code == 404 and missing.json()["code"] == 404 and missing.json()["result"] is False
    wrong = http.post("/product/listV2")
    assert wrong.status_code == 405 and wrong.json()["message"] == "Request method 'POST' not supported"
    assert set(wrong.json()) == {"code", "result", "message", "data", "requestId"}
    assert http.get("/product/listV2").json()["code"] == 1600002  # no token: with HTTP 200 ([U] setting)
    bad = http.get("/product/listV2", headers={"CJ-Access-Token": "nope"})
    assert (bad.status_code, bad.json()["code"]) == (200, 1600001)
    assert http.post("/authentication/getAccessToken", json={"apiKey": "wrong"}).json()["code"] == 1600005


def test_token_limits(emu, http):
    emu.token_interval = 300
    first = http.post("/authentication/getAccessToken", json={"apiKey": "CJ1@api@k"}).json()
    assert first["code"] == 200 and first["data"]["accessTokenExpiryDate"].endswith("+08:00")
    again = http.post("/authentication/getAccessToken", json={"apiKey": "CJ1@api@k"})
    assert (again.status_code, again.json()["code"]) == (429, 1600200)  # once per 5 minutes
    refresh = first["data"]["refreshToken"]
    replies = [http.post("/authentication/refreshAccessToken", json={"refreshToken": refresh}) for _ in range(6)]
    assert [r.json()["code"] for r in replies] == [200] * 5 + [1600200]  # 5 times a minute
    old = http.get("/product/listV2", headers={"CJ-Access-Token": first["data"]["accessToken"]})
    assert old.json()["code"] == 1600001  # a refresh revokes the token it replaces
    new = replies[4].json()["data"]["accessToken"]
    assert http.get("/product/listV2", headers={"CJ-Access-Token": new}).json()["code"] == 200
    bad = http.post("/authentication/refreshAccessToken", json={"refreshToken": "nope"}).json()
    assert bad["code"] in (1600003, 1600200)


def test_the_accounts_qps_is_enforced_and_the_connector_keeps_to_it(emu, http):
    token = _token(http)
    emu.qps = 2
    codes = [http.get("/product/listV2", headers={"CJ-Access-Token": token}).json()["code"] for _ in range(3)]
    assert codes == [200, 200, 1600200]
    time.sleep(1.0)
    connector = _connector(emu, qps=2)
    started = time.monotonic()
    for _ in range(4):  # paced by its budget: never refused
        connector.fetch_offers()
    assert time.monotonic() - started >= 1.5
    assert emu.calls["/api2.0/v1/product/listV2"] >= 7


def test_listv2_pages_and_limits(emu, http):
    emu.add_products([{"sku": f"P{n}", "variants": [{"sku": f"P{n}-V", "price": "1.00", "stock": 1}]}
                      for n in range(5)])
    token = _token(http)
    page = http.get("/product/listV2", params={"page": 2, "size": 4}, headers={"CJ-Access-Token": token}).json()
    assert page["data"]["totalRecords"] == 6 and page["data"]["totalPages"] == 2
    assert len(page["data"]["content"][0]["productList"]) == 2
    too_big = http.get("/product/listV2", params={"size": 101}, headers={"CJ-Access-Token": token}).json()
    assert (too_big["code"], too_big["result"]) == (1600100, False)


def test_orders_follow_cjs_rules(emu):
    connector = _connector(emu)
    offers = {r.supplier_sku: r for r in connector.fetch_offers().items}
    assert (offers["TEE-BLK-M"].stock, offers["TEE-WHT-M"].stock) == (5, 0)
    request = SupplierOrderRequest(reference="db-1-1-1", ship_to=SHIP_TO, items=[SupplierOrderItem("TEE-BLK-M", 2)])
    placed = connector.place_order(request)  # paid from the sandbox balance
    assert placed.placement == Placement.ACCEPTED and placed.status == "UNSHIPPED"
    assert placed.cost.amount == 1700 and placed.shipping_cost.amount == 430  # CJPacket Ordinary for two
    assert str(emu.balance) == "978.70"
    assert connector.find_order("db-1-1-1").external_id == placed.external_id  # by our orderNumber
    with pytest.raises(PermanentError, match="1603001"):  # only 3 left in China
        connector.place_order(SupplierOrderRequest(reference="db-2-1-1", ship_to=SHIP_TO,
                                                   items=[SupplierOrderItem("TEE-BLK-M", 4)]))
    with pytest.raises(PermanentError, match="does not ship"):  # USPS+ is not offered from China
        _connector(emu, logistic_name="USPS+").place_order(request)
    with pytest.raises(PermanentError, match="cannot be deleted"):  # paid: CJ works on it
        connector.cancel_order(placed.external_id)
    unpaid = _connector(emu, pay_from_balance=False).place_order(
        SupplierOrderRequest(reference="db-3-1-1", ship_to=SHIP_TO, items=[SupplierOrderItem("TEE-BLK-M", 1)]))
    assert unpaid.placement == Placement.AWAITING_PAYMENT and unpaid.status == "CREATED"
    assert connector.cancel_order(unpaid.external_id).status == "CANCELLED"
    assert connector.fetch_tracking(placed.external_id, "db-1-1-1") == []
    emu.ship(placed.external_id)
    (update,) = connector.fetch_tracking(placed.external_id, "db-1-1-1")
    assert update.carrier == "CJPacket Ordinary" and update.tracking_number.startswith("CJPKL")
    invoice = connector.fetch_invoice(placed.external_id, "db-1-1-1")
    assert invoice.total.amount == 2130 and invoice.lines[0].supplier_sku == "TEE-BLK-M"


def test_a_short_balance_leaves_the_order_unpaid(emu):
    emu.balance = Decimal("5.00")
    placed = _connector(emu).place_order(SupplierOrderRequest(reference="db-4-1-1", ship_to=SHIP_TO,
                                                             items=[SupplierOrderItem("TEE-BLK-M", 1)]))
    assert placed.placement == Placement.AWAITING_PAYMENT and placed.status == "UNPAID"


def test_a_token_expiring_mid_run_is_refreshed_and_the_run_goes_on(emu):
    connector = _connector(emu)
    connector.fetch_offers()
    emu.faults.inject("token_expired", operation="catalog")
    rows = connector.fetch_offers().items
    assert len(rows) == 2
    assert (connector.tokens.bought, connector.tokens.refreshed) == (1, 1)
    emu.expire_tokens()  # and between two calls
    assert connector.find_order("db-404") is None
    assert (connector.tokens.bought, connector.tokens.refreshed) == (1, 2)


def test_faults_after_accepting_and_before(emu):
    connector = _connector(emu, timeout=0.5)
    request = SupplierOrderRequest(reference="db-5-1-1", ship_to=SHIP_TO, items=[SupplierOrderItem("TEE-BLK-M", 1)])
    emu.faults.inject("hang_after_accept", operation="orders.create", seconds=2)
    with pytest.raises(RetryableError):
        connector.place_order(request)
    assert connector.find_order("db-5-1-1") is not None  # it landed
    emu.faults.inject("timeout_before_accept", operation="orders.create", seconds=1)
    with pytest.raises(RetryableError):
        connector.place_order(SupplierOrderRequest(reference="db-6-1-1", ship_to=SHIP_TO,
                                                   items=[SupplierOrderItem("TEE-BLK-M", 1)]))
    assert connector.find_order("db-6-1-1") is None  # it did not
