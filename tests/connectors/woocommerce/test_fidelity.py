"""Where the WooCommerce emulator used to differ from WooCommerce (issue 17), on the emulator and on the
connector: authentication by transport (storefronts.md §2.1), error envelopes (§2.8), documented shapes,
paging past the end (§2.7), webhook deletion (§2.2), numeric-string stock (§2.3)."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from oauthlib.oauth1 import SIGNATURE_TYPE_QUERY, Client

from dropbridge.connectors.stores.woocommerce import WooCommerceOAuth1, from_config
from dropbridge.connectors.stores.woocommerce.auth import client_auth
from dropbridge.domain.errors import AuthExpired, ConfigurationError
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.ports import StockUpdate
from tests.connectors.fixtures import load

CK, CS = "ck_fidelity_1", "cs_fidelity_1"
CANNOT_LIST = {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
               "data": {"status": 401}}
NO_ROUTE = {"code": "rest_no_route", "message": "No route was found matching the URL and request method",
            "data": {"status": 404}}


@pytest.fixture
def http_site():
    with WooCommerceEmulator(CK, CS) as emu:  # WordPress on plain http: is_ssl() is false
        yield emu


@pytest.fixture
def tls_site():
    with WooCommerceEmulator(CK, CS, ssl=True) as emu:  # on https, or behind a proxy that says so
        yield emu


def orders_url(emu) -> str:
    return emu.url + "/wp-json/wc/v3/orders"


def basic(ck=CK, cs=CS) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{ck}:{cs}".encode()).decode()}


def oauth_signed(url: str, method: str = "GET", secret: str = CS, **client) -> tuple[str, dict[str, str]]:
    signer = Client(CK, client_secret=secret, **client)
    uri, headers, _ = signer.sign(url, http_method=method)
    return uri, headers


# ---- authentication (§2.1) ------------------------------------------------------------------------


def test_over_http_basic_and_query_keys_are_ignored(http_site):
    assert httpx.get(orders_url(http_site), headers=basic()).json() == CANNOT_LIST
    query = httpx.get(orders_url(http_site), params={"consumer_key": CK, "consumer_secret": CS})
    assert (query.status_code, query.json()) == (401, CANNOT_LIST)


@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256"])
def test_over_http_oauth1_signatures_authenticate_in_header_or_query(http_site, method):
    uri, headers = oauth_signed(orders_url(http_site) + "?per_page=5", signature_method=method)
    response = httpx.get(uri, headers=headers)
    assert (response.status_code, response.json()) == (200, [])
    uri, headers = oauth_signed(orders_url(http_site), signature_method=method, signature_type=SIGNATURE_TYPE_QUERY)
    assert "oauth_signature=" in uri
    assert httpx.get(uri, headers=headers).status_code == 200


def test_oauth1_refusals_are_woocommerces(http_site):
    def status_and_message(uri, headers):
        r = httpx.get(uri, headers=headers)
        return r.status_code, r.json()["code"], r.json()["message"]

    assert status_and_message(*oauth_signed(orders_url(http_site), secret="cs_wrong")) == (
        401, "woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match.")
    uri, headers = oauth_signed(orders_url(http_site))
    assert httpx.get(uri, headers=headers).status_code == 200
    assert status_and_message(uri, headers) == (
        401, "woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used.")
    old = Client(CK, client_secret=CS, timestamp=str(int(time.time()) - 16 * 60))
    assert status_and_message(*old.sign(orders_url(http_site))[:2]) == (
        401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
    unknown = Client("ck_nobody", client_secret=CS)
    assert status_and_message(*unknown.sign(orders_url(http_site))[:2]) == (
        401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
    partial = httpx.get(orders_url(http_site), params={"oauth_consumer_key": CK, "oauth_nonce": "n1"})
    assert partial.json()["code"] == "woocommerce_rest_authentication_missing_parameter"
    assert "oauth_timestamp" in partial.json()["message"]
    # The scheme is part of what is signed: a signature for https:// does not pass on a site without TLS.
    parts = urlsplit(orders_url(http_site))
    _, https_headers = oauth_signed(urlunsplit(("https", *parts[1:])))
    assert status_and_message(orders_url(http_site), https_headers)[2] == (
        "Invalid signature - provided signature does not match.")


def test_with_tls_basic_and_query_keys_authenticate(tls_site):
    assert httpx.get(orders_url(tls_site), headers=basic()).status_code == 200
    assert httpx.get(orders_url(tls_site), params={"consumer_key": CK, "consumer_secret": CS}).status_code == 200
    wrong = httpx.get(orders_url(tls_site), headers=basic(cs="cs_wrong"))
    assert wrong.json() == {"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid.",
                            "data": {"status": 401}}


def test_connector_signs_over_http_and_uses_basic_over_https():
    assert isinstance(client_auth("auto", "http://shop.example", CK, CS), WooCommerceOAuth1)
    assert client_auth("auto", "https://shop.example", CK, CS) == (CK, CS)
    assert client_auth("basic", "http://shop.example", CK, CS) == (CK, CS)
    assert client_auth("query", "https://shop.example", CK, CS) is None
    proxied = client_auth("oauth1", "https://shop.example", CK, CS)
    assert isinstance(proxied, WooCommerceOAuth1) and proxied.sign_as_http
    with pytest.raises(ConfigurationError, match="auth must be one of"):
        from_config("https://shop.example", {"consumer_key": CK, "consumer_secret": CS}, {"auth": "digest"})

    sent: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=[], headers={"X-WP-TotalPages": "0"})

    from dropbridge.connectors.stores.woocommerce.client import WooCommerceClient

    for base, scheme in (("http://shop.example", "OAuth "), ("https://shop.example", "Basic ")):
        WooCommerceClient(base, CK, CS, transport=httpx.MockTransport(capture)).get("/wp-json/wc/v3/orders", what="t")
        assert sent[-1].headers["Authorization"].startswith(scheme)
        assert "consumer_secret" not in str(sent[-1].url)


def test_connector_over_http_works_and_basic_forced_over_http_is_refused(http_site):
    store = from_config(http_site.url, {"consumer_key": CK, "consumer_secret": CS}, {})
    assert store.fetch_orders().items == []
    forced = from_config(http_site.url, {"consumer_key": CK, "consumer_secret": CS}, {"auth": "basic"})
    with pytest.raises(AuthExpired, match="woocommerce_rest_cannot_view"):
        forced.fetch_orders()


def test_tls_terminating_proxy_that_hides_the_scheme_needs_oauth1(http_site):
    """The store is https://shop.example to the world; its proxy forwards plain http to WordPress, which then
    sees no TLS: Basic is ignored, and signatures are checked against http://shop.example/..."""
    upstream = httpx.Client()

    def proxy(request: httpx.Request) -> httpx.Response:
        target = request.url.copy_with(scheme="http", host="127.0.0.1", port=int(http_site.url.rsplit(":", 1)[1]))
        forwarded = upstream.send(httpx.Request(request.method, target, headers=request.headers,
                                                content=request.content))
        return httpx.Response(forwarded.status_code, headers=forwarded.headers, content=forwarded.content)

    from dropbridge.connectors.stores.woocommerce import WooCommerceStore
    from dropbridge.connectors.stores.woocommerce.client import WooCommerceClient

    def store(auth: str) -> WooCommerceStore:
        return WooCommerceStore(WooCommerceClient("https://shop.example", CK, CS, auth=auth,
                                                  transport=httpx.MockTransport(proxy)), "s")

    try:
        with pytest.raises(AuthExpired, match="woocommerce_rest_cannot_view"):
            store("auto").fetch_orders()  # https -> Basic, which WordPress ignores here
        assert store("oauth1").fetch_orders().items == []
    finally:
        upstream.close()


