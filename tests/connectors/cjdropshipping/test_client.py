"""The envelope judged by its code (not the HTTP status), the one error table, the token bought once and
shared, refreshed before it expires and after CJ refuses it, within CJ's token-call limits."""

from __future__ import annotations

import httpx
import pytest

from dropbridge.connectors.kit.secrets import MemorySecretStore
from dropbridge.connectors.suppliers.cjdropshipping.client import CjError
from dropbridge.domain.errors import AuthExpired, ConfigurationError, RateLimited, RetryableError
from dropbridge.services.ports import Address, SupplierOrderItem, SupplierOrderRequest

from .conftest import envelope, fixture

DETAIL = "/shopping/order/getOrderDetail"


def _get(supplier):
    """One authenticated call, without the retry policy's waits (tests of what each reply means)."""
    return supplier._authenticated("GET", DETAIL, what="test", params={"orderId": "x"})


def test_success_is_code_200_with_result_true_whatever_the_status(cj, make):
    cj.on("GET", DETAIL, envelope({"orderId": "A"}))
    assert _get(make()) == {"orderId": "A"}
    assert cj.requests[-1].headers["CJ-Access-Token"] == "f59ac98193d64d62a9e887abea830369"


@pytest.mark.parametrize(("status", "body", "error", "retry_after"), [
    (429, fixture("qps_limit.json"), RateLimited, 1.0),  # CJ sends no Retry-After: a second, its window
    (200, fixture("param_error.json"), CjError, None),  # an error with HTTP 200 is still an error
    (200, envelope(None, 1600000, "System busy, please contact CJ IT"), RetryableError, None),
    (500, envelope(None, 1603001, "Insufficient inventory"), RetryableError, None),
])
def test_each_code_means_one_thing(cj, make, status, body, error, retry_after):
    cj.on("GET", DETAIL, (status, body))
    with pytest.raises(error) as info:
        _get(make())
    assert info.value.retry_after == retry_after
    assert str(body["code"]) in str(info.value)
    if error is CjError:
        assert info.value.code == 1600100 and not isinstance(info.value, RetryableError)


def test_a_wrong_api_key_is_a_configuration_problem(cj, make):
    cj.on("POST", "/authentication/getAccessToken",
          envelope(None, 1600005, "APIkey is wrong, please check and try again"))
    with pytest.raises(ConfigurationError, match="1600005"):
        _get(make())
    assert cj.paths() == ["/authentication/getAccessToken"]


def test_a_gateway_page_without_the_envelope_is_classified_by_its_status(cj, make):
    cj.on("GET", DETAIL, (200, envelope({"orderId": "A"})))
    supplier = make()
    _get(supplier)
    cj.routes[("GET", DETAIL)] = [(502, "<html>bad gateway</html>")]
    with pytest.raises(RetryableError, match="HTTP 502"):
        _get(supplier)
    cj.routes[("GET", DETAIL)] = [(200, ["not", "an", "envelope"])]
    with pytest.raises(RetryableError, match="without CJ's envelope"):
        _get(supplier)
    cj.routes[("GET", DETAIL)] = [(200, httpx.ReadTimeout("slow"))]
    with pytest.raises(RetryableError, match="timed out"):
        _get(supplier)


def test_the_token_is_bought_once_and_shared_through_the_store(cj, make):
    cj.on("GET", DETAIL, envelope({"orderId": "A"}))
    store = MemorySecretStore()
    first, second = make(store), make(store)  # two processes of one deployment
    _get(first)
    _get(second)
    assert cj.paths().count("/authentication/getAccessToken") == 1
    assert (first.tokens.bought, second.tokens.bought) == (1, 0)
    kept = store.load()
    assert kept["access_token"] == "f59ac98193d64d62a9e887abea830369" and kept["refresh_token"]
    other_key = make(store, api_key="CJ999@api@other")  # credentials changed: that token is not for this key
    with pytest.raises(RateLimited):  # ... and a new one waits for CJ's 5 minutes (next test)
        _get(other_key)
    assert cj.paths().count("/authentication/getAccessToken") == 1


def test_a_second_purchase_within_five_minutes_is_not_attempted(cj, make, clock):
    cj.on("GET", DETAIL, envelope({"orderId": "A"}))
    store = MemorySecretStore()
    _get(make(store))
    with pytest.raises(RateLimited) as info:
        _get(make(store, api_key="CJ999@api@other"))
    assert 299 <= info.value.retry_after <= 300
    clock.advance(minutes=5, seconds=1)
    _get(make(store, api_key="CJ999@api@other"))
    assert cj.paths().count("/authentication/getAccessToken") == 2


