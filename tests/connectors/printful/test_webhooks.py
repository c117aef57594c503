"""Printful v2 webhooks through the connector: signatures checked as Printful signs (hex HMAC-SHA256 of the raw
body), a stable event id across retries, and the published event samples parsed into facts (the order reads
they need answered by httpx.MockTransport with the published response samples)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest

from dropbridge.connectors.suppliers.printful import Printful
from dropbridge.domain.errors import ValidationError, WebhookRejected
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    CostReported,
    InboundEvent,
    OffersReported,
    OrderAcknowledged,
    OrderFailed,
    ShipmentReported,
    Unrecognised,
)

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "a01376f30766acf7f706cc84beb57b79f9779e4a3e79d5519b3a9069c2156807"  # hex, as Printful's secret_key


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def signed(payload: dict, key: bytes | None = None) -> tuple[dict, bytes]:
    raw = json.dumps(payload).encode()
    mac = hmac.new(key if key is not None else bytes.fromhex(SECRET), raw, hashlib.sha256).hexdigest()
    return {"X-PF-Webhook-Signature": mac, "X-PF-Webhook-Public-Key": "SbF/9d/uWguI",
            "Content-Type": "application/json"}, raw


class Api:
    """Printful's API as MockTransport: the published samples, and a log of the calls."""

    def __init__(self):
        self.calls: list[str] = []
        self.v1_order = fixture("v1_order.json")
        self.v2_order = fixture("v2_order.json")
        self.prices = copy.deepcopy(fixture("v2_catalog_prices.json"))
        self.prices["data"]["variants"][0]["id"] = 4011

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        path = request.url.path
        if path.startswith("/orders/"):
            return httpx.Response(200, json=self.v1_order)
        if path.startswith("/v2/orders/"):
            return httpx.Response(200, json=self.v2_order)
        if path.endswith("/prices"):
            return httpx.Response(200, json=self.prices)
        return httpx.Response(404, json={"code": 404, "result": "Not Found",
                                         "error": {"reason": "NotFound", "message": "Not Found"}})


@pytest.fixture
def api():
    return Api()


def connector(api, **config) -> Printful:
    return Printful("https://api.printful.com", "token", webhook_secret=SECRET, transport=httpx.MockTransport(api),
                    config={"catalog_products": [71], **config})


def event(payload: dict) -> InboundEvent:
    return connector(Api()).verify_webhook(*signed(payload))


def test_a_signed_event_is_accepted_with_an_id_that_survives_retries(api):
    payload = fixture("v2_webhook_shipment_sent.json")
    first = connector(api).verify_webhook(*signed(payload))
    again = connector(api).verify_webhook(*signed({**payload, "retries": 3}))
    assert first.topic == "shipment_sent" and first.event_id == again.event_id
    assert first.event_id.startswith("shipment_sent:")
    other = connector(api).verify_webhook(*signed({**payload, "occurred_at": "2023-04-05T06:07:09Z"}))
    assert other.event_id != first.event_id


@pytest.mark.parametrize("damage, why", [
    (lambda h, raw: (h, raw + b" "), "signature does not match"),
    (lambda h, raw: ({k: v for k, v in h.items() if k != "X-PF-Webhook-Signature"}, raw),
     "missing x-pf-webhook-signature"),
    (lambda h, raw: ({**h, "X-PF-Webhook-Signature": "00" * 32}, raw), "signature does not match"),
])
def test_a_tampered_or_unsigned_event_is_refused(api, damage, why):
    headers, raw = damage(*signed(fixture("v2_webhook_order_failed.json")))
    with pytest.raises(WebhookRejected, match=why):
        connector(api).verify_webhook(headers, raw)


def test_the_public_key_must_name_our_configuration(api):
    headers, raw = signed(fixture("v2_webhook_order_failed.json"))
    assert connector(api, webhook_public_key="SbF/9d/uWguI").verify_webhook(headers, raw).topic == "order_failed"
    with pytest.raises(WebhookRejected, match="public key"):
        connector(api, webhook_public_key="other").verify_webhook(headers, raw)


