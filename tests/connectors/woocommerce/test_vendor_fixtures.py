"""The WooCommerce connector's mapping over WooCommerce's own published examples
(woocommerce/woocommerce-rest-api-docs; see each fixture's `source`), served through httpx.MockTransport.
The expected values are read off the published examples, not computed from our code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dropbridge.connectors.stores.woocommerce import WooCommerceStore
from dropbridge.connectors.stores.woocommerce import mapping as wc_mapping
from dropbridge.connectors.stores.woocommerce.client import WooCommerceClient
from dropbridge.connectors.stores.woocommerce.webhooks import signature
from dropbridge.domain.errors import PermanentError
from dropbridge.domain.money import Money
from dropbridge.services.ports import Address, ProductDraft, ProductVariantDraft
from tests.connectors.fixtures import check_sources, load, serve

SECRET = "whsec-fixtures"
API = "/wp-json/wc/v3"
# The published examples are from March 2017; our connector rejects deliveries older than an hour.
WHEN = datetime(2017, 3, 22, 19, 30, tzinfo=UTC)


def store(routes: dict[tuple[str, str], str], seen: list | None = None) -> WooCommerceStore:
    transport = serve("woocommerce", routes, fallback="error_no_route", seen=seen)
    client = WooCommerceClient("https://example.com", "ck_fixture", "cs_fixture", transport=transport,
                               sleep=lambda s: None)
    return WooCommerceStore(client, SECRET, clock=lambda: WHEN)


def signed(name: str) -> tuple[dict[str, str], bytes]:
    fixture = load("woocommerce", name)
    body = json.dumps(fixture["body"]).encode()
    return {**fixture["headers"], "X-WC-Webhook-Signature": signature(SECRET, body)}, body


ORDER_727_SHIP_TO = Address(name="John Doe", address1="969 Market", address2="", city="San Francisco",
                            province_code="CA", postal_code="94103", country_code="US", company="", phone="")


def test_every_fixture_names_its_source():
    check_sources("woocommerce")


def test_documented_order_list_maps_exactly():
    orders = store({("GET", f"{API}/orders"): "orders_list"}).fetch_orders()
    first = orders.items[0]
    assert (first.external_id, first.number, first.currency, first.email) == ("727", "727", "USD",
                                                                              "john.doe@example.com")
    assert [(line.external_id, line.sku, line.quantity, line.unit_price, line.external_variant_id, line.tax)
            for line in first.lines] == [
        ("315", "", 2, Money(300, "USD"), "93", Money(45, "USD")),
        ("316", "Bar3", 1, Money(1200, "USD"), "23", Money(90, "USD")),
    ]
    assert (first.shipping_price, first.total_tax, first.total_discounts, first.total_price) == (
        Money(1000, "USD"), Money(135, "USD"), Money(0, "USD"), Money(2935, "USD"))
    assert first.ship_to == ORDER_727_SHIP_TO
    assert first.financial_status == "paid"  # processing with date_paid
    assert first.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert [o.external_id for o in orders.items] == ["727", "723"]
    assert orders.next_cursor is None  # X-WP-TotalPages: 1


@pytest.mark.parametrize("name", ["webhook_order_created", "webhook_order_updated"])
def test_documented_order_webhooks_verify_and_map(name):
    headers, body = signed(name)
    connector = store({})
    event = connector.verify_webhook(headers, body)
    assert event.topic == load("woocommerce", name)["headers"]["X-WC-Webhook-Topic"]
    assert event.event_id.startswith("142:order:727:")
    order = connector.order_from_event(event)
    assert (order.external_id, order.total_price, order.ship_to) == ("727", Money(2935, "USD"), ORDER_727_SHIP_TO)
    assert order.lines[1].unit_price == Money(1200, "USD")


def test_action_topic_fetches_the_order_it_names():
    seen: list = []
    connector = store({("GET", f"{API}/orders/727"): "order"}, seen)
    headers, body = signed("webhook_action_order_status_cancelled")
    order = connector.order_from_event(connector.verify_webhook(headers, body))
    assert [r.url.path for r in seen] == [f"{API}/orders/727"]
    assert order.external_id == "727" and order.total_tax == Money(135, "USD")


def test_documented_product_is_found_by_sku_instead_of_created_again():
    seen: list = []
    connector = store({("GET", f"{API}/products"): "products_list"}, seen)
    draft = ProductDraft(sku="PQ", title="Premium Quality",
                         variants=[ProductVariantDraft("PQ", Money(2199, "USD"))])
    published = connector.publish_product(draft, "pub-1")
    assert published.external_product_id == "799"  # the first match the store answers
    assert [(r.method, r.url.path) for r in seen] == [("GET", f"{API}/products")]


def test_documented_product_and_variation_shapes_carry_what_the_connector_reads():
    product = load("woocommerce", "product")["body"]
    variation = load("woocommerce", "product_variation")["body"]
    assert (product["id"], product["type"], Decimal(product["regular_price"]), product["sale_price"]) == (
        794, "simple", Decimal("21.99"), "")
    assert variation["attributes"] == [{"id": 6, "name": "Color", "option": "Black"}]
    # The variations list is what publish_product reads to find existing variations.
    listed = load("woocommerce", "product_variations_list")["body"]
    assert [v["id"] for v in listed] == [733, 732]


def test_documented_batch_answer_counts_what_was_applied():
    body = load("woocommerce", "batch_update_products")["body"]
    assert wc_mapping.batch_errors(body) == (1, [])  # one update in the example, no error


@pytest.mark.parametrize(("name", "code"), [("error_invalid_resource", "woocommerce_rest_term_invalid"),
                                            ("error_no_route", "rest_no_route")])
def test_documented_errors_are_permanent_and_name_their_code(name, code):
    connector = store({("GET", f"{API}/orders/999"): name})
    with pytest.raises(PermanentError) as caught:
        connector.client.get(f"{API}/orders/999", what="fixture")
    assert caught.value.status == 404 and code in str(caught.value)