def test_a_token_refused_mid_run_is_refreshed_and_the_call_made_again(cj, make):
    refreshed = fixture("get_access_token.json")
    refreshed["data"].update(accessToken="new-access", refreshToken="new-refresh",
                             accessTokenExpiryDate="2031-01-01T00:00:00+08:00")
    cj.on("POST", "/authentication/refreshAccessToken", refreshed)
    cj.on("GET", DETAIL, envelope(None, 1600001, "Invalid API key or access token"), envelope({"orderId": "A"}))
    store = MemorySecretStore()
    supplier = make(store)
    assert _get(supplier) == {"orderId": "A"}
    assert cj.paths() == ["/authentication/getAccessToken", DETAIL, "/authentication/refreshAccessToken", DETAIL]
    assert cj.bodies("refreshAccessToken") == [{"refreshToken": "f7edabe65c3b4a198b50ca8f969e36eb"}]
    assert cj.requests[-1].headers["CJ-Access-Token"] == "new-access"
    assert store.load()["access_token"] == "new-access"
    # Another process still holding the old token takes the stored one instead of refreshing again.
    cj.on("GET", DETAIL, envelope(None, 1600001, "Invalid"), envelope({"orderId": "B"}))
    stale = make(MemorySecretStore())
    stale.tokens._store = store
    stale.tokens._current = {"access_token": "f59ac98193d64d62a9e887abea830369", "access_expires": None}
    assert _get(stale) == {"orderId": "B"}
    assert cj.paths().count("/authentication/refreshAccessToken") == 1


def test_a_token_is_refreshed_before_it_expires(cj, make, clock):
    token = fixture("get_access_token.json")
    token["data"]["accessTokenExpiryDate"] = "2026-03-16T20:00:00+08:00"  # 15 days from the clock's now
    token["data"]["refreshTokenExpiryDate"] = "2026-08-28T20:00:00+08:00"
    cj.on("POST", "/authentication/getAccessToken", token)
    refreshed = fixture("get_access_token.json")
    refreshed["data"].update(accessToken="fresh", accessTokenExpiryDate="2026-03-31T20:00:00+08:00")
    cj.on("POST", "/authentication/refreshAccessToken", refreshed)
    cj.on("GET", DETAIL, envelope({"orderId": "A"}))
    supplier = make(config={"token_refresh_days": 2})
    _get(supplier)
    clock.advance(days=12)  # 3 days left: still used
    _get(supplier)
    assert "/authentication/refreshAccessToken" not in cj.paths()
    clock.advance(days=1, hours=1)  # under 2 days left: refreshed before CJ would refuse it
    _get(supplier)
    assert cj.paths().count("/authentication/refreshAccessToken") == 1
    assert cj.requests[-1].headers["CJ-Access-Token"] == "fresh"


def test_refreshes_stay_within_five_a_minute_and_a_refused_refresh_token_buys_a_new_one(cj, make, clock):
    cj.on("POST", "/authentication/refreshAccessToken", envelope(None, 1600003, "Invalid Refresh token"))
    cj.on("GET", DETAIL, envelope(None, 1600001, "Invalid API key or access token"))
    store = MemorySecretStore()
    supplier = make(store)
    with pytest.raises(RateLimited) as info:  # refresh refused; buying again must wait CJ's 5 minutes
        _get(supplier)
    assert cj.paths() == ["/authentication/getAccessToken", DETAIL, "/authentication/refreshAccessToken"]
    assert info.value.retry_after == pytest.approx(300, abs=1)
    assert store.load()["refresh_refused"] is True
    clock.advance(minutes=5)
    fresh = fixture("get_access_token.json")
    fresh["data"].update(accessToken="bought-again", accessTokenExpiryDate="2031-01-01T00:00:00+08:00",
                         refreshTokenExpiryDate="2031-06-01T00:00:00+08:00")
    cj.on("POST", "/authentication/getAccessToken", fresh)
    cj.on("GET", DETAIL, envelope({"orderId": "A"}))
    assert _get(supplier) == {"orderId": "A"}
    assert cj.requests[-1].headers["CJ-Access-Token"] == "bought-again"
    assert "refresh_refused" not in store.load()

    # Five refreshes in a minute at most, counted in the store across processes.
    cj.on("POST", "/authentication/refreshAccessToken", (200, envelope(None, 1600000, "busy")))
    data = store.load()
    for _ in range(5):
        keeper = make(store).tokens
        keeper._current = data
        with pytest.raises(RetryableError) as info:
            keeper.refused(data["access_token"])
        assert not isinstance(info.value, RateLimited)  # CJ was busy: each of these was a real refresh call
    assert cj.paths().count("/authentication/refreshAccessToken") == 6  # the refused one above, then five
    keeper = make(store).tokens
    keeper._current = data
    with pytest.raises(RateLimited):  # neither a sixth refresh in the minute nor a purchase within 5 minutes
        keeper.refused(data["access_token"])
    assert cj.paths().count("/authentication/refreshAccessToken") == 6


