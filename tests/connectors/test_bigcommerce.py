"""BigCommerce connector against its emulator over real HTTP: what is particular to BigCommerce."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dropbridge.connectors.stores.bigcommerce import from_config
from dropbridge.connectors.stores.bigcommerce.client import INVENTORY_ABSOLUTE, BigCommerceClient
from dropbridge.connectors.stores.bigcommerce.webhooks import signature
from dropbridge.domain.errors import AuthExpired, PermanentError, RateLimited, WebhookRejected
from dropbridge.domain.money import Money
from dropbridge.sandbox.bigcommerce import BigCommerceEmulator
from dropbridge.services.ports import (
    Fulfillment,
    FulfillmentLine,
    ProductDraft,
    ProductVariantDraft,
    StockUpdate,
)
from tests.connectors.storefronts.bigcommerce_harness import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    STORE_HASH,
    open_harness,
)


@pytest.fixture
def h():
    with open_harness() as harness:
        yield harness


def _store(url: str, token: str = ACCESS_TOKEN, store_hash: str = STORE_HASH, **config):
    return from_config(
        url,
        {"access_token": token, "client_secret": CLIENT_SECRET},
        {"store_hash": store_hash, "backoff_base": 0.01, **config},
    )


def _sign(headers: dict[str, str], body: bytes, secret: str = CLIENT_SECRET, ts: int | None = None) -> dict:
    ts = int(time.time()) if ts is None else ts
    wid = headers["webhook-id"]
    return dict(
        headers, **{"webhook-timestamp": str(ts), "webhook-signature": "v1," + signature(secret, wid, str(ts), body)}
    )


# ---- auth ----------------------------------------------------------------------------------------


def test_wrong_token_is_auth_expired_and_writes_nothing(h):
    vid = h.seed_product("AUTH-1", 5, "10.00")
    with pytest.raises(AuthExpired) as caught:
        _store(h.emulator.url, token="stale").push_stock([StockUpdate(vid, "AUTH-1", 1)], "k")
    assert caught.value.status == 401
    assert h.stock_of(vid) == 5
    response = httpx.get(f"{h.emulator.url}/stores/{STORE_HASH}/v2/orders")
    assert response.status_code == 401
    assert response.json() == [{"status": 401, "message": "Unauthorized: X-Auth-Token is missing or invalid"}]
    v3 = httpx.get(f"{h.emulator.url}/stores/{STORE_HASH}/v3/hooks")
    assert v3.json()["status"] == 401 and v3.json()["type"].startswith("https://developer.bigcommerce.com")


def test_unknown_store_hash_is_permanent(h):
    with pytest.raises(PermanentError) as caught:
        _store(h.emulator.url, store_hash="nope").fetch_orders()
    assert caught.value.status == 404


# ---- webhooks ------------------------------------------------------------------------------------


def test_thin_webhook_verifies_and_order_is_fetched(h):
    h.seed_product("WH-1", 5, "12.50")
    order_id = h.create_order("WH-1", 2, "12.50")
    headers, body = h.next_webhook()
    payload = json.loads(body)
    assert set(payload) == {"scope", "store_id", "data", "hash", "created_at", "producer"}
    assert payload["data"] == {"type": "order", "id": int(order_id)}
    assert payload["producer"] == f"stores/{STORE_HASH}"
    event = h.connector.verify_webhook(headers, body)
    assert (event.event_id, event.topic) == (payload["hash"], "store/order/created")
    before = h.api_calls()
    order = h.connector.order_from_event(event)
    assert h.api_calls() - before == 3  # order, products, shipping addresses
    assert order.external_id == order_id
    assert order.lines[0].unit_price == Money(1250, "USD")


def test_forged_stale_future_and_foreign_store_webhooks_are_rejected(h):
    h.seed_product("WH-2", 5, "1.00")
    h.create_order("WH-2", 1, "1.00")
    headers, body = h.next_webhook()
    with pytest.raises(WebhookRejected, match="bad"):
        h.connector.verify_webhook(_sign(headers, body, secret="guess"), body)
    with pytest.raises(WebhookRejected, match="bad"):
        h.connector.verify_webhook(headers, body.replace(b'"id":', b'"id":1'))
    with pytest.raises(WebhookRejected, match="bad"):  # the timestamp is signed: it cannot be refreshed
        h.connector.verify_webhook(dict(headers, **{"webhook-timestamp": str(int(time.time()) + 1)}), body)
    with pytest.raises(WebhookRejected, match="tolerance"):
        h.connector.verify_webhook(_sign(headers, body, ts=int(time.time()) - 301), body)
    with pytest.raises(WebhookRejected, match="tolerance"):
        h.connector.verify_webhook(_sign(headers, body, ts=int(time.time()) + 301), body)
    assert h.connector.verify_webhook(_sign(headers, body, ts=int(time.time()) - 290), body)
    foreign = body.replace(f"stores/{STORE_HASH}".encode(), b"stores/other1")
    with pytest.raises(WebhookRejected, match="another store"):
        h.connector.verify_webhook(_sign(headers, foreign), foreign)
    with pytest.raises(WebhookRejected, match="missing"):
        h.connector.verify_webhook({k: v for k, v in headers.items() if k != "webhook-id"}, body)
    # A captured delivery replayed later is stale.
    h.connector.clock = lambda: datetime.now(UTC) + timedelta(minutes=6)
    with pytest.raises(WebhookRejected, match="tolerance"):
        h.connector.verify_webhook(headers, body)


def test_duplicate_fires_share_the_hash_and_retries_keep_the_webhook_id():
    with open_harness(duplicate_deliveries=True) as h:
        h.seed_product("DUP-1", 5, "1.00")
        h.create_order("DUP-1", 1, "1.00")
        a_headers, a_body = h.next_webhook()
        b_headers, b_body = h.next_webhook()
        assert a_headers["webhook-id"] != b_headers["webhook-id"]
        a = h.connector.verify_webhook(a_headers, a_body)
        b = h.connector.verify_webhook(b_headers, b_body)
        assert a.event_id == b.event_id

    with open_harness() as h:
        h.seed_product("RT-1", 5, "1.00")
        h.receiver.status = 503
        h.create_order("RT-1", 1, "1.00")
        time.sleep(0.8)  # retries after 0.1, 0.2 and 0.3 s, then the hook is deactivated
        h.emulator.wait_deliveries()
        attempts = [d for d in h.emulator.webhook_deliveries() if d["scope"] == "store/order/created"]
        assert [d["attempt"] for d in attempts] == [0, 1, 2, 3]
        assert len({d["webhook_id"] for d in attempts}) == 1
        assert len({d["hash"] for d in attempts}) == 1
        seen = [h.receiver.received.get(timeout=1) for _ in attempts]
        ids = {h.connector.verify_webhook(hd, body).event_id for hd, body in seen}
        assert len(ids) == 1
        hooks = {x["scope"]: x for x in h.emulator.hooks.values()}
        assert hooks["store/order/created"]["is_active"] is False
        assert h.connector.subscribe_webhooks(h.receiver.url)
        assert hooks["store/order/created"]["is_active"] is True
        assert len(h.emulator.hooks) == 3  # order created, statusUpdated, refund/created


def test_incomplete_orders_are_not_orders_yet(h):
    vid = h.seed_product("INC-1", 5, "1.00")
    h.emulator.create_order([{"sku": "INC-1", "quantity": 1}], status_id=0)
    headers, body = h.next_webhook()
    event = h.connector.verify_webhook(headers, body)
    assert event.topic == "store/order/created"
    assert h.connector.order_from_event(event) is None
    assert h.connector.fetch_orders().items == []
    assert h.stock_of(vid) == 5  # an incomplete checkout holds no stock


# ---- inventory -----------------------------------------------------------------------------------


def test_inventory_adjustment_applies_after_the_delay(h):
    vid = h.seed_product("INV-1", 5, "1.00")
    result = h.connector.push_stock([StockUpdate(vid, "INV-1", 42)], "k")
    assert (result.calls, result.applied, result.failed) == (1, 1, [])
    assert h.emulator.stock_of(vid) == 5  # accepted, not applied yet
    time.sleep(0.3)
    assert h.emulator.stock_of(vid) == 42
    assert len(h.emulator.transactions) == 1
    assert h.emulator.transactions[0]["reason"] == "dropbridge stock sync k"


def test_inventory_batches_of_2000_and_413_beyond(h):
    product = h.emulator.add_product(
        {
            "name": "Many",
            "type": "physical",
            "weight": 1,
            "price": "1.00",
            "inventory_tracking": "variant",
            "variants": [
                {"sku": f"MV-{i}", "option_values": [{"option_display_name": "N", "label": str(i)}]}
                for i in range(2001)
            ],
        }
    )
    ids = [str(v["id"]) for v in product["variants"]]
    before = h.api_calls()
    result = h.connector.push_stock([StockUpdate(v, "", 3) for v in ids], "k")
    assert (result.calls, result.applied) == (2, 2001)
    assert h.api_calls() - before == 2
    assert h.stock_of(ids[0]) == 3 and h.stock_of(ids[-1]) == 3
    items = [{"location_id": 1, "variant_id": int(v), "quantity": 9} for v in ids]
    with pytest.raises(PermanentError) as caught:
        h.connector.client.put(INVENTORY_ABSOLUTE, {"reason": "x", "items": items}, what="too big")
    assert caught.value.status == 413
    assert h.stock_of(ids[0]) == 3


def test_product_tracked_item_by_variant_is_a_422_reported_as_failed(h):
    draft = ProductDraft("MUG", "Mug", variants=[ProductVariantDraft("MUG-1", Money(1250, "USD"), quantity=4)])
    published = h.connector.publish_product(draft, "pub-mug")
    vid = published.variant_ids["MUG-1"]
    ok = h.connector.push_stock([StockUpdate(vid, "MUG-1", 9, published.inventory_ids["MUG-1"])], "k")
    assert (ok.applied, ok.failed) == (1, [])
    assert h.stock_of(vid) == 9
    bad = h.connector.push_stock([StockUpdate(vid, "MUG-1", 1)], "k2")
    assert bad.applied == 0
    assert bad.failed[0][0] == vid
    assert "tracked by product, please update stock by product id" in bad.failed[0][1]
    assert h.stock_of(vid) == 9


# ---- rate limits ---------------------------------------------------------------------------------


def test_quota_exhaustion_pauses_instead_of_collecting_429s():
    with BigCommerceEmulator(STORE_HASH, ACCESS_TOKEN, CLIENT_SECRET, quota=3, window_ms=300) as emu:
        client = BigCommerceClient(STORE_HASH, ACCESS_TOKEN, base_url=emu.url)
        started = time.monotonic()
        for _ in range(7):
            client.get("/v3/hooks", what="t")
        assert emu.rate_limited == 0
        assert client.paused > 0.3  # two windows waited out
        assert time.monotonic() - started >= 0.3


def test_429_waits_the_reset_header_and_gives_up_within_its_budget():
    with BigCommerceEmulator(STORE_HASH, ACCESS_TOKEN, CLIENT_SECRET, throttle_reset_ms=1500) as emu:
        waits: list[float] = []
        now = [0.0]

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            now[0] += seconds

        client = BigCommerceClient(
            STORE_HASH, ACCESS_TOKEN, base_url=emu.url, sleep=sleep, monotonic=lambda: now[0], max_attempts=3
        )
        emu.throttle_next(2)
        assert client.get("/v3/hooks", what="t")["data"] == []
        assert waits == [1.5, 1.5]
        emu.throttle_next(3)
        with pytest.raises(RateLimited) as caught:
            client.get("/v3/hooks", what="t")
        assert caught.value.retry_after == 1.5
        assert emu.api_calls() == 6


def test_throttled_write_is_retried_once_accepted(h):
    vid = h.seed_product("TH-1", 5, "1.00")
    h.throttle_next(2)
    result = h.connector.push_stock([StockUpdate(vid, "TH-1", 11)], "k")
    assert (result.calls, result.applied) == (1, 1)
    assert h.emulator.rate_limited == 2
    assert h.stock_of(vid) == 11
    assert len(h.emulator.transactions) == 1


# ---- orders, pagination, shipments, catalog ------------------------------------------------------


def test_v2_pagination_204_and_v3_meta(h):
    url = f"{h.emulator.url}/stores/{STORE_HASH}"
    auth = {"X-Auth-Token": ACCESS_TOKEN}
    assert httpx.get(url + "/v2/orders", headers=auth).status_code == 204
    for i in range(5):
        h.seed_product(f"P-{i}", 5, "1.00")
        h.create_order(f"P-{i}", 1, "1.00")
    page = httpx.get(url + "/v2/orders", params={"limit": 2, "page": 3}, headers=auth)
    assert isinstance(page.json(), list) and len(page.json()) == 1
    assert page.headers["x-rate-limit-requests-quota"] == "150"
    assert httpx.get(url + "/v2/orders", params={"limit": 2, "page": 4}, headers=auth).status_code == 204
    products = httpx.get(url + "/v3/catalog/products", params={"limit": 2, "page": 2}, headers=auth).json()
    assert products["meta"]["pagination"] == {
        "total": 5,
        "count": 2,
        "per_page": 2,
        "current_page": 2,
        "total_pages": 3,
        "links": {"current": "?limit=2&page=2", "previous": "?limit=2&page=1", "next": "?limit=2&page=3"},
    }
    seen, cursor = [], None
    while True:
        result = h.connector.fetch_orders(cursor)
        seen.extend(o.lines[0].sku for o in result.items)
        cursor = result.next_cursor
        if cursor is None:
            break
    assert seen == [f"P-{i}" for i in range(5)]


def test_order_mapping_is_exact(h):
    h.seed_product("M-1", 10, "19.99")
    order = h.emulator.create_order(
        [{"sku": "M-1", "quantity": 3, "price": "19.99", "discount": "5.97", "tax": "4.32"}],
        currency="EUR",
        shipping_cost="4.50",
    )
    mapped = h.connector.fetch_orders().items[0]
    line = mapped.lines[0]
    assert line.external_id == str(h.emulator.orders[order["id"]]["_products"][0]["id"])
    assert (line.unit_price, line.discount, line.tax) == (Money(1999, "EUR"), Money(597, "EUR"), Money(432, "EUR"))
    assert mapped.total_price == Money(5997 - 597 + 450 + 432, "EUR")
    assert mapped.shipping_price == Money(450, "EUR")
    assert mapped.ship_to.country_code == "US"
    assert mapped.financial_status == "paid"
    assert mapped.created_at is not None and mapped.created_at.tzinfo is not None


def test_shipments_partial_then_full_idempotent_and_custom_carrier(h):
    h.seed_product("S-1", 10, "2.00")
    h.seed_product("S-2", 10, "3.00")
    order = h.emulator.create_order([{"sku": "S-1", "quantity": 1}, {"sku": "S-2", "quantity": 2}])
    oid = str(order["id"])
    lines = [str(p["id"]) for p in h.emulator.orders[order["id"]]["_products"]]
    first = Fulfillment(oid, "UPS", "1Z01", None, [FulfillmentLine(lines[0], 1)])
    sid = h.connector.push_fulfillment(first, "ship-1")
    assert h.connector.push_fulfillment(first, "ship-1") == sid
    assert h.emulator.order(oid)["status_id"] == 3
    h.connector.push_fulfillment(Fulfillment(oid, "DHL Express", "JD02", "https://dhl.example/JD02", []), "ship-2")
    assert h.emulator.order(oid)["status_id"] == 2
    shipments = h.emulator.shipments_of(oid)
    assert [(s["shipping_provider"], s["tracking_carrier"]) for s in shipments] == [("ups", ""), ("", "dhl-express")]
    assert [i["quantity"] for i in shipments[1]["items"]] == [2]
    assert h.fulfillments_of(oid) == [
        {
            "tracking_number": "1Z01",
            "carrier": "UPS",
            "tracking_url": "https://track.example/ups/1Z01",
            "notified": True,
        },
        {
            "tracking_number": "JD02",
            "carrier": "dhl-express",
            "tracking_url": "https://dhl.example/JD02",
            "notified": True,
        },
    ]
    with pytest.raises(PermanentError, match="nothing left to ship"):
        h.connector.push_fulfillment(Fulfillment(oid, "UPS", "1Z03", None, []), "ship-3")


def test_publish_product_with_variants_options_and_prices_is_idempotent(h):
    draft = ProductDraft(
        sku="HAT",
        title="Winter hat",
        images=["https://cdn.example/hat.jpg"],
        variants=[
            ProductVariantDraft("HAT-GRY", Money(7999, "USD"), {"Color": "Grey"}, Money(9999, "USD"), quantity=10),
            ProductVariantDraft("HAT-BLK", Money(8999, "USD"), {"Color": "Black"}, quantity=4),
        ],
    )
    published = h.connector.publish_product(draft, "pub-hat")
    product = h.emulator.product(published.external_product_id)
    assert (product["sku"], product["inventory_tracking"], product["price"]) == ("HAT", "variant", 79.99)
    assert product["images"][0]["image_url"] == "https://cdn.example/hat.jpg"
    by_sku = {v["sku"]: v for v in product["variants"]}
    assert (by_sku["HAT-GRY"]["price"], by_sku["HAT-GRY"]["retail_price"]) == (79.99, 99.99)
    assert by_sku["HAT-GRY"]["option_values"][0]["option_display_name"] == "Color"
    assert by_sku["HAT-GRY"]["option_values"][0]["label"] == "Grey"
    assert published.variant_ids == {"HAT-GRY": str(by_sku["HAT-GRY"]["id"]), "HAT-BLK": str(by_sku["HAT-BLK"]["id"])}
    assert h.stock_of(published.variant_ids["HAT-BLK"]) == 4
    assert h.connector.publish_product(draft, "pub-hat") == published
    assert len(h.emulator.products) == 1
