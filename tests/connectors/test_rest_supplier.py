"""The generic REST supplier connector against its emulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dropbridge.connectors.suppliers.rest import RestSupplier, from_config
from dropbridge.domain.errors import (
    AuthExpired,
    ConfigurationError,
    OutOfStock,
    PermanentError,
    RateLimited,
    RetryableError,
    WebhookRejected,
)
from dropbridge.domain.money import Money
from dropbridge.sandbox.kit.server import start_server
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.services.ports import (
    Address,
    InboundEvent,
    PlacedOrder,
    Supplier,
    SupplierOrderItem,
    SupplierOrderRequest,
    TrackingUpdate,
)

API_KEY = "sk_test_123"
SECRET = "whsec_abc"
SHIP_TO = Address(
    name="Ada Lovelace",
    address1="12 St James's Square",
    city="London",
    country_code="GB",
    postal_code="SW1Y 4JH",
    phone="+44 20 7946 0000",
)
SHIP_TO_JSON = {
    "name": "Ada Lovelace",
    "address1": "12 St James's Square",
    "address2": "",
    "city": "London",
    "province_code": "",
    "postal_code": "SW1Y 4JH",
    "country_code": "GB",
    "phone": "+44 20 7946 0000",
    "company": "",
}


def tracking_number(n: int, name: str = "rest") -> str:
    return "1Z" + hashlib.sha1(name.encode()).hexdigest()[:6].upper() + f"{n:010d}"


def request(reference: str = "so_1_a1", *items: tuple[str, int]) -> SupplierOrderRequest:
    lines = [SupplierOrderItem(sku, qty) for sku, qty in (items or (("MUG-11", 2), ("TEE-M", 1)))]
    return SupplierOrderRequest(reference=reference, ship_to=SHIP_TO, items=lines, email="ada@example.com")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


class WebhookReceiver:
    """A real HTTP endpoint that records what the emulator delivers; answers from `statuses` first."""

    def __init__(self, statuses: list[int] | None = None):
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(req: Request):
            self.received.append((dict(req.headers), await req.body()))
            status = self.statuses.pop(0) if self.statuses else 200
            return JSONResponse({"ok": status == 200}, status)


@pytest.fixture
def emulator() -> Iterator[RestSupplierEmulator]:
    emu = RestSupplierEmulator(API_KEY, ship_after_seconds=None)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def supplier(emulator: RestSupplierEmulator) -> Iterator[RestSupplier]:
    connector = RestSupplier(emulator.url, API_KEY, webhook_secret=SECRET, timeout=2.0)
    yield connector
    connector.close()


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    rec = WebhookReceiver()
    with start_server(rec.app) as server:
        yield rec, f"{server.url}/hook"


def test_implements_supplier_protocol(supplier: RestSupplier):
    assert isinstance(supplier, Supplier)
    assert supplier.kind == "rest"


def test_place_order_sends_reference_and_records_exact_order(emulator, supplier):
    placed = supplier.place_order(request("so_1_a1"))

    assert placed == PlacedOrder(external_id="SO-1", reference="so_1_a1", status="accepted", cost=None)
    [order] = emulator.orders_with_reference("so_1_a1")
    assert order["order_id"] == "SO-1"
    assert order["ship_to"] == SHIP_TO_JSON
    assert order["items"] == [
        {"supplier_sku": "MUG-11", "quantity": 2},
        {"supplier_sku": "TEE-M", "quantity": 1},
    ]
    assert order["email"] == "ada@example.com"
    assert order["status"] == "accepted"
    assert order["shipments"] == []


def test_find_order_by_reference(supplier):
    assert supplier.find_order("so_missing") is None
    supplier.place_order(request("so_1_a1"))
    supplier.place_order(request("so_2_b2"))

    assert supplier.find_order("so_2_b2") == PlacedOrder("SO-2", "so_2_b2", "accepted")
    assert supplier.find_order("so_1_a1") == PlacedOrder("SO-1", "so_1_a1", "accepted")


def test_tracking_empty_before_shipping_then_one_update_after(emulator, supplier):
    supplier.place_order(request("so_1_a1"))
    assert supplier.fetch_tracking("SO-1", "so_1_a1") == []

    # Ship through the emulator's HTTP control endpoint, as the demo does.
    shipped = httpx.post(f"{emulator.url}/_control/ship/SO-1", timeout=5).json()
    shipped_at = datetime.fromisoformat(shipped["shipments"][0]["shipped_at"].replace("Z", "+00:00"))

    number = tracking_number(1)
    assert supplier.fetch_tracking("SO-1", "so_1_a1") == [
        TrackingUpdate(
            reference="so_1_a1",
            external_order_id="SO-1",
            carrier="UPS",
            tracking_number=number,
            tracking_url=f"https://www.ups.com/track?tracknum={number}",
            shipped_at=shipped_at,
            items=[SupplierOrderItem("MUG-11", 2), SupplierOrderItem("TEE-M", 1)],
        )
    ]
    assert supplier.find_order("so_1_a1") == PlacedOrder("SO-1", "so_1_a1", "shipped")


def test_cost_reported_when_supplier_prices(receiver):
    emu = RestSupplierEmulator(API_KEY, ship_after_seconds=None, prices={"MUG-11": "4.35", "TEE-M": "7.10"})
    with emu:
        connector = RestSupplier(emu.url, API_KEY, timeout=2.0)
        assert connector.place_order(request("so_1_a1")).cost == Money(1580, "USD")


def test_automatic_shipping_delivers_signed_webhook_that_verifies(receiver):
    rec, hook_url = receiver
    emu = RestSupplierEmulator(API_KEY, webhook_url=hook_url, webhook_secret=SECRET, ship_after_seconds=0.1)
    with emu:
        connector = RestSupplier(emu.url, API_KEY, webhook_secret=SECRET, timeout=2.0)
        connector.place_order(request("so_9_z9"))
        headers, body = wait_for(lambda: rec.received and rec.received[0])

        event = connector.verify_webhook(headers, body)
        payload = json.loads(body)
        assert event == InboundEvent(
            event_id=headers["x-event-id"],
            topic="order.shipped",
            payload=payload,
            occurred_at=datetime.fromisoformat(payload["created_at"].replace("Z", "+00:00")),
        )
        assert payload["event_id"] == headers["x-event-id"]
        assert connector.tracking_from_event(event) == connector.fetch_tracking("SO-1", "so_9_z9")
        [update] = connector.tracking_from_event(event)
        assert (update.reference, update.tracking_number) == ("so_9_z9", tracking_number(1))
        assert len(rec.received) == 1
        assert emu.webhooks()[0]["attempts"] == 1
        assert emu.webhooks()[0]["delivered"] is True


def test_failed_webhook_delivery_is_retried():
    rec = WebhookReceiver(statuses=[500, 503])
    with start_server(rec.app) as server:
        emu = RestSupplierEmulator(
            API_KEY, webhook_url=f"{server.url}/hook", webhook_secret=SECRET, ship_after_seconds=None
        )
        with emu:
            connector = RestSupplier(emu.url, API_KEY, webhook_secret=SECRET, timeout=2.0)
            connector.place_order(request("so_1_a1"))
            emu.ship("SO-1")
            wait_for(lambda: emu.webhooks()[0]["delivered"])

            assert len(rec.received) == 3
            assert [w["attempts"] for w in emu.webhooks()] == [3]
            # Same event each time: the receiver de-duplicates on the event id.
            assert {h["x-event-id"] for h, _ in rec.received} == {emu.webhooks()[0]["event_id"]}


# ---- webhook verification ------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
EVENT_BODY = json.dumps(
    {
        "event_id": "0b5e9a0e-1111-4c3e-9d1a-6c2f0f7c1a01",
        "type": "order.shipped",
        "created_at": "2026-03-01T11:59:58Z",
        "order": {
            "order_id": "SO-7",
            "reference": "so_7_k7",
            "status": "shipped",
            "shipments": [
                {
                    "carrier": "UPS",
                    "tracking_number": "1Z999",
                    "tracking_url": "https://www.ups.com/track?tracknum=1Z999",
                    "shipped_at": "2026-03-01T11:59:57Z",
                    "items": [{"supplier_sku": "MUG-11", "quantity": 1}],
                }
            ],
        },
    }
).encode()


def offline_supplier(**kwargs) -> RestSupplier:
    # Verification needs no network: the base URL is never called.
    return RestSupplier("http://127.0.0.1:9", API_KEY, webhook_secret=SECRET, clock=lambda: NOW, **kwargs)


def signed_headers(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Event-Id": "0b5e9a0e-1111-4c3e-9d1a-6c2f0f7c1a01",
        "X-Timestamp": str(timestamp),
        "X-Signature": sign(secret, timestamp, body),
    }


def test_verify_valid_webhook_any_header_case_and_tracking():
    ts = int(NOW.timestamp()) - 2
    connector = offline_supplier()
    for headers in (
        signed_headers(EVENT_BODY, ts),
        {k.lower(): v for k, v in signed_headers(EVENT_BODY, ts).items()},
        {k.upper(): v for k, v in signed_headers(EVENT_BODY, ts).items()},
    ):
        event = connector.verify_webhook(headers, EVENT_BODY)
        assert event.event_id == "0b5e9a0e-1111-4c3e-9d1a-6c2f0f7c1a01"
        assert event.topic == "order.shipped"
        assert event.occurred_at == datetime(2026, 3, 1, 11, 59, 58, tzinfo=UTC)
    assert connector.tracking_from_event(event) == [
        TrackingUpdate(
            reference="so_7_k7",
            external_order_id="SO-7",
            carrier="UPS",
            tracking_number="1Z999",
            tracking_url="https://www.ups.com/track?tracknum=1Z999",
            shipped_at=datetime(2026, 3, 1, 11, 59, 57, tzinfo=UTC),
            items=[SupplierOrderItem("MUG-11", 1)],
        )
    ]


def test_verify_rejects_forged_signature():
    ts = int(NOW.timestamp())
    with pytest.raises(WebhookRejected, match="signature does not match") as info:
        offline_supplier().verify_webhook(signed_headers(EVENT_BODY, ts, secret="wrong"), EVENT_BODY)
    assert info.value.status == 401


def test_verify_rejects_tampered_body():
    ts = int(NOW.timestamp())
    tampered = EVENT_BODY.replace(b"1Z999", b"1Z000")
    with pytest.raises(WebhookRejected, match="signature does not match"):
        offline_supplier().verify_webhook(signed_headers(EVENT_BODY, ts), tampered)


def test_verify_rejects_stale_and_future_timestamps_with_configurable_tolerance():
    stale = int((NOW - timedelta(seconds=301)).timestamp())
    with pytest.raises(WebhookRejected, match="301s from now"):
        offline_supplier().verify_webhook(signed_headers(EVENT_BODY, stale), EVENT_BODY)
    future = int((NOW + timedelta(seconds=301)).timestamp())
    with pytest.raises(WebhookRejected, match="-301s from now"):
        offline_supplier().verify_webhook(signed_headers(EVENT_BODY, future), EVENT_BODY)
    # Exactly at the edge still passes; a wider tolerance accepts the stale one.
    edge = int((NOW - timedelta(seconds=300)).timestamp())
    assert (
        offline_supplier().verify_webhook(signed_headers(EVENT_BODY, edge), EVENT_BODY).topic
        == "order.shipped"
    )
    wide = offline_supplier(webhook_tolerance=600)
    assert wide.verify_webhook(signed_headers(EVENT_BODY, stale), EVENT_BODY).topic == "order.shipped"


def test_verify_rejects_missing_headers_and_non_json():
    ts = int(NOW.timestamp())
    with pytest.raises(WebhookRejected, match="missing X-Signature"):
        offline_supplier().verify_webhook({"X-Timestamp": str(ts)}, EVENT_BODY)
    with pytest.raises(WebhookRejected, match="not unix seconds"):
        offline_supplier().verify_webhook(
            {"X-Timestamp": "yesterday", "X-Signature": "sha256=00"}, EVENT_BODY
        )
    with pytest.raises(WebhookRejected, match="not JSON") as info:
        offline_supplier().verify_webhook(signed_headers(b"{nope", ts), b"{nope")
    assert info.value.status == 400


def test_verify_without_secret_is_a_configuration_error():
    connector = RestSupplier("http://127.0.0.1:9", API_KEY)
    with pytest.raises(ConfigurationError):
        connector.verify_webhook(signed_headers(EVENT_BODY, int(time.time())), EVENT_BODY)


def test_tracking_from_other_event_types_is_empty():
    event = InboundEvent("e1", "order.cancelled", {"order": {"order_id": "SO-1", "shipments": []}})
    assert offline_supplier().tracking_from_event(event) == []


# ---- failures and faults -------------------------------------------------------------------------


def test_hang_after_accept_times_out_then_find_order_finds_it(emulator):
    connector = RestSupplier(emulator.url, API_KEY, timeout=0.3)
    emulator.inject("hang_after_accept", seconds=1.0)

    started = time.monotonic()
    with pytest.raises(RetryableError, match="timed out"):
        connector.place_order(request("so_5_e5"))
    assert time.monotonic() - started < 1.0

    # The outcome was unknown, yet the order landed: look it up instead of placing it again.
    assert connector.find_order("so_5_e5") == PlacedOrder("SO-1", "so_5_e5", "accepted")
    assert len(emulator.orders_with_reference("so_5_e5")) == 1
    # The emulator does not de-duplicate: a blind retry WOULD create a second order.
    assert connector.place_order(request("so_5_e5")).external_id == "SO-2"
    assert [o["order_id"] for o in emulator.orders_with_reference("so_5_e5")] == ["SO-1", "SO-2"]


def test_hang_does_not_block_other_requests(emulator):
    slow = RestSupplier(emulator.url, API_KEY, timeout=5.0)
    fast = RestSupplier(emulator.url, API_KEY, timeout=2.0)
    emulator.inject("hang_after_accept", seconds=1.0)
    thread = threading.Thread(target=slow.place_order, args=(request("so_slow"),))
    thread.start()
    wait_for(lambda: emulator.orders_with_reference("so_slow"))
    started = time.monotonic()
    assert fast.find_order("so_slow") == PlacedOrder("SO-1", "so_slow", "accepted")
    assert time.monotonic() - started < 0.5
    thread.join(5)


def test_timeout_before_accept_leaves_no_order(emulator):
    connector = RestSupplier(emulator.url, API_KEY, timeout=0.3)
    emulator.inject("timeout_before_accept", seconds=1.0)
    with pytest.raises(RetryableError, match="timed out"):
        connector.place_order(request("so_6_f6"))
    assert connector.find_order("so_6_f6") is None
    assert emulator.orders() == []


def test_error_500_is_retryable_and_records_nothing(emulator, supplier):
    emulator.inject("error_500")
    with pytest.raises(RetryableError) as info:
        supplier.place_order(request())
    assert type(info.value) is RetryableError
    assert info.value.status == 500
    assert emulator.orders() == []
    # The fault was consumed: the next call succeeds.
    assert supplier.place_order(request()).external_id == "SO-1"


def test_rate_limit_raises_rate_limited_with_retry_after(emulator, supplier):
    # Queue through the HTTP control endpoint, as the demo does.
    response = httpx.post(
        f"{emulator.url}/_control/faults",
        json={"mode": "rate_limit", "count": 2, "retry_after": 7},
        timeout=5,
    )
    assert response.json() == {"queued": {"orders.create": ["rate_limit", "rate_limit"]}}
    for _ in range(2):
        with pytest.raises(RateLimited) as info:
            supplier.place_order(request())
        assert (info.value.status, info.value.retry_after) == (429, 7.0)
    assert emulator.orders() == []
    assert supplier.place_order(request()).external_id == "SO-1"


def test_reject_fault_is_out_of_stock(emulator, supplier):
    emulator.inject("reject")
    with pytest.raises(OutOfStock, match=r"so_1_a1: MUG-11 is out of stock \(sku MUG-11\)") as info:
        supplier.place_order(request("so_1_a1"))
    assert info.value.status == 409
    assert emulator.orders() == []


def test_stock_limits_orders_and_decrements_on_accept():
    emu = RestSupplierEmulator(API_KEY, ship_after_seconds=None, stock={"MUG-11": 3, "TEE-M": 1})
    with emu:
        connector = RestSupplier(emu.url, API_KEY, timeout=2.0)
        with pytest.raises(OutOfStock, match=r"only 3 of MUG-11 in stock, 4 asked \(sku MUG-11\)"):
            connector.place_order(request("so_1", ("MUG-11", 4)))
        with pytest.raises(OutOfStock, match=r"unknown sku NOPE \(sku NOPE\)"):
            connector.place_order(request("so_1", ("MUG-11", 1), ("NOPE", 1)))
        assert emu.orders() == []
        assert emu.stock() == {"MUG-11": 3, "TEE-M": 1}

        assert connector.place_order(request("so_1", ("MUG-11", 2), ("TEE-M", 1))).external_id == "SO-1"
        assert emu.stock() == {"MUG-11": 1, "TEE-M": 0}
        with pytest.raises(OutOfStock, match=r"\(sku TEE-M\)"):
            connector.place_order(request("so_2", ("TEE-M", 1)))

        # Cancelling returns the stock.
        assert connector.cancel_order("SO-1") == PlacedOrder("SO-1", "so_1", "cancelled")
        assert emu.stock() == {"MUG-11": 3, "TEE-M": 1}


def test_cancel_after_shipping_is_refused(emulator, supplier):
    supplier.place_order(request("so_1_a1"))
    emulator.ship("SO-1")
    with pytest.raises(PermanentError) as info:
        supplier.cancel_order("SO-1")
    assert info.value.status == 409
    assert emulator.order("SO-1")["status"] == "shipped"


def test_wrong_api_key_is_auth_expired(emulator):
    connector = RestSupplier(emulator.url, "sk_wrong", timeout=2.0)
    with pytest.raises(AuthExpired) as info:
        connector.place_order(request())
    assert info.value.status == 401
    with pytest.raises(AuthExpired):
        connector.find_order("so_1_a1")
    assert emulator.orders() == []
    raw = httpx.get(f"{emulator.url}/orders", timeout=5)
    assert raw.status_code == 401
    assert raw.json()["error"]["code"] == "unauthorized"


def test_invalid_body_is_permanent_with_field(emulator, supplier):
    with pytest.raises(PermanentError) as info:
        supplier.place_order(request("r" * 65))
    assert info.value.status == 422
    assert '"field":"reference"' in str(info.value)
    raw = httpx.post(
        f"{emulator.url}/orders",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"reference": "x", "ship_to": SHIP_TO_JSON, "items": [{"supplier_sku": "A", "quantity": 0}]},
        timeout=5,
    )
    assert (raw.status_code, raw.json()["error"]["field"]) == (422, "items[0].quantity")
    assert emulator.orders() == []


def test_fetch_tracking_of_unknown_order_is_permanent(supplier):
    with pytest.raises(PermanentError) as info:
        supplier.fetch_tracking("SO-404", "so_x")
    assert info.value.status == 404


def test_dedupe_references_returns_existing_order():
    emu = RestSupplierEmulator(API_KEY, ship_after_seconds=None, dedupe_references=True)
    with emu:
        connector = RestSupplier(emu.url, API_KEY, timeout=2.0)
        first = connector.place_order(request("so_1_a1"))
        second = connector.place_order(request("so_1_a1"))
        assert first == second == PlacedOrder("SO-1", "so_1_a1", "accepted")
        assert len(emu.orders()) == 1


def test_control_reset_clears_orders_and_faults(emulator, supplier):
    supplier.place_order(request())
    emulator.inject("error_500")
    assert httpx.post(f"{emulator.url}/_control/reset", timeout=5).json() == {"reset": True}
    assert httpx.get(f"{emulator.url}/_control/orders", timeout=5).json() == {"orders": []}
    assert supplier.place_order(request()).external_id == "SO-1"


def test_from_config(emulator):
    connector = from_config(emulator.url, {"api_key": API_KEY, "webhook_secret": SECRET}, {"timeout": 3})
    assert connector.webhook_secret == SECRET
    assert connector.place_order(request()).external_id == "SO-1"
    with pytest.raises(ConfigurationError):
        from_config(emulator.url, {}, {})


def test_stop_releases_the_port():
    emu = RestSupplierEmulator(API_KEY)
    server = emu.start()
    port = server.port
    emu.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