def test_a_throttled_order_is_left_to_the_job_runner_not_resent_in_the_call(cj, make):
    cj.on("POST", "/shopping/order/createOrderV2", (429, fixture("qps_limit.json")), fixture("create_order_v2.json"))
    request = SupplierOrderRequest(reference="db-17-3-1", items=[SupplierOrderItem("SKU-1", 1)],
                                   ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"))
    supplier = make(config={"logistic_name": "CJPacket Ordinary"})
    with pytest.raises(RateLimited):
        supplier.place_order(request)
    assert cj.paths().count("/shopping/order/createOrderV2") == 1
    placed = supplier.place_order(request)
    assert placed.external_id == "SD2507100000123"
    assert cj.bodies("createOrderV2")[-1]["logisticName"] == "CJPacket Ordinary"


def test_without_a_method_the_cheapest_quote_is_used(cj, make):
    cj.on("GET", "/product/variant/query", envelope([{"vid": "V-1", "variantSku": "SKU-1"}]))
    cj.on("POST", "/logistic/freightCalculate", fixture("freight_calculate.json"))
    cj.on("POST", "/shopping/order/createOrderV2", fixture("create_order_v2.json"))
    request = SupplierOrderRequest(reference="db-17-3-1", items=[SupplierOrderItem("SKU-1", 2)],
                                   ship_to=Address(name="J", address1="1 Main", city="X", country_code="us",
                                                   postal_code="91311"))
    supplier = make(config={"from_country_code": "US"})
    supplier.place_order(request)
    supplier.place_order(request)  # the vid is remembered
    assert cj.paths().count("/product/variant/query") == 1
    assert cj.bodies("freightCalculate")[0] == {"startCountryCode": "US", "endCountryCode": "US", "zip": "91311",
                                                 "products": [{"quantity": 2, "vid": "V-1"}]}
    assert cj.bodies("createOrderV2")[0]["logisticName"] == "CJPacket Ordinary"


def test_catalog_pages_follow_the_page_count(cj, make):
    first = fixture("product_list_v2.json")
    cj.on("GET", "/product/listV2", first)
    product = fixture("product_query.json")
    cj.on("GET", "/product/query", product)
    cj.on("GET", "/product/stock/getInventoryByPid", fixture("stock_by_pid.json"))
    supplier = make(config={"catalog_keyword": "shirt", "catalog_page_size": 2})
    page = supplier.fetch_offers()
    assert page.next_cursor == "2" and len(page.items) == 4  # two products of two priced variants
    assert dict(cj.requests[1].url.params) == {"page": "1", "size": "2", "keyWord": "shirt"}
    last = supplier.fetch_offers("2")
    assert last.next_cursor is None
    assert dict(cj.requests[-5].url.params)["page"] == "2"


def test_auth_expired_errors_carry_cjs_code(cj, make):
    cj.on("GET", DETAIL, envelope(None, 1600001, "Invalid"))
    cj.on("POST", "/authentication/refreshAccessToken", envelope(None, 1600002, "access token cannot be empty"))
    supplier = make()
    with pytest.raises((AuthExpired, RateLimited)):
        _get(supplier)


def test_a_catalog_beyond_the_last_page_cj_serves_is_refused_not_cut_short(cj, make):
    too_big = fixture("product_list_v2.json")
    too_big["data"].update(totalPages=1001, totalRecords=100_100)
    cj.on("GET", "/product/listV2", too_big)
    with pytest.raises(ConfigurationError, match="narrow the pull"):
        make().fetch_offers()
    assert "/product/query" not in cj.paths()
