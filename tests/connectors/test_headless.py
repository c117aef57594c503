"""The headless store connector against its emulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI, Request

from dropbridge.connectors.kit.retry import RetryPolicy
from dropbridge.connectors.stores.headless import HeadlessStore, from_config
from dropbridge.connectors.stores.headless.mapping import order_from_payload
from dropbridge.domain.errors import (
    AuthExpired,
    ConfigurationError,
    RateLimited,
    RetryableError,
    ValidationError,
    WebhookRejected,
)
from dropbridge.domain.money import Money
from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.kit.server import start_server
from dropbridge.services.ports import (
    Address,
    ExternalOrder,
    ExternalOrderLine,
    Fulfillment,
    FulfillmentLine,
    InboundEvent,
    Page,
    ProductDraft,
    ProductVariantDraft,
    PublishedProduct,
    PushResult,
    StockUpdate,
    Storefront,
)

SECRET = "hl_secret_1"

FULFILLMENT = Fulfillment(
    order_external_id="web-1001",
    carrier="UPS",
    tracking_number="1Z999AA10123456784",
    tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
    lines=[FulfillmentLine("L1", 2), FulfillmentLine("L2", 1)],
)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


@pytest.fixture
def store() -> Iterator[HeadlessStoreEmulator]:
    emu = HeadlessStoreEmulator(SECRET)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def connector(store: HeadlessStoreEmulator) -> Iterator[HeadlessStore]:
    conn = HeadlessStore(store.events_url, SECRET, timeout=2.0)
    yield conn
    conn.close()


def test_implements_storefront_protocol(connector):
    assert isinstance(connector, Storefront)
    assert connector.platform == "headless"


# ---- outbound events -----------------------------------------------------------------------------


def test_fulfillment_delivered_signed_and_recorded(store, connector):
    assert connector.push_fulfillment(FULFILLMENT, "ful_42") == "F-1"

    assert store.fulfillments() == [
        {
            "fulfillment_id": "F-1",
            "order_external_id": "web-1001",
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            "lines": [{"external_line_id": "L1", "quantity": 2}, {"external_line_id": "L2", "quantity": 1}],
            "notify_customer": True,
        }
    ]
    assert store.deliveries() == [
        {"delivery_id": "ful_42", "event": "fulfillment.created", "status": 201, "duplicate": False}
    ]
    assert httpx.get(f"{store.url}/_control/fulfillments", timeout=5).json() == {"fulfillments": store.fulfillments()}


def test_duplicate_delivery_key_records_once_and_returns_original(store, connector):
    assert connector.push_fulfillment(FULFILLMENT, "ful_42") == "F-1"
    assert connector.push_fulfillment(FULFILLMENT, "ful_42") == "F-1"
    assert connector.push_fulfillment(FULFILLMENT, "ful_43") == "F-2"

    assert [f["fulfillment_id"] for f in store.fulfillments()] == ["F-1", "F-2"]
    assert [(d["delivery_id"], d["status"], d["duplicate"]) for d in store.deliveries()] == [
        ("ful_42", 201, False),
        ("ful_42", 200, True),
        ("ful_43", 201, False),
    ]


def test_wrong_secret_is_refused_by_the_store_and_records_nothing(store):
    forger = HeadlessStore(store.events_url, "not-the-secret", timeout=2.0)
    with pytest.raises(AuthExpired) as info:
        forger.push_fulfillment(FULFILLMENT, "ful_1")
    assert info.value.status == 401
    assert store.fulfillments() == []


def test_store_rejects_stale_and_tampered_deliveries(store):
    body = json.dumps({"updates": [{"sku": "A", "external_variant_id": "A", "quantity": 1}]}).encode()

    def post(timestamp: int, signed_body: bytes, sent_body: bytes) -> int:
        headers = {
            "X-Dropbridge-Event": "stock.updated",
            "X-Dropbridge-Delivery": f"d-{timestamp}",
            "X-Dropbridge-Timestamp": str(timestamp),
            "X-Dropbridge-Signature": sign(SECRET, timestamp, signed_body),
        }
        return httpx.post(store.events_url, content=sent_body, headers=headers, timeout=5).status_code

    now = int(time.time())
    assert post(now - 400, body, body) == 401
    assert post(now, body, body.replace(b'"quantity": 1', b'"quantity": 9')) == 401
    assert store.stock_updates() == []
    assert post(now, body, body) == 200
    assert store.stock() == {"A": 1}


def test_stock_is_batched_in_500s_with_per_batch_keys(store, connector):
    updates = [StockUpdate(f"v{i}", f"SKU-{i}", i % 7) for i in range(1201)]

    assert connector.push_stock(updates, "stock_run_9") == PushResult(calls=3, applied=1201)

    assert [(d["delivery_id"], d["status"]) for d in store.deliveries()] == [
        ("stock_run_9:1", 200),
        ("stock_run_9:2", 200),
        ("stock_run_9:3", 200),
    ]
    applied = store.stock_updates()
    assert len(applied) == 1201
    assert applied[0] == {"sku": "SKU-0", "external_variant_id": "v0", "quantity": 0}
    assert applied[1200] == {"sku": "SKU-1200", "external_variant_id": "v1200", "quantity": 1200 % 7}
    assert store.stock()["v1000"] == 1000 % 7

    # Repeating the whole push with the same key applies nothing twice.
    assert connector.push_stock(updates, "stock_run_9") == PushResult(calls=3, applied=1201)
    assert len(store.stock_updates()) == 1201


def test_push_stock_of_nothing_makes_no_call(store, connector):
    assert connector.push_stock([], "k") == PushResult(calls=0, applied=0)
    assert store.deliveries() == []


def test_store_refuses_batches_over_500(store):
    updates = [{"sku": f"S{i}", "external_variant_id": f"v{i}", "quantity": 1} for i in range(501)]
    raw = json.dumps({"updates": updates}).encode()
    ts = int(time.time())
    response = httpx.post(
        store.events_url,
        content=raw,
        headers={
            "X-Dropbridge-Event": "stock.updated",
            "X-Dropbridge-Delivery": "big",
            "X-Dropbridge-Timestamp": str(ts),
            "X-Dropbridge-Signature": sign(SECRET, ts, raw),
        },
        timeout=5,
    )
    assert response.status_code == 413
    assert store.stock_updates() == []


def test_publish_product(store, connector):
    product = ProductDraft(
        sku="TEE",
        title="Organic tee",
        description_html="<p>Soft</p>",
        images=["https://cdn.example.com/tee.jpg"],
        variants=[
            ProductVariantDraft(
                sku="TEE-M",
                price=Money(1999, "USD"),
                options={"Size": "M"},
                compare_at_price=Money(2499, "USD"),
                barcode="0012345678905",
                quantity=12,
            ),
            ProductVariantDraft(sku="TEE-L", price=Money(2000, "USD"), options={"Size": "L"}),
        ],
        vendor="Acme",
    )
    assert connector.publish_product(product, "pub_TEE_1") == PublishedProduct(
        external_product_id="TEE", variant_ids={"TEE-M": "TEE-M", "TEE-L": "TEE-L"}
    )
    assert store.products() == [
        {
            "sku": "TEE",
            "title": "Organic tee",
            "description_html": "<p>Soft</p>",
            "images": ["https://cdn.example.com/tee.jpg"],
            "vendor": "Acme",
            "variants": [
                {
                    "sku": "TEE-M",
                    "price": "19.99",
                    "currency": "USD",
                    "compare_at_price": "24.99",
                    "options": {"Size": "M"},
                    "barcode": "0012345678905",
                    "quantity": 12,
                },
                {
                    "sku": "TEE-L",
                    "price": "20.00",
                    "currency": "USD",
                    "compare_at_price": None,
                    "options": {"Size": "L"},
                    "barcode": None,
                    "quantity": 0,
                },
            ],
        }
    ]


def test_store_faults_map_to_error_classes_and_record_nothing(store):
    # One attempt per call, to see each fault's class (by default faults are retried: the contract suite).
    connector = HeadlessStore(store.events_url, SECRET, timeout=2.0, retry_policy=RetryPolicy(attempts=1))
    store.inject("error_500")
    with pytest.raises(RetryableError) as info:
        connector.push_fulfillment(FULFILLMENT, "ful_1")
    assert info.value.status == 500
    assert store.fulfillments() == []

    httpx.post(f"{store.url}/_control/faults", json={"mode": "rate_limit", "retry_after": 3}, timeout=5)
    with pytest.raises(RateLimited) as limited:
        connector.push_fulfillment(FULFILLMENT, "ful_1")
    assert limited.value.retry_after == 3.0
    assert store.fulfillments() == []

    # The same key goes through once the store recovers.
    assert connector.push_fulfillment(FULFILLMENT, "ful_1") == "F-1"


# ---- inbound events and orders -------------------------------------------------------------------

ORDER_JSON = {
    "external_id": "web-1001",
    "currency": "USD",
    "email": "ada@example.com",
    "ship_to": {
        "name": "Ada Lovelace",
        "address1": "1 Infinite Loop",
        "address2": "Suite 2",
        "city": "Cupertino",
        "province_code": "CA",
        "postal_code": "95014",
        "country_code": "us",
        "phone": "+1 408 555 0100",
        "company": "Analytical Engines",
    },
    "lines": [
        {"external_id": "L1", "sku": "TEE-M", "quantity": 2, "unit_price": "19.99"},
        {"sku": "MUG-11", "quantity": 1, "unit_price": "12"},
    ],
    "shipping_price": "4.99",
}

EXPECTED_ORDER = ExternalOrder(
    external_id="web-1001",
    currency="USD",
    lines=[
        ExternalOrderLine(external_id="L1", sku="TEE-M", quantity=2, unit_price=Money(1999, "USD")),
        ExternalOrderLine(external_id="2", sku="MUG-11", quantity=1, unit_price=Money(1200, "USD")),
    ],
    ship_to=Address(
        name="Ada Lovelace",
        address1="1 Infinite Loop",
        city="Cupertino",
        country_code="US",
        postal_code="95014",
        address2="Suite 2",
        province_code="CA",
        company="Analytical Engines",
        phone="+1 408 555 0100",
    ),
    email="ada@example.com",
    shipping_price=Money(499, "USD"),
)


def test_order_from_payload_exact_mapping():
    assert order_from_payload(ORDER_JSON) == EXPECTED_ORDER


def test_order_from_payload_minimal():
    order = order_from_payload(
        {
            "external_id": 77,
            "currency": "jpy",
            "ship_to": {"name": "Ken", "address1": "1-1 Chiyoda", "city": "Tokyo", "country_code": "JP"},
            "lines": [{"sku": "A", "quantity": 3, "unit_price": "1500"}],
        }
    )
    assert order == ExternalOrder(
        external_id="77",
        currency="JPY",
        lines=[ExternalOrderLine(external_id="1", sku="A", quantity=3, unit_price=Money(1500, "JPY"))],
        ship_to=Address(name="Ken", address1="1-1 Chiyoda", city="Tokyo", country_code="JP"),
    )


def _with(path: list, value) -> dict:
    payload = json.loads(json.dumps(ORDER_JSON))
    target = payload
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["lines", 0, "unit_price"], "19.999", "lines[0].unit_price"),
        (["lines", 1, "unit_price"], "abc", "lines[1].unit_price"),
        (["lines", 1, "unit_price"], "-1.00", "lines[1].unit_price"),
        (["lines", 1, "unit_price"], _DELETE, "lines[1].unit_price"),
        (["lines", 0, "quantity"], 0, "lines[0].quantity"),
        (["lines", 1, "quantity"], "2", "lines[1].quantity"),
        (["lines", 1, "sku"], "", "lines[1].sku"),
        (["lines"], [], "lines"),
        (["ship_to", "city"], _DELETE, "ship_to.city"),
        (["ship_to", "country_code"], "USA", "ship_to.country_code"),
        (["ship_to"], None, "ship_to"),
        (["external_id"], _DELETE, "external_id"),
        (["currency"], "XX1", "currency"),
        (["shipping_price"], "4.999", "shipping_price"),
    ],
)
def test_order_from_payload_names_the_bad_field(path, value, field):
    with pytest.raises(ValidationError) as info:
        order_from_payload(_with(path, value))
    assert info.value.field == field


def test_store_sent_order_event_verifies_and_maps():
    received: list[tuple[dict[str, str], bytes]] = []
    app = FastAPI()

    @app.post("/webhooks/headless/main")
    async def hook(request: Request):
        received.append((dict(request.headers), await request.body()))
        return {"ok": True}

    emu = HeadlessStoreEmulator(SECRET)
    connector = HeadlessStore("http://127.0.0.1:9/unused", SECRET)
    with start_server(app) as server:
        status = emu.send_event(f"{server.url}/webhooks/headless/main", "order.created", ORDER_JSON, "dlv-1")
    assert status == 200
    [(headers, body)] = received

    event = connector.verify_webhook(headers, body)
    assert (event.event_id, event.topic, event.payload) == ("dlv-1", "order.created", ORDER_JSON)
    assert event.occurred_at == datetime.fromtimestamp(int(headers["x-dropbridge-timestamp"]), UTC)
    assert connector.order_from_event(event) == EXPECTED_ORDER

    cancelled = InboundEvent("dlv-2", "order.cancelled", ORDER_JSON)
    assert connector.order_from_event(cancelled).cancelled is True
    assert connector.order_from_event(InboundEvent("dlv-3", "product.updated", {})) is None


def test_verify_rejects_forged_stale_tampered_and_incomplete():
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    connector = HeadlessStore("http://127.0.0.1:9/unused", SECRET, clock=lambda: now)
    body = json.dumps(ORDER_JSON).encode()
    ts = int(now.timestamp())

    def headers(timestamp: int = ts, secret: str = SECRET, signed: bytes = body) -> dict[str, str]:
        return {
            "x-dropbridge-event": "order.created",
            "X-DROPBRIDGE-DELIVERY": "dlv-9",
            "X-Dropbridge-Timestamp": str(timestamp),
            "X-Dropbridge-Signature": sign(secret, timestamp, signed),
        }

    assert connector.verify_webhook(headers(), body).event_id == "dlv-9"
    with pytest.raises(WebhookRejected, match="signature does not match"):
        connector.verify_webhook(headers(secret="forged"), body)
    with pytest.raises(WebhookRejected, match="301s from now"):
        connector.verify_webhook(headers(timestamp=ts - 301), body)
    with pytest.raises(WebhookRejected, match="signature does not match"):
        connector.verify_webhook(headers(), body.replace(b"19.99", b"0.01"))
    incomplete = headers()
    del incomplete["X-DROPBRIDGE-DELIVERY"]
    with pytest.raises(WebhookRejected, match="missing X-Dropbridge-Delivery") as info:
        connector.verify_webhook(incomplete, body)
    assert info.value.status == 400


def test_fetch_orders_without_orders_url_is_empty(connector):
    assert connector.fetch_orders() == Page(items=[], next_cursor=None)


def test_fetch_orders_pages_through_the_store_list():
    emu = HeadlessStoreEmulator(SECRET, orders_token="tok", page_size=2)
    for n in range(3):
        emu.add_order({**ORDER_JSON, "external_id": f"web-{n}"})
    with emu:
        connector = from_config(
            emu.events_url,
            {"webhook_secret": SECRET, "api_token": "tok"},
            {"orders_url": f"{emu.url}/orders", "timeout": 2},
        )
        first = connector.fetch_orders()
        assert [o.external_id for o in first.items] == ["web-0", "web-1"]
        assert first.next_cursor == "2"
        assert first.items[0].lines == EXPECTED_ORDER.lines
        second = connector.fetch_orders(first.next_cursor)
        assert ([o.external_id for o in second.items], second.next_cursor) == (["web-2"], None)


def test_fetch_orders_names_the_bad_order_and_field():
    emu = HeadlessStoreEmulator(SECRET)
    emu.add_order(ORDER_JSON)
    emu.add_order(_with(["lines", 0, "unit_price"], "1.234"))
    with emu:
        connector = HeadlessStore(emu.events_url, SECRET, orders_url=f"{emu.url}/orders", timeout=2.0)
        with pytest.raises(ValidationError) as info:
            connector.fetch_orders()
    assert info.value.field == "orders[1].lines[0].unit_price"


def test_from_config_requires_secret(store):
    with pytest.raises(ConfigurationError):
        from_config(store.events_url, {}, {})
    connector = from_config(store.events_url, {"webhook_secret": SECRET}, {})
    assert connector.push_fulfillment(FULFILLMENT, "k1") == "F-1"


def test_stale_timestamp_from_a_skewed_clock_is_refused_by_the_store(store):
    skewed = HeadlessStore(
        store.events_url, SECRET, timeout=2.0, clock=lambda: datetime.now(UTC) - timedelta(seconds=400)
    )
    with pytest.raises(AuthExpired) as info:
        skewed.push_fulfillment(FULFILLMENT, "ful_1")
    assert info.value.status == 401
    assert store.fulfillments() == []