# ---- envelopes (§2.8) -----------------------------------------------------------------------------


def test_every_error_is_in_woocommerces_envelope(http_site):
    auth = WooCommerceOAuth1(CK, CS)
    base = http_site.url + "/wp-json/wc/v3"
    for method, path in (("GET", "/products/abc"), ("GET", "/orders/1.5"), ("GET", "/no/such/route"),
                         ("PATCH", "/orders"), ("GET", "/products/abc/variations/1"), ("POST", "/orders/12/x")):
        response = httpx.request(method, base + path, auth=auth)
        assert (response.status_code, response.json()) == (404, NO_ROUTE), (method, path)
    unauthenticated = httpx.get(base + "/products/abc")
    assert (unauthenticated.status_code, unauthenticated.json()) == (404, NO_ROUTE)  # no route before permission
    missing = httpx.get(base + "/products/999999", auth=auth)
    assert missing.json() == {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
                              "data": {"status": 404}}
    bad_json = httpx.post(base + "/products", content=b"{nope", auth=auth, headers={"Content-Type": "application/json"})
    assert bad_json.json()["code"] == "rest_invalid_json"
    for response in (missing, bad_json, unauthenticated):
        assert "detail" not in response.json()


# ---- shapes ---------------------------------------------------------------------------------------


def test_products_variations_and_orders_have_every_documented_field(http_site):
    parent = http_site.add_product({"name": "Ship Your Idea", "type": "variable", "sku": "SYI",
                                    "attributes": [{"name": "Color", "variation": True, "options": ["Black"]}]})
    variation = http_site.add_product({"sku": "SYI-BLK", "regular_price": "9.00", "manage_stock": True,
                                       "stock_quantity": 3, "attributes": [{"name": "Color", "option": "Black"}]},
                                      parent_id=parent["id"])
    simple = http_site.add_product({"name": "Premium Quality", "sku": "PQ", "regular_price": "21.99"})
    order = http_site.create_order([{"sku": "PQ", "quantity": 1}])
    auth = WooCommerceOAuth1(CK, CS)
    base = http_site.url + "/wp-json/wc/v3"
    got_product = httpx.get(f"{base}/products/{simple['id']}", auth=auth).json()
    got_variation = httpx.get(f"{base}/products/{parent['id']}/variations/{variation['id']}", auth=auth).json()
    got_order = httpx.get(f"{base}/orders/{order['id']}", auth=auth).json()
    for documented, got in ((load("woocommerce", "product")["body"], got_product),
                            (load("woocommerce", "product_variation")["body"], got_variation),
                            (load("woocommerce", "order")["body"], got_order)):
        assert set(documented) <= set(got), sorted(set(documented) - set(got))
        assert set(documented["_links"]) == set(got["_links"])
    assert got_product["slug"] == "premium-quality" and got_product["permalink"].endswith("/product/premium-quality/")
    assert (got_product["backorders"], got_product["tax_status"]) == ("no", "taxable")
    assert got_product["categories"] == [{"id": 15, "name": "Uncategorized", "slug": "uncategorized"}]
    assert got_variation["attributes"] == [{"id": 0, "name": "Color", "option": "Black"}]
    assert (got_order["created_via"], got_order["currency_symbol"]) == ("checkout", "$")
    assert set(got_order["line_items"][0]) >= set(load("woocommerce", "order")["body"]["line_items"][0])


