"""The storefront contract: every connector, against its emulator over real HTTP, behaves the same.

Runs once per store platform in the connector registry, through its harness module beside this file
(`<platform>_harness`, exposing `open_harness()`, see harness.py). A registered platform without a harness
fails tests/contract/suppliers/test_registry_harnesses.py; a harness that fails to import fails the run.

What the suite expects of a harness beyond harness.py:
- `create_order(sku, quantity, price, currency)` ships to CONTRACT_SHIP_TO, charges a flat
  CONTRACT_SHIPPING and CONTRACT_TAX_RATE of tax on the items (exclusive, rounded half-even per line),
  and no discount; the store has the harness's webhook receiver subscribed to order creation.
- The connector's order page size is below ORDERS_FOR_PAGING, so pagination is exercised.
- Optional extensions, used when present and reported as skipped otherwise: `stale_webhook(headers, body)`
  (a correctly signed copy of a delivery, as the platform would send it long after the event) and
  `product_of(external_product_id)` (see shopify_harness.ShopifyHarness.product_of).
"""

from __future__ import annotations

import base64
import importlib
import math
from datetime import UTC, datetime, timedelta

import pytest

from dropbridge.connectors.registry import Registry
from dropbridge.domain.errors import WebhookRejected
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    Address,
    Fulfillment,
    FulfillmentLine,
    ProductDraft,
    ProductVariantDraft,
    StockUpdate,
)
from tests.connectors.storefronts.harness import CONTRACT_SHIPPING, contract_tax


def _harness_modules() -> list:
    """A harness per store platform in the connector registry; a platform without one fails the run
    (tests/contract/suppliers/test_registry_harnesses.py names it)."""
    params = []
    for info in Registry.default().kinds("store"):
        full = f"{__package__}.{info.name}_harness"
        try:
            module = importlib.import_module(full)
        except ModuleNotFoundError as exc:
            if exc.name == full:
                continue  # reported as a failure by the registry test
            raise
        params.append(pytest.param(module, id=info.name))
    return params


# Documented per-platform batch limits for stock writes (../shared/contracts/storefronts.md §0; the headless
# store's own documented maximum, sandbox/headless).
STOCK_BATCH_LIMIT = {"shopify": 250, "woocommerce": 100, "bigcommerce": 2000, "headless": 500}

CONTRACT_SHIP_TO = Address(
    name="Bob Norman", address1="Chestnut Street 92", address2="Apt 3", city="Louisville", province_code="KY",
    postal_code="40202", country_code="US", company="Acme", phone="555-625-1199",
)
ORDERS_FOR_PAGING = 7


@pytest.fixture(params=_harness_modules())
def harness(request):
    with request.param.open_harness() as h:
        yield h


def _money(amount: str, currency: str) -> Money:
    return Money.parse(amount, currency)


def _forge(value: str) -> str:
    fake = base64.b64encode(b"\0" * 32).decode()
    return "v1," + fake if value.startswith("v1,") else fake


# -- webhooks ---------------------------------------------------------------------------------------


def test_delivered_webhook_verifies_and_its_event_id_is_the_dedupe_key(harness):
    harness.seed_product("WH-1", 5, "10.00")
    order_id = harness.create_order("WH-1", 1, "10.00")
    headers, body = harness.next_webhook()

    first = harness.connector.verify_webhook(headers, body)
    again = harness.connector.verify_webhook(dict(headers), bytes(body))  # the same delivery, twice

    assert first.event_id and first.event_id == again.event_id
    assert first.payload == again.payload
    assert harness.connector.order_from_event(first).external_id == order_id


def test_forged_or_tampered_webhook_is_rejected(harness):
    harness.seed_product("WH-2", 5, "10.00")
    harness.create_order("WH-2", 1, "10.00")
    headers, body = harness.next_webhook()
    signature_headers = [k for k in headers if "hmac" in k.lower() or "signature" in k.lower()]
    assert signature_headers, f"no signature header among {sorted(headers)}"

    with pytest.raises(WebhookRejected):
        harness.connector.verify_webhook(headers, body[:-1] + b" " + body[-1:])  # body changed, still JSON
    forged = {k: (_forge(v) if k in signature_headers else v) for k, v in headers.items()}
    with pytest.raises(WebhookRejected):
        harness.connector.verify_webhook(forged, body)
    unsigned = {k: v for k, v in headers.items() if k not in signature_headers}
    with pytest.raises(WebhookRejected):
        harness.connector.verify_webhook(unsigned, body)


