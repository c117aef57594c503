"""The Shopify connector's mapping over Shopify's own published examples (its client library's fixtures and
the documented error bodies; see each fixture's `source`), decoded by the real connector code, HTTP through
httpx.MockTransport. The expected values are read off the published examples, not computed from our code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dropbridge.connectors.stores.shopify import ShopifyClient, ShopifyStore, mapping
from dropbridge.connectors.stores.shopify.webhooks import verify
from dropbridge.domain.errors import AuthExpired, RateLimited, WebhookRejected
from dropbridge.domain.money import Money
from dropbridge.sandbox.shopify import sign_webhook
from dropbridge.services.ports import Address
from tests.connectors.fixtures import check_sources, load, respond

SECRET = "shpss_fixture"
SHOP = "apple.myshopify.com"
TRIGGERED = datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
BOB = Address(name="Bob Norman", address1="Chestnut Street 92", address2="", city="Louisville", province_code="KY",
              postal_code="40202", country_code="US", company="", phone="555-625-1199")
TOPICS = ["orders/create", "orders/updated", "orders/paid", "orders/cancelled"]


def connector(transport: httpx.BaseTransport | None = None, **client_options) -> ShopifyStore:
    transport = transport or httpx.MockTransport(lambda request: respond(load("shopify", "error_invalid_token")))
    client = ShopifyClient(f"https://{SHOP}", "2026-01", access_token="shpat_fixture", transport=transport,
                           sleep=lambda s: None, **client_options)
    return ShopifyStore(client, webhook_secrets=[SECRET], shop_domain=SHOP,
                        now=lambda: TRIGGERED + timedelta(minutes=1))


def delivery(topic: str) -> tuple[dict[str, str], bytes]:
    fixture = load("shopify", "webhook_" + topic.replace("/", "_"))
    body = json.dumps(fixture["body"]).encode()
    return {**fixture["headers"], "X-Shopify-Hmac-Sha256": sign_webhook(SECRET, body)}, body


def test_every_fixture_names_its_source():
    check_sources("shopify")


@pytest.mark.parametrize("topic", TOPICS)
def test_documented_order_webhooks_verify_and_map_exactly(topic):
    store = connector()
    event = store.verify_webhook(*delivery(topic))
    assert (event.topic, event.event_id, event.occurred_at) == (topic, f"fixture-{topic}", TRIGGERED)
    order = store.order_from_event(event)
    assert (order.external_id, order.number, order.currency, order.email) == (
        "gid://shopify/Order/450789469", "#1001", "USD", "bob.norman@hostmail.com")
    assert [(line.external_id, line.sku, line.quantity, line.unit_price, line.external_variant_id, line.tax)
            for line in order.lines] == [
        ("gid://shopify/LineItem/466157049", "IPOD2008GREEN", 1, Money(19900, "USD"),
         "gid://shopify/ProductVariant/39072856", None),
        ("gid://shopify/LineItem/518995019", "IPOD2008RED", 1, Money(19900, "USD"),
         "gid://shopify/ProductVariant/49148385", None),
        ("gid://shopify/LineItem/703073504", "IPOD2008BLACK", 1, Money(19900, "USD"),
         "gid://shopify/ProductVariant/457924702", None),
    ]
    assert (order.shipping_price, order.total_tax, order.total_discounts, order.total_price) == (
        Money(0, "USD"), Money(1194, "USD"), Money(0, "USD"), Money(40994, "USD"))
    assert order.ship_to == BOB
    assert order.financial_status == "authorized"
    assert order.created_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.cancelled is (topic == "orders/cancelled")


def test_a_delivery_signed_with_another_secret_or_for_another_shop_is_refused():
    headers, body = delivery("orders/create")
    with pytest.raises(WebhookRejected):
        verify(dict(headers, **{"X-Shopify-Hmac-Sha256": sign_webhook("other", body)}), body, [SECRET],
               shop_domain=SHOP, now=lambda: TRIGGERED)
    with pytest.raises(WebhookRejected):
        verify(headers, body, [SECRET], shop_domain="other.myshopify.com", now=lambda: TRIGGERED)


def test_documented_order_list_maps():
    orders = [mapping.order_from_rest(o) for o in load("shopify", "orders_list")["body"]["orders"]]
    first = load("shopify", "orders_list")["body"]["orders"][0]
    assert orders[0].external_id == f"gid://shopify/Order/{first['id']}"
    assert orders[0].total_price == Money.parse(first["total_price"], first["currency"])
    # This published list entry carries no line_items: the order maps, with no lines rather than an error.
    assert "line_items" not in first and orders[0].lines == []
    assert orders[0].created_at is not None and orders[0].created_at.tzinfo is not None


def test_documented_product_variants_are_the_ones_order_lines_point_at():
    variants = {v["sku"]: mapping.gid("ProductVariant", v["id"])
                for v in load("shopify", "product")["body"]["product"]["variants"]}
    order = mapping.order_from_rest(load("shopify", "webhook_orders_create")["body"])
    for line in order.lines:
        if line.sku in variants:
            assert line.external_variant_id == variants[line.sku]
    assert variants["IPOD2008GREEN"] == "gid://shopify/ProductVariant/39072856"


def test_documented_invalid_token_answer_is_auth_expired():
    with pytest.raises(AuthExpired) as caught:
        connector().fetch_orders()
    assert caught.value.status == 401
    assert "Invalid API key or access token" in str(caught.value)


def test_documented_throttled_answer_is_waited_out_then_rate_limited():
    calls: list = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return respond(load("shopify", "error_throttled"))

    store = connector(httpx.MockTransport(handler), max_throttle_wait=5.0)
    with pytest.raises(RateLimited):
        store.fetch_orders()
    assert len(calls) > 1  # waited and asked again before giving up
    assert (store.client.budget.maximum, store.client.budget.restore_rate) == (1000.0, 50.0)  # read off the answer