# ---- behaviour ------------------------------------------------------------------------------------


def test_a_page_past_the_end_is_200_and_empty(http_site):
    http_site.add_product({"name": "P", "sku": "P-1", "regular_price": "1.00"})
    http_site.create_order([{"sku": "P-1", "quantity": 1}])
    response = httpx.get(orders_url(http_site), params={"page": 5, "per_page": 10}, auth=WooCommerceOAuth1(CK, CS))
    assert (response.status_code, response.json()) == (200, [])
    assert (response.headers["X-WP-Total"], response.headers["X-WP-TotalPages"]) == ("1", "1")
    assert "page=1" in response.links["prev"]["url"]


def test_a_connector_cursor_past_the_end_reads_an_empty_last_page(http_site):
    store = from_config(http_site.url, {"consumer_key": CK, "consumer_secret": CS}, {"page_size": 1})
    page = store.fetch_orders("per_page=1&page=9&orderby=id&order=asc")
    assert (page.items, page.next_cursor) == ([], None)


def test_deleting_a_webhook_needs_force(http_site):
    auth = WooCommerceOAuth1(CK, CS)
    hook = httpx.post(http_site.url + "/wp-json/wc/v3/webhooks", auth=auth,
                      json={"topic": "order.created", "delivery_url": "http://127.0.0.1:9/hook"}).json()
    url = f"{http_site.url}/wp-json/wc/v3/webhooks/{hook['id']}"
    refused = httpx.delete(url, auth=auth)
    assert (refused.status_code, refused.json()) == (501, {"code": "woocommerce_rest_trash_not_supported",
                                                           "message": "Webhooks do not support trashing.",
                                                           "data": {"status": 501}})
    assert hook["id"] in http_site.webhooks  # nothing deleted
    gone = httpx.delete(url, params={"force": "true"}, auth=auth)
    assert gone.status_code == 200 and gone.json()["id"] == hook["id"]
    assert hook["id"] not in http_site.webhooks


