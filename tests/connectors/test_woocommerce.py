"""WooCommerce connector against its emulator over real HTTP: what is particular to WooCommerce."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dropbridge.connectors.stores.woocommerce import WooCommerceOAuth1, from_config
from dropbridge.connectors.stores.woocommerce.client import PRODUCTS_BATCH, WooCommerceClient
from dropbridge.connectors.stores.woocommerce.connector import WooCommerceStore
from dropbridge.connectors.stores.woocommerce.webhooks import signature
from dropbridge.domain.errors import AuthExpired, PermanentError, RateLimited, WebhookRejected
from dropbridge.domain.money import Money
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.ports import (
    Fulfillment,
    FulfillmentLine,
    ProductDraft,
    ProductVariantDraft,
    StockUpdate,
)
from tests.connectors.storefronts.woocommerce_harness import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    WEBHOOK_SECRET,
    open_harness,
)


@pytest.fixture
def h():
    with open_harness() as harness:
        yield harness


def _store(url: str, **config):
    credentials = {"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET, "webhook_secret": WEBHOOK_SECRET}
    return from_config(url, credentials, {"backoff_base": 0.01, **config})


# ---- auth ----------------------------------------------------------------------------------------


@pytest.fixture
def tls():
    """A site that sees TLS (https, or a proxy that tells WordPress): Basic and query keys are read."""
    with open_harness(ssl=True) as harness:
        yield harness


def test_wrong_secret_missing_key_and_read_only_key_are_auth_expired(tls):
    h = tls
    vid = h.seed_product("AUTH-1", 5, "10.00")
    bad = from_config(
        h.emulator.url, {"consumer_key": CONSUMER_KEY, "consumer_secret": "cs_wrong", "webhook_secret": "x"},
        {"auth": "basic"},
    )
    with pytest.raises(AuthExpired) as caught:
        bad.push_stock([StockUpdate(vid, "AUTH-1", 1)], "k")
    assert caught.value.status == 401
    assert "Consumer secret is invalid." in str(caught.value)
    assert h.stock_of(vid) == 5  # nothing written

    # Basic with an unknown key falls through to OAuth, which names the key.
    unknown = from_config(h.emulator.url, {"consumer_key": "ck_nobody", "consumer_secret": "cs"}, {"auth": "oauth1"})
    with pytest.raises(AuthExpired, match="Consumer key is invalid"):
        unknown.fetch_orders()

    response = httpx.get(h.emulator.url + "/wp-json/wc/v3/orders")
    assert response.status_code == 401
    assert response.json() == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }


def test_read_only_key_cannot_write():
    with WooCommerceEmulator(CONSUMER_KEY, CONSUMER_SECRET, read_only_keys={"ck_ro": "cs_ro"}) as emu:
        pid = emu.add_product({"name": "P", "sku": "RO-1", "manage_stock": True, "stock_quantity": 3})["id"]
        store = from_config(emu.url, {"consumer_key": "ck_ro", "consumer_secret": "cs_ro"}, {})
        assert store.fetch_orders().items == []
        with pytest.raises(AuthExpired) as caught:
            store.push_stock([StockUpdate(str(pid), "RO-1", 9)], "k")
        assert caught.value.status == 403
        assert emu.stock_of(pid) == 3


def test_query_string_auth_works_and_keys_never_reach_the_cursor(tls):
    h = tls
    skus = [f"Q-{i}" for i in range(3)]
    for sku in skus:
        h.seed_product(sku, 5, "1.00")
        h.create_order(sku, 1, "1.00")
    store = _store(h.emulator.url, auth="query", page_size=2)
    page = store.fetch_orders()
    assert [o.lines[0].sku for o in page.items] == ["Q-0", "Q-1"]
    assert page.next_cursor is not None
    assert "consumer" not in page.next_cursor
    rest = store.fetch_orders(page.next_cursor)
    assert [o.lines[0].sku for o in rest.items] == ["Q-2"]
    assert rest.next_cursor is None


# ---- webhooks ------------------------------------------------------------------------------------


def test_webhook_verifies_and_dedupe_key_is_stable_for_the_same_bytes(h):
    h.seed_product("WH-1", 5, "12.50")
    order_id = h.create_order("WH-1", 2, "12.50")
    headers, body = h.next_webhook()
    assert headers["x-wc-webhook-topic"] == "order.created"
    assert headers["x-wc-webhook-resource"] == "order"
    assert headers["x-wc-webhook-event"] == "created"
    assert headers["x-wc-webhook-signature"] == signature(WEBHOOK_SECRET, body)
    event = h.connector.verify_webhook(headers, body)
    again = h.connector.verify_webhook(headers, body)
    assert event.event_id == again.event_id
    assert event.event_id.startswith(f"{headers['x-wc-webhook-id']}:order:{order_id}:")
    # Same state, other delivery id: still the same key (Delivery-ID is per send, not per event).
    other = dict(headers, **{"x-wc-webhook-delivery-id": "different"})
    assert h.connector.verify_webhook(other, body).event_id == event.event_id
    order = h.connector.order_from_event(event)
    assert order.external_id == order_id
    assert order.lines[0].unit_price == Money(1250, "USD")


def test_forged_tampered_unsigned_and_stale_webhooks_are_rejected(h):
    h.seed_product("WH-2", 5, "9.99")
    h.create_order("WH-2", 1, "9.99")
    headers, body = h.next_webhook()
    with pytest.raises(WebhookRejected, match="bad"):
        h.connector.verify_webhook(dict(headers, **{"x-wc-webhook-signature": signature("guess", body)}), body)
    with pytest.raises(WebhookRejected, match="bad"):
        h.connector.verify_webhook(headers, body.replace(b'"quantity":1', b'"quantity":9'))
    unsigned = {k: v for k, v in headers.items() if k != "x-wc-webhook-signature"}
    with pytest.raises(WebhookRejected, match="missing"):
        h.connector.verify_webhook(unsigned, body)
    # A captured delivery replayed two hours later: its order state is older than the tolerance.
    h.connector.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(WebhookRejected, match="stale"):
        h.connector.verify_webhook(headers, body)


def test_creation_ping_is_unsigned_and_accepted_as_an_empty_event():
    with WooCommerceEmulator(CONSUMER_KEY, CONSUMER_SECRET) as emu:
        from tests.connectors.storefronts.woocommerce_harness import WebhookReceiver

        receiver = WebhookReceiver("woocommerce")
        try:
            store = _store(emu.url)
            store.subscribe_webhooks(receiver.url)
            headers, body = receiver.received.get(timeout=5)
            assert body == b"webhook_id=1"
            assert not any(k.startswith("x-wc-") for k in headers)
            event = store.verify_webhook(headers, body)
            assert (event.topic, event.event_id) == ("ping", "ping:1")
            assert store.order_from_event(event) is None
        finally:
            receiver.stop()


def test_failed_delivery_is_not_retried_and_the_webhook_is_disabled_after_five_failures(h):
    h.seed_product("NR-1", 50, "3.00")
    h.receiver.status = 500
    first = h.create_order("NR-1", 1, "3.00")
    h.emulator.wait_deliveries()
    time.sleep(0.3)
    mine = [d for d in h.emulator.webhook_deliveries() if d["resource_id"] == int(first)]
    assert [(d["topic"], d["status"]) for d in mine] == [("order.created", 500)]  # once, never again
    for _ in range(5):
        h.create_order("NR-1", 1, "3.00")
        h.emulator.wait_deliveries()
    hooks = {h_["topic"]: h_ for h_ in h.emulator.webhooks.values()}
    assert hooks["order.created"]["status"] == "disabled"
    assert hooks["order.updated"]["status"] == "active"
    sent = len(h.emulator.webhook_deliveries())
    h.create_order("NR-1", 1, "3.00")
    h.emulator.wait_deliveries()
    assert len(h.emulator.webhook_deliveries()) == sent  # disabled: nothing is sent
    # Subscribing again re-activates it instead of creating a duplicate.
    ids = h.connector.subscribe_webhooks(h.receiver.url)
    assert len(h.emulator.webhooks) == 2
    assert sorted(ids) == sorted(str(i) for i in h.emulator.webhooks)
    assert hooks["order.created"]["status"] == "active"


def test_updates_while_a_delivery_is_pending_are_coalesced_and_carry_current_state():
    with WooCommerceEmulator(CONSUMER_KEY, CONSUMER_SECRET, delivery_delay=0.3, send_ping=False) as emu:
        from tests.connectors.storefronts.woocommerce_harness import WebhookReceiver

        receiver = WebhookReceiver("woocommerce")
        try:
            store = _store(emu.url)
            store.subscribe_webhooks(receiver.url)
            emu.add_product({"name": "C", "sku": "CO-1", "regular_price": "5.00"})
            order = emu.create_order([{"sku": "CO-1", "quantity": 1}], status="pending")
            path = f"/wp-json/wc/v3/orders/{order['id']}"
            store.client.put(path, {"status": "processing"}, what="t")
            store.client.put(path, {"status": "on-hold"}, what="t")
            emu.wait_deliveries()
            updated = [d for d in emu.webhook_deliveries() if d["topic"] == "order.updated"]
            assert len(updated) == 1
            bodies = [json.loads(receiver.received.get(timeout=5)[1]) for _ in range(2)]
            assert {b["status"] for b in bodies} == {"on-hold"}  # built at delivery time
        finally:
            receiver.stop()


# ---- stock ---------------------------------------------------------------------------------------


def test_stock_batches_of_100_and_413_beyond(h):
    ids = [h.seed_product(f"B-{i}", 1, "1.00") for i in range(250)]
    before = h.api_calls()
    result = h.connector.push_stock([StockUpdate(v, f"B-{i}", i) for i, v in enumerate(ids)], "k")
    assert (result.calls, result.applied, result.failed) == (3, 250, [])
    assert h.api_calls() - before == 3
    assert [h.stock_of(v) for v in ids[:3]] == [0, 1, 2]
    assert h.stock_of(ids[-1]) == 249

    items = [{"id": int(v), "stock_quantity": 5} for v in ids[:101]]
    with pytest.raises(PermanentError) as caught:
        h.connector.client.post(PRODUCTS_BATCH, {"update": items}, what="too big")
    assert caught.value.status == 413
    assert "woocommerce_rest_request_entity_too_large" in str(caught.value)
    assert h.stock_of(ids[0]) == 0  # nothing of the oversized batch applied


def test_store_with_a_lower_batch_limit_is_followed(h):
    h.emulator.batch_limit = 40
    ids = [h.seed_product(f"L-{i}", 1, "1.00") for i in range(90)]
    result = h.connector.push_stock([StockUpdate(v, "", 7) for v in ids], "k")
    assert (result.applied, result.calls) == (90, 4)  # one 413, then 40 + 40 + 10
    assert h.connector.batch_limit == 40
    assert {h.stock_of(v) for v in ids} == {7}


def test_partial_batch_failure_reports_only_the_bad_items(h):
    good = h.seed_product("PF-1", 1, "1.00")
    result = h.connector.push_stock([StockUpdate(good, "PF-1", 4), StockUpdate("999999", "GONE", 4)], "k")
    assert result.calls == 1
    assert result.applied == 1
    assert result.failed == [("999999", "woocommerce_rest_product_invalid_id: Invalid ID.")]
    assert h.stock_of(good) == 4


def test_variations_push_through_their_parent(h):
    draft = ProductDraft(
        sku="TEE",
        title="Tee",
        variants=[
            ProductVariantDraft("TEE-S", Money(1500, "USD"), {"Size": "S"}, quantity=1),
            ProductVariantDraft("TEE-M", Money(1500, "USD"), {"Size": "M"}, quantity=1),
        ],
    )
    published = h.connector.publish_product(draft, "pub-tee")
    updates = [
        StockUpdate(published.variant_ids[s], s, q, published.inventory_ids[s]) for s, q in (("TEE-S", 8), ("TEE-M", 0))
    ]
    result = h.connector.push_stock(updates, "k")
    assert (result.calls, result.applied) == (1, 2)
    assert h.stock_of(published.variant_ids["TEE-S"]) == 8
    assert h.emulator.product(published.variant_ids["TEE-M"])["stock_status"] == "outofstock"


# ---- pagination and throttling -------------------------------------------------------------------


def test_pagination_headers_and_per_page_limit(h):
    for i in range(5):
        h.seed_product(f"P-{i}", 1, "1.00")
        h.create_order(f"P-{i}", 1, "1.00")
    auth = WooCommerceOAuth1(CONSUMER_KEY, CONSUMER_SECRET)  # the site is on plain http
    url = h.emulator.url + "/wp-json/wc/v3/orders"
    response = httpx.get(url, params={"per_page": 2, "page": 2}, auth=auth)
    assert response.headers["X-WP-Total"] == "5"
    assert response.headers["X-WP-TotalPages"] == "3"
    assert set(response.links) == {"first", "prev", "next", "last"}
    assert "page=3" in response.links["next"]["url"]
    too_many = httpx.get(url, params={"per_page": 101}, auth=auth)
    assert too_many.status_code == 400
    assert too_many.json()["code"] == "rest_invalid_param"

    seen = []
    cursor = None
    while True:
        page = h.connector.fetch_orders(cursor)
        seen.extend(o.lines[0].sku for o in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"P-{i}" for i in range(5)]


def test_fetch_orders_since_filters_on_modification(h):
    h.seed_product("S-1", 5, "1.00")
    h.create_order("S-1", 1, "1.00")
    assert h.connector.fetch_orders(since=datetime.now(UTC) - timedelta(minutes=5)).items != []
    assert h.connector.fetch_orders(since=datetime.now(UTC) + timedelta(minutes=5)).items == []


def test_429_retry_after_is_honoured_within_a_bounded_budget():
    with WooCommerceEmulator(CONSUMER_KEY, CONSUMER_SECRET, retry_after="1") as emu:
        waits: list[float] = []
        client = WooCommerceClient(emu.url, CONSUMER_KEY, CONSUMER_SECRET, sleep=waits.append, max_attempts=3)
        emu.throttle_next(2)
        data, _ = client.get("/wp-json/wc/v3/orders", what="t")
        assert data == []
        assert waits == [1.0, 1.0]
        assert emu.api_calls() == 3
        emu.throttle_next(3)
        with pytest.raises(RateLimited) as caught:
            client.get("/wp-json/wc/v3/orders", what="t")
        assert caught.value.retry_after == 1.0
        assert emu.api_calls() == 6  # three attempts, no more


def test_a_stock_push_waits_out_a_host_window_longer_than_the_clients_attempts():
    """A host limiter (bare 429s) whose window outlasts the client's attempts: the push waits as asked and
    sends the refused chunk again, rather than fail the job and later re-send the chunks already applied."""
    with WooCommerceEmulator(CONSUMER_KEY, CONSUMER_SECRET, rate_limit=(2, 0.5), retry_after="0.1") as emu:
        ids = [emu.add_product({"name": f"P{n}", "type": "simple", "sku": f"P{n}", "regular_price": "1.00",
                                "manage_stock": True, "stock_quantity": 1})["id"] for n in range(5)]
        client = WooCommerceClient(emu.url, CONSUMER_KEY, CONSUMER_SECRET, max_attempts=2)
        store = WooCommerceStore(client, "s", batch_limit=1)
        result = store.push_stock([StockUpdate(str(pid), f"P{n}", 7) for n, pid in enumerate(ids)], "k")
        assert (result.applied, result.failed) == (5, [])
        assert [emu.stock_of(pid) for pid in ids] == [7] * 5
        store.push_throttle_wait = 0.05  # a budget shorter than the host's window: the job gets it back
        with pytest.raises(RateLimited):
            store.push_stock([StockUpdate(str(pid), f"P{n}", 3) for n, pid in enumerate(ids)], "k2")


def test_5xx_on_a_write_is_not_repeated(h):
    vid = h.seed_product("X-1", 2, "1.00")
    h.emulator.fail_next(1)
    before = h.api_calls()
    with pytest.raises(Exception) as caught:
        h.connector.push_stock([StockUpdate(vid, "X-1", 9)], "k")
    assert caught.value.retryable
    assert h.api_calls() - before == 1
    assert h.stock_of(vid) == 2


# ---- orders, fulfillment, catalog ----------------------------------------------------------------


def test_order_mapping_with_discount_tax_and_shipping(h):
    h.seed_product("M-1", 10, "19.99")
    order = h.emulator.create_order(
        [{"sku": "M-1", "quantity": 3, "price": "19.99", "discount": "5.97", "tax": "4.32"}],
        currency="EUR",
        shipping_total="4.50",
        shipping={"first_name": "Jo", "last_name": "Bloggs", "state": "BY", "country": "de", "postcode": "80331"},
    )
    mapped = h.connector.fetch_orders().items[0]
    line = mapped.lines[0]
    assert (line.unit_price, line.discount, line.tax) == (Money(1999, "EUR"), Money(597, "EUR"), Money(432, "EUR"))
    assert line.external_variant_id == h.emulator.order(order["id"])["line_items"][0]["product_id"].__str__()
    assert mapped.shipping_price == Money(450, "EUR")
    assert mapped.total_discounts == Money(597, "EUR")
    assert mapped.total_price == Money(5997 - 597 + 450 + 432, "EUR")
    assert (mapped.ship_to.name, mapped.ship_to.country_code, mapped.ship_to.province_code) == ("Jo Bloggs", "DE", "BY")
    assert mapped.financial_status == "paid"
    assert h.stock_of(h.emulator.order(order["id"])["line_items"][0]["product_id"]) == 7  # checkout reduced stock


def test_partial_fulfillments_complete_the_order_only_when_everything_shipped(h):
    h.seed_product("F-1", 10, "2.00")
    h.seed_product("F-2", 10, "3.00")
    order = h.emulator.create_order([{"sku": "F-1", "quantity": 1}, {"sku": "F-2", "quantity": 2}])
    lines = [str(li["id"]) for li in order["line_items"]]
    first = Fulfillment(str(order["id"]), "DHL", "JD01", None, [FulfillmentLine(lines[0], 1)])
    tid = h.connector.push_fulfillment(first, "ship-1")
    assert h.emulator.order(order["id"])["status"] == "processing"
    assert h.connector.push_fulfillment(first, "ship-1") == tid  # repeat: same id, nothing new
    assert len(h.emulator.order_notes(order["id"])) == 1
    second = Fulfillment(str(order["id"]), "UPS", "1Z02", "https://ups.example/1Z02", [FulfillmentLine(lines[1], 2)])
    h.connector.push_fulfillment(second, "ship-2")
    assert h.emulator.order(order["id"])["status"] == "completed"
    assert h.fulfillments_of(str(order["id"])) == [
        {"tracking_number": "JD01", "carrier": "DHL", "tracking_url": None, "notified": True},
        {"tracking_number": "1Z02", "carrier": "UPS", "tracking_url": "https://ups.example/1Z02", "notified": True},
    ]
    assert [m["kind"] for m in h.emulator.emails] == ["customer_note", "customer_note", "completed_order"]


def test_retry_after_a_lost_answer_does_not_email_the_customer_twice(h):
    h.seed_product("F-3", 10, "2.00")
    oid = h.create_order("F-3", 1, "2.00")
    fulfillment = Fulfillment(oid, "UPS", "1Z03", None, [])
    h.connector._notify(oid, "Your order has shipped with UPS. Tracking number: 1Z03")  # the first attempt got here
    h.connector.push_fulfillment(fulfillment, "ship-3")
    assert [n["note"] for n in h.emulator.order_notes(oid)] == [
        "Your order has shipped with UPS. Tracking number: 1Z03"
    ]


def test_shipment_tracking_extension_mode():
    with WooCommerceEmulator(CONSUMER_KEY, CONSUMER_SECRET, shipment_tracking_plugin=True) as emu:
        store = _store(emu.url, tracking_mode="shipment_tracking")
        emu.add_product({"name": "T", "sku": "ST-1", "regular_price": "4.00"})
        oid = str(emu.create_order([{"sku": "ST-1", "quantity": 1}])["id"])
        fulfillment = Fulfillment(oid, "Evri", "H00A", "https://evri.example/%1$s", [])
        tid = store.push_fulfillment(fulfillment, "ship-x")
        assert store.push_fulfillment(fulfillment, "ship-x") == tid
        assert emu.fulfillments_of(oid) == [
            {
                "tracking_number": "H00A",
                "carrier": "Evri",
                "tracking_url": "https://evri.example/H00A",
                "notified": True,
            }
        ]
        assert emu.order(oid)["status"] == "completed"
    with WooCommerceEmulator(CONSUMER_KEY, CONSUMER_SECRET) as emu:  # extension absent: 404 rest_no_route
        store = _store(emu.url, tracking_mode="shipment_tracking")
        emu.add_product({"name": "T", "sku": "ST-1", "regular_price": "4.00"})
        oid = str(emu.create_order([{"sku": "ST-1", "quantity": 1}])["id"])
        with pytest.raises(PermanentError, match="rest_no_route"):
            store.push_fulfillment(Fulfillment(oid, "Evri", "H00A", None, []), "ship-y")


def test_publish_variable_product_with_sale_prices_is_idempotent(h):
    draft = ProductDraft(
        sku="HAT",
        title="Winter hat",
        description_html="<p>Warm</p>",
        images=["https://cdn.example/hat.jpg"],
        variants=[
            ProductVariantDraft("HAT-GRY", Money(7999, "USD"), {"Color": "Grey"}, Money(9999, "USD"), quantity=10),
            ProductVariantDraft("HAT-BLK", Money(8999, "USD"), {"Color": "Black"}, quantity=4),
        ],
    )
    published = h.connector.publish_product(draft, "pub-hat")
    parent = h.emulator.product(published.external_product_id)
    assert (parent["type"], parent["sku"], parent["images"][0]["src"]) == (
        "variable",
        "HAT",
        "https://cdn.example/hat.jpg",
    )
    assert parent["attributes"] == [
        {"name": "Color", "position": 0, "visible": True, "variation": True, "options": ["Grey", "Black"]}
    ]
    grey = h.emulator.product(published.variant_ids["HAT-GRY"])
    assert (grey["regular_price"], grey["sale_price"], grey["price"]) == ("99.99", "79.99", "79.99")
    assert grey["attributes"] == [{"name": "Color", "option": "Grey"}]
    black = h.emulator.product(published.variant_ids["HAT-BLK"])
    assert (black["regular_price"], black["sale_price"], black["stock_quantity"]) == ("89.99", "", 4)
    count = len(h.emulator.products)
    assert h.connector.publish_product(draft, "pub-hat") == published
    assert len(h.emulator.products) == count