def test_a_secret_used_as_typed_is_accepted_unless_hex_is_required(api):
    headers, raw = signed(fixture("v2_webhook_order_failed.json"), key=SECRET.encode())
    assert connector(api).verify_webhook(headers, raw).topic == "order_failed"
    with pytest.raises(WebhookRejected, match="signature does not match"):
        connector(api, webhook_key_encoding="hex").verify_webhook(headers, raw)


def test_shipment_sent_reads_the_order_for_carrier_url_and_items(api):
    payload = copy.deepcopy(fixture("v2_webhook_shipment_sent.json"))
    payload["data"]["order"].update(id=13, external_id="db-5-2-1")
    payload["data"]["shipment"]["tracking_number"] = "9400111"
    facts = connector(api).facts_from_event(event(payload))
    assert api.calls == ["GET /orders/13"]  # v1: its shipments carry tracking numbers
    assert [type(f) for f in facts] == [ShipmentReported, ShipmentReported]
    from_order, from_event = (f.update for f in facts)
    assert (from_order.reference, from_order.carrier, from_order.tracking_number) == ("db-5-2-1", "FEDEX", "0")
    assert (from_event.reference, from_event.tracking_number, from_event.carrier) == ("db-5-2-1", "9400111", "")


def test_order_events_become_failures_acknowledgements_and_costs(api):
    failed = copy.deepcopy(fixture("v2_webhook_order_failed.json"))
    failed["data"]["order"].update(id=123, external_id="db-5-2-1")
    failed["data"]["reason"] = "Invalid address"
    assert connector(api).facts_from_event(event(failed)) == [
        OrderFailed("db-5-2-1", "failed at Printful: Invalid address", external_id="123")]
    canceled = copy.deepcopy(fixture("v2_webhook_order_canceled.json"))
    canceled["data"]["order"].update(id=123, external_id="db-5-2-1")
    assert connector(api).facts_from_event(event(canceled))[0].reason == "canceled at Printful: no reason given"
    updated = copy.deepcopy(fixture("v2_webhook_order_updated.json"))
    updated["data"]["order"].update(id=123, external_id="db-5-2-1")
    api.v2_order["data"]["status"] = "pending"
    assert connector(api).facts_from_event(event(updated)) == [
        OrderAcknowledged("db-5-2-1", external_id="123"),
        CostReported("db-5-2-1", Money(2171, "USD"), Money(479, "USD"), external_id="123")]
    assert api.calls == ["GET /v2/orders/123"]


def test_events_about_orders_we_did_not_place_change_nothing(api):
    payload = fixture("v2_webhook_order_failed.json")  # the sample's order has an empty external id
    assert connector(api).facts_from_event(event(payload)) == []
    assert api.calls == []


def test_stock_updates_become_offers_for_the_catalog_products_we_sell(api):
    payload = fixture("v2_webhook_catalog_stock_updated.json")
    (fact,) = connector(api).facts_from_event(event(payload))
    assert isinstance(fact, OffersReported) and not fact.full
    assert [(r.supplier_sku, r.stock, r.cost) for r in fact.rows] == [("PF-4011", 1000, Money(850, "EUR"))]
    assert connector(api, catalog_products=[19]).facts_from_event(event(payload)) == []


def test_unknown_or_shapeless_events(api):
    odd = {"type": "order_exploded", "occurred_at": "2023-04-05T06:07:08Z", "retries": 0, "store_id": 12,
           "data": {"order": {"id": 1, "external_id": "db-1-1-1"}}}
    (fact,) = connector(api).facts_from_event(event(odd))
    assert isinstance(fact, Unrecognised) and "order_exploded" in fact.reason
    with pytest.raises(ValidationError):
        connector(api).facts_from_event(event({**odd, "type": "order_failed", "data": None}))
    ignored = {**odd, "type": "order_remove_hold"}
    assert connector(api).facts_from_event(event(ignored)) == []