def test_stale_replayed_webhook_is_rejected(harness):
    if not hasattr(harness, "stale_webhook"):
        pytest.skip(f"{harness.platform} harness has no stale_webhook(headers, body) extension")
    harness.seed_product("WH-4", 5, "10.00")
    harness.create_order("WH-4", 1, "10.00")
    headers, body = harness.next_webhook()
    harness.connector.verify_webhook(headers, body)  # fresh: accepted

    stale_headers, stale_body = harness.stale_webhook(headers, body)
    with pytest.raises(WebhookRejected):
        harness.connector.verify_webhook(stale_headers, stale_body)


# -- orders -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "price", "quantity"), [("USD", "19.99", 3), ("EUR", "7.05", 2),
                                                              ("JPY", "1990", 2)])
def test_order_maps_exactly_from_webhook_and_from_pull(harness, currency, price, quantity):
    variant_id = harness.seed_product(f"MAP-{currency}", 20, price)
    order_id = harness.create_order(f"MAP-{currency}", quantity, price, currency)
    headers, body = harness.next_webhook()
    from_webhook = harness.connector.order_from_event(harness.connector.verify_webhook(headers, body))

    unit = _money(price, currency)
    tax = contract_tax(price, quantity, currency)
    shipping = _money(CONTRACT_SHIPPING[currency], currency)
    order = from_webhook
    assert order.external_id == order_id
    assert order.currency == currency
    assert len(order.lines) == 1
    line = order.lines[0]
    assert (line.sku, line.quantity, line.unit_price) == (f"MAP-{currency}", quantity, unit)
    assert line.external_variant_id == variant_id
    assert line.discount in (None, Money.zero(currency))
    assert line.tax in (None, tax)
    assert order.shipping_price == shipping
    assert order.total_tax == tax
    assert order.total_discounts in (None, Money.zero(currency))
    assert order.total_price == unit * quantity + shipping + tax
    assert order.ship_to == CONTRACT_SHIP_TO
    assert order.cancelled is False
    assert order.created_at is not None and order.created_at.tzinfo is not None
    assert abs(order.created_at - datetime.now(UTC)) < timedelta(minutes=5)

    pulled = harness.connector.fetch_orders()
    assert [o for o in pulled.items if o.external_id == order_id] == [from_webhook]


