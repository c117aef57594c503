"""CJ signs nothing: the callback URL we gave it carries a secret, checked in constant time; messages become
facts after the order is read back (as CJ advises), since their own fields are not documented."""

from __future__ import annotations

import json

import pytest

from dropbridge.domain.errors import WebhookRejected
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    REQUEST_QUERY,
    CostReported,
    InboundEvent,
    OffersReported,
    OrderAcknowledged,
    OrderFailed,
    ShipmentReported,
    Unrecognised,
)

from .conftest import envelope, fixture

ORDER = json.dumps(fixture("webhook_order.json")).encode()


def test_the_secret_in_the_callback_url_admits_a_message(make):
    supplier = make(webhook_secret="s3cret")
    event = supplier.verify_webhook({REQUEST_QUERY: "token=s3cret", "content-type": "application/json"}, ORDER)
    assert event == InboundEvent(event_id="5b1f0a9e3c2d4e6f8a7b9c0d1e2f3a4b", topic="ORDER.UPDATE",
                                 payload=fixture("webhook_order.json"))
    assert make(config={"webhook_param": "k"}).verify_webhook({REQUEST_QUERY: "a=1&k=s3cret"}, ORDER).event_id


@pytest.mark.parametrize(("headers", "status"), [
    ({REQUEST_QUERY: "token=wrong"}, 401),
    ({REQUEST_QUERY: "token=s3cre"}, 401),
    ({REQUEST_QUERY: ""}, 401),
    ({}, 401),
    ({"token": "s3cret"}, 401),  # a header of that name is not the URL
    ({"x-query": "token=s3cret"}, 401),
])
def test_anything_else_is_refused(make, headers, status):
    with pytest.raises(WebhookRejected) as info:
        make(webhook_secret="s3cret").verify_webhook(headers, ORDER)
    assert info.value.status == status


def test_a_connection_without_a_webhook_secret_takes_no_messages(make):
    with pytest.raises(WebhookRejected, match="no webhook_secret"):
        make(webhook_secret=None).verify_webhook({REQUEST_QUERY: "token="}, ORDER)


@pytest.mark.parametrize("body", [b"not json", b"[]", json.dumps({"type": "ORDER"}).encode()])
def test_a_body_that_is_no_cj_message_is_refused(make, body):
    with pytest.raises(WebhookRejected) as info:
        make().verify_webhook({REQUEST_QUERY: "token=s3cret"}, body)
    assert info.value.status == 400


def _event(payload: dict) -> InboundEvent:
    return InboundEvent(event_id=payload["messageId"], topic=payload["type"], payload=payload)


def test_an_order_message_is_confirmed_by_reading_the_order_back(cj, make):
    cj.on("GET", "/shopping/order/getOrderDetail", fixture("order_detail.json"))
    facts = make().facts_from_event(_event(fixture("webhook_order.json")))
    assert [type(f) for f in facts] == [OrderAcknowledged, CostReported, ShipmentReported]
    assert facts[0].reference == "db-17-3-1" and facts[0].external_id == "SD2507100000123"
    assert (facts[1].cost, facts[1].shipping_cost) == (Money(620, "USD"), Money(550, "USD"))
    assert facts[2].update.tracking_number == "CJPKL7160102171YQ"
    assert cj.requests[-1].url.params["orderId"] == "SD2507100000123"


def test_a_cancelled_order_fails_and_an_unpaid_one_is_not_acknowledged(cj, make):
    detail = fixture("order_detail.json")
    detail["data"].update(orderStatus="CANCELLED", trackNumber=None)
    cj.on("GET", "/shopping/order/getOrderDetail", detail)
    (failed,) = make().facts_from_event(_event(fixture("webhook_order.json")))
    assert isinstance(failed, OrderFailed) and failed.reference == "db-17-3-1"
    detail["data"].update(orderStatus="UNPAID")
    facts = make().facts_from_event(_event(fixture("webhook_order.json")))
    assert [type(f) for f in facts] == [CostReported]


def test_other_messages(cj, make):
    supplier = make()
    assert supplier.facts_from_event(_event(fixture("webhook_product.json"))) == []
    unknown = supplier.facts_from_event(_event({"messageId": "m", "type": "DISPUTE", "params": {}}))
    assert [type(f) for f in unknown] == [Unrecognised]
    no_id = supplier.facts_from_event(_event({"messageId": "m", "type": "ORDER", "params": {"fields": []}}))
    assert [type(f) for f in no_id] == [Unrecognised]
    cj.on("GET", "/shopping/order/getOrderDetail", envelope(None))
    (gone,) = supplier.facts_from_event(_event(fixture("webhook_order.json")))
    assert isinstance(gone, Unrecognised) and "no order" in gone.reason


def test_a_stock_message_reports_that_variants_offer(cj, make):
    variant = fixture("product_query.json")["data"]["variants"][0]
    cj.on("GET", "/product/variant/queryByVid", envelope(variant))
    cj.on("GET", "/product/stock/queryByVid", envelope(fixture("stock_by_pid.json")["data"][:2]))
    message = {"messageId": "m1", "type": "STOCK", "messageType": "UPDATE", "params": {"vid": variant["vid"]}}
    (fact,) = make().facts_from_event(_event(message))
    assert isinstance(fact, OffersReported) and not fact.full
    (row,) = fact.rows
    assert (row.supplier_sku, row.stock, row.cost, row.catalog) == ("CJNSSYTZ00854-Black-M", 25, Money(310, "USD"),
                                                                     None)