def test_numeric_string_stock_is_accepted_and_a_fraction_refused(http_site):
    pid = http_site.add_product({"name": "S", "sku": "S-1", "manage_stock": True, "stock_quantity": 1})["id"]
    auth = WooCommerceOAuth1(CK, CS)
    url = f"{http_site.url}/wp-json/wc/v3/products/{pid}"
    assert httpx.put(url, json={"stock_quantity": "7"}, auth=auth).json()["stock_quantity"] == 7
    refused = httpx.put(url, json={"stock_quantity": "7.5"}, auth=auth)
    assert (refused.status_code, refused.json()["code"]) == (400, "rest_invalid_param")
    assert refused.json()["data"]["params"] == {"stock_quantity": "stock_quantity is not of type integer."}
    assert http_site.stock_of(pid) == 7  # the refused write changed nothing
    store = from_config(http_site.url, {"consumer_key": CK, "consumer_secret": CS}, {})
    assert store.push_stock([StockUpdate(str(pid), "S-1", 4)], "k").applied == 1
    assert http_site.stock_of(pid) == 4


def test_categories_and_variation_status(tls_site):
    """Product categories (a WordPress term: a name taken under its parent is `term_exists` with the term's id)
    answer before /products/{id}; a status outside the schema's enum is refused (§2.8 envelope)."""
    emu = tls_site
    base = emu.url + "/wp-json/wc/v3"
    made = httpx.post(base + "/products/categories", json={"name": "Apparel"}, headers=basic())
    assert made.status_code == 201 and made.json()["parent"] == 0
    again = httpx.post(base + "/products/categories", json={"name": "apparel"}, headers=basic())
    assert again.status_code == 400 and again.json()["code"] == "term_exists"
    assert again.json()["data"]["resource_id"] == made.json()["id"]
    child = httpx.post(base + "/products/categories", json={"name": "Tees", "parent": made.json()["id"]},
                       headers=basic()).json()
    found = httpx.get(base + "/products/categories", params={"parent": made.json()["id"]}, headers=basic()).json()
    assert [c["id"] for c in found] == [child["id"]]
    product = emu.add_product({"name": "Tee", "type": "variable", "sku": "T"})
    bad = httpx.put(base + f"/products/{product['id']}", json={"status": "hidden"}, headers=basic())
    assert bad.status_code == 400 and bad.json()["code"] == "rest_invalid_param"
