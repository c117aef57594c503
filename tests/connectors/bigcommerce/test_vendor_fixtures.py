"""The BigCommerce connector's mapping over BigCommerce's own published examples (bigcommerce/docs reference
and webhook pages; see each fixture's `source`), served through httpx.MockTransport. The expected values
are read off the published examples, not computed from our code."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from dropbridge.connectors.stores.bigcommerce import BigCommerceStore
from dropbridge.connectors.stores.bigcommerce.client import BigCommerceClient
from dropbridge.connectors.stores.bigcommerce.webhooks import signature
from dropbridge.domain.errors import PermanentError
from dropbridge.domain.money import Money
from dropbridge.services.ports import Address, ProductDraft, ProductVariantDraft
from tests.connectors.fixtures import check_sources, load, serve

SECRET = "bc-fixture-client-secret"
# The published payloads name their producer "stores/{store_hash}", placeholder and all.
DOCS_STORE_HASH = "{store_hash}"
ORDER_ROUTES = {("GET", "/v2/orders/218"): "order", ("GET", "/v2/orders/250"): "order",
                ("GET", "/v2/orders/218/products"): "order_products",
                ("GET", "/v2/orders/250/products"): "order_products",
                ("GET", "/v2/orders/218/shipping_addresses"): "order_shipping_addresses",
                ("GET", "/v2/orders/250/shipping_addresses"): "order_shipping_addresses"}


def store(routes: dict[tuple[str, str], str], seen: list | None = None,
          transport: httpx.BaseTransport | None = None) -> BigCommerceStore:
    transport = transport or serve("bigcommerce", routes, fallback="error_v2_not_found", seen=seen)
    client = BigCommerceClient("abc123", "token", base_url="https://api.bigcommerce.com", transport=transport,
                               sleep=lambda s: None)
    return BigCommerceStore(client, SECRET, DOCS_STORE_HASH)


def signed(name: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps(load("bigcommerce", name)["body"]).encode()
    ts = str(int(time.time()))
    return {"webhook-id": "msg_fixture", "webhook-timestamp": ts,
            "webhook-signature": "v1," + signature(SECRET, "msg_fixture", ts, body)}, body


def test_every_fixture_names_its_source():
    check_sources("bigcommerce")


def test_documented_order_with_its_products_and_addresses_maps_exactly():
    order = store(ORDER_ROUTES)._complete(load("bigcommerce", "order")["body"])
    assert (order.external_id, order.number, order.currency, order.email) == ("218", "218", "USD",
                                                                              "janedoe@example.com")
    assert [(line.external_id, line.sku, line.quantity, line.unit_price, line.discount, line.tax)
            for line in order.lines] == [
        ("65", "S-ORAN", 1, Money(5599, "USD"), Money(159, "USD"), Money(924, "USD")),
        ("66", "ABS", 1, Money(0, "USD"), Money(0, "USD"), Money(0, "USD")),
    ]
    assert (order.shipping_price, order.total_tax, order.total_discounts, order.total_price) == (
        Money(1109, "USD"), Money(531, "USD"), Money(500, "USD"), Money(6984, "USD"))
    assert order.ship_to == Address(name="Trishy Smith", address1="666 Sussex St", address2="", city="San Antonio",
                                    province_code="TX", postal_code="78251", country_code="US",
                                    company="Acme Pty Ltd", phone="")
    assert order.financial_status == "pending"  # 7: Awaiting Payment
    assert order.created_at == datetime(2019, 3, 5, 21, 40, 11, tzinfo=UTC)


def test_documented_order_list_is_read_and_each_order_completed():
    seen: list = []
    connector = store({("GET", "/v2/orders"): "orders_list", ("GET", "/v2/orders/100/products"): "order_products",
                       ("GET", "/v2/orders/100/shipping_addresses"): "order_shipping_addresses"}, seen)
    page = connector.fetch_orders()
    assert [o.external_id for o in page.items] == ["100"]
    assert page.items[0].total_price == Money.parse(load("bigcommerce", "orders_list")["body"][0]["total_inc_tax"],
                                                    "USD")
    assert page.next_cursor is None  # a page shorter than the limit is the last
    assert [r.url.path.rsplit("/v2", 1)[1] for r in seen] == ["/orders", "/orders/100/products",
                                                               "/orders/100/shipping_addresses"]


@pytest.mark.parametrize("name", ["webhook_store_order_created", "webhook_store_order_statusUpdated"])
def test_documented_order_webhooks_verify_dedupe_on_hash_and_fetch_the_order(name):
    connector = store(ORDER_ROUTES)
    headers, body = signed(name)
    event = connector.verify_webhook(headers, body)
    payload = load("bigcommerce", name)["body"]
    assert (event.topic, event.event_id) == (payload["scope"], payload["hash"])
    order = connector.order_from_event(event)  # thin payload: the order is fetched (here: the documented one)
    assert order.external_id == "218"


def test_documented_product_and_variants_carry_what_publishing_reads():
    # GET /v3/catalog/products?sku=...&include=variants: the documented product with its documented variants.
    product = load("bigcommerce", "product")["body"]["data"]
    listed = {"data": [dict(product, variants=load("bigcommerce", "product_variants")["body"]["data"])],
              "meta": {}}
    connector = store({}, transport=httpx.MockTransport(lambda request: httpx.Response(200, json=listed)))
    sku = listed["data"][0]["variants"][0]["sku"]
    draft = ProductDraft(sku="PARENT", title=product["name"],
                         variants=[ProductVariantDraft(sku, Money(1000, "USD"), {"Size": "S"})])
    published = connector.publish_product(draft, "pub-1")
    assert published.external_product_id == str(product["id"])
    assert published.variant_ids == {sku: str(listed["data"][0]["variants"][0]["id"])}


@pytest.mark.parametrize(("name", "status"), [("error_v2_not_found", 404), ("error_v3_payload_too_large", 413)])
def test_documented_errors_are_permanent(name, status):
    connector = store({("GET", "/v2/orders/999"): name})
    with pytest.raises(PermanentError) as caught:
        connector.client.get("/v2/orders/999", what="fixture")
    assert caught.value.status == status
    body = load("bigcommerce", name)["body"]
    message = body[0]["message"] if isinstance(body, list) else body["title"]
    assert message in str(caught.value)