def test_fetch_orders_pages_through_every_order_once(harness):
    harness.seed_product("PAGE-1", 100, "5.00")
    created = [harness.create_order("PAGE-1", 1, "5.00") for _ in range(ORDERS_FOR_PAGING)]

    seen, pages, cursor = [], 0, None
    while True:
        page = harness.connector.fetch_orders(cursor=cursor)
        pages += 1
        seen.extend(o.external_id for o in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert pages < 20, "pagination does not end"
    assert sorted(seen) == sorted(created)
    assert pages >= 2, "the harness must configure an order page size below ORDERS_FOR_PAGING"

    since_future = harness.connector.fetch_orders(since=datetime.now(UTC) + timedelta(hours=1))
    assert since_future.items == [] and since_future.next_cursor is None
    seen_since, cursor = [], None
    while True:
        page = harness.connector.fetch_orders(cursor=cursor, since=datetime.now(UTC) - timedelta(hours=1))
        seen_since.extend(o.external_id for o in page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(seen_since) == sorted(created)


# -- catalog and stock ------------------------------------------------------------------------------


def _tee_draft() -> ProductDraft:
    usd = "USD"
    return ProductDraft(
        sku="TEE", title="Contract tee", description_html="<p>Soft cotton</p>", vendor="SupplierCo",
        images=["https://cdn.example/tee-black.jpg", "https://cdn.example/tee-white.jpg"],
        variants=[
            ProductVariantDraft(sku="TEE-S-BLK", price=Money(1999, usd), compare_at_price=Money(2499, usd),
                                options={"Size": "S", "Color": "Black"}, quantity=3),
            ProductVariantDraft(sku="TEE-M-BLK", price=Money(1999, usd), compare_at_price=Money(2499, usd),
                                options={"Size": "M", "Color": "Black"}, quantity=4),
            ProductVariantDraft(sku="TEE-S-WHT", price=Money(1799, usd),
                                options={"Size": "S", "Color": "White"}, quantity=0),
            ProductVariantDraft(sku="TEE-M-WHT", price=Money(1805, usd),
                                options={"Size": "M", "Color": "White"}, quantity=12),
        ],
    )


def test_publish_product_with_variants_options_and_prices(harness):
    draft = _tee_draft()
    published = harness.connector.publish_product(draft, "publish-TEE-1")

    assert sorted(published.variant_ids) == sorted(v.sku for v in draft.variants)
    for v in draft.variants:
        assert harness.stock_of(published.variant_ids[v.sku]) == v.quantity
    if hasattr(harness, "product_of"):
        seen = harness.product_of(published.external_product_id)
        assert seen["title"] == "Contract tee"
        assert seen["options"] == {"Size": ["S", "M"], "Color": ["Black", "White"]}
        assert seen["images"] == draft.images
        assert seen["variants"] == {
            v.sku: {
                "price": v.price.to_decimal(),
                "compare_at_price": v.compare_at_price.to_decimal() if v.compare_at_price else None,
                "options": v.options,
            }
            for v in draft.variants
        }

    again = harness.connector.publish_product(draft, "publish-TEE-1")  # a retry must not duplicate
    assert again.external_product_id == published.external_product_id
    assert again.variant_ids == published.variant_ids


def _many_variants_draft(sizes: int = 13, colors: int = 20) -> ProductDraft:
    return ProductDraft(
        sku="BULK", title="Bulk item",
        variants=[
            ProductVariantDraft(sku=f"BULK-{s:02d}-{c:02d}", price=Money(500, "USD"),
                                options={"Size": f"S{s:02d}", "Color": f"C{c:02d}"}, quantity=1)
            for s in range(sizes) for c in range(colors)
        ],
    )


def test_stock_push_sends_only_the_given_changes_in_full_batches(harness):
    draft = _many_variants_draft()
    published = harness.connector.publish_product(draft, "publish-BULK-1")
    limit = STOCK_BATCH_LIMIT[harness.platform]

    def updates(skus, qty):
        return [StockUpdate(external_variant_id=published.variant_ids[s], sku=s, quantity=qty(i),
                            external_inventory_id=published.inventory_ids.get(s)) for i, s in enumerate(skus)]

    every = [v.sku for v in draft.variants]
    before = harness.api_calls()
    result = harness.connector.push_stock(updates(every, lambda i: 100 + i), "push-all-1")
    assert harness.api_calls() - before == math.ceil(len(every) / limit)
    assert (result.calls, result.applied, result.failed) == (math.ceil(len(every) / limit), len(every), [])
    assert [harness.stock_of(published.variant_ids[s]) for s in every] == [100 + i for i in range(len(every))]

    changed = every[5:12]
    before = harness.api_calls()
    result = harness.connector.push_stock(updates(changed, lambda i: 7), "push-some-1")
    assert harness.api_calls() - before == 1
    assert (result.applied, result.failed) == (len(changed), [])
    expected = {s: 100 + i for i, s in enumerate(every)} | {s: 7 for s in changed}
    assert {s: harness.stock_of(published.variant_ids[s]) for s in every} == expected


def test_throttled_push_recovers(harness):
    variant_id = harness.seed_product("THR-1", 5, "3.00")
    harness.connector.push_stock([StockUpdate(variant_id, "THR-1", 6)], "warm-up")  # ids resolved, if needed
    before = harness.api_calls()
    harness.throttle_next(2)

    result = harness.connector.push_stock([StockUpdate(variant_id, "THR-1", 9)], "after-throttle")

    assert (result.applied, result.failed) == (1, [])
    assert harness.stock_of(variant_id) == 9
    assert harness.api_calls() - before == 3  # two refused, one served


# -- fulfillment ------------------------------------------------------------------------------------


def test_fulfillment_with_tracking_reaches_the_store_and_the_customer(harness):
    harness.seed_product("FUL-1", 10, "12.50")
    order_id = harness.create_order("FUL-1", 2, "12.50")
    order = harness.connector.order_from_event(harness.connector.verify_webhook(*harness.next_webhook()))
    assert harness.fulfillments_of(order_id) == []
    fulfillment = Fulfillment(
        order_external_id=order_id, carrier="UPS", tracking_number="1Z999AA10123456784",
        tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
        lines=[FulfillmentLine(order.lines[0].external_id, 2)],
    )

    first = harness.connector.push_fulfillment(fulfillment, "ship-FUL-1")
    again = harness.connector.push_fulfillment(fulfillment, "ship-FUL-1")  # a retry must not duplicate

    assert first and again == first
    assert harness.fulfillments_of(order_id) == [{
        "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
        "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784", "notified": True,
    }]
