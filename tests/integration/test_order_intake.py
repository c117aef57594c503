"""Order intake's one-transaction write on real SQLite and PostgreSQL: every row it owes, in order, once."""

from __future__ import annotations

import io

import pytest

from dropbridge.connectors.base import Address, ExternalOrder, ExternalOrderLine
from dropbridge.domain.errors import Conflict, NotFound, ValidationError
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.sync_feed import sync_feed


@pytest.fixture
def shop(app):
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9", {"webhook_secret": "s"},
              {"payment_fee_percent": "2.9", "payment_fee_fixed": "0.30"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nTEE,10,8.50\n"), "acme.csv")
    enqueued = []
    app.ctx.enqueue = lambda job_id, delay=0: enqueued.append(job_id)
    return app, enqueued


def order(external_id="1001", lines=(("TEE", 2, 2400), ("NOPE", 1, 500)), shipping=400, currency="USD"):
    return ExternalOrder(external_id=external_id, currency=currency, email="a@example.com",
                         ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"),
                         shipping_price=Money(shipping, "USD"),
                         lines=[ExternalOrderLine(f"L{i}", sku, q, Money(p, "USD")) for i, (sku, q, p) in
                                enumerate(lines, start=1)])


def test_new_order_stores_lines_ledger_job_and_audit_in_one_go(shop):
    app, enqueued = shop
    result = ingest_order(app.ctx, "shop", order(), idempotency_key="k-1", request_hash="h1")
    assert result.created
    assert result.response == {"id": result.order_id, "store": "shop", "external_id": "1001", "currency": "USD",
                               "status": "accepted",
                               "lines": [{"line_no": 1, "sku": "TEE", "quantity": 2},
                                         {"line_no": 2, "sku": "NOPE", "quantity": 1}],
                               "links": {"self": f"/api/v1/orders/{result.order_id}"}}
    with app.ctx.uow(read_only=True) as uow:
        o = uow.orders.by_idempotency_key(o_store := uow.stores.by_name("shop").id, "k-1")
        assert (o.id, o.status, o.shipping_price_minor, o.ship_to["city"]) == (result.order_id, "accepted", 400, "X")
        assert [(ln.line_no, ln.external_id, ln.sku, ln.variant_id is not None, ln.quantity, ln.unit_price_minor,
                 ln.status) for ln in o.lines] == [(1, "L1", "TEE", True, 2, 2400, "pending"),
                                                   (2, "L2", "NOPE", False, 1, 500, "pending")]
        entries = uow.ledger.for_order(o.id)
        line_ids = {ln.id: ln.line_no for ln in o.lines}
        # revenue 48.00 + 5.00 + shipping 4.00 = 57.00; fee 2.9% (1.65) + 0.30
        assert [(e.kind, e.amount_minor, line_ids.get(e.order_line_id), e.store_id, e.memo) for e in entries] == [
            ("revenue", 4800, 1, o_store, "2 x TEE"), ("revenue", 500, 2, o_store, "1 x NOPE"),
            ("shipping_revenue", 400, None, o_store, "shipping charged to the customer"),
            ("payment_fee", -195, None, o_store, "2.9% + 0.30 USD")]
        job = uow.jobs.by_key(f"route:{o.id}")
        assert (job.kind, job.payload, job.status, job.attempts) == ("route_order", {"order_id": o.id}, "pending", 0)
        events = [e for e in uow.audit.recent() if e.action == "order.received"]
        assert [(e.subject, e.detail, e.store_id) for e in events] == [
            (f"order:{o.id}", {"external_id": "1001", "source": "api", "lines": 2}, o_store)]
    assert enqueued == [job.id]


def test_replays_answer_with_the_stored_order_and_write_nothing(shop):
    app, enqueued = shop
    first = ingest_order(app.ctx, "shop", order(), idempotency_key="k-1", request_hash="h1")
    again = ingest_order(app.ctx, "shop", order(), idempotency_key="k-1", request_hash="h1")
    by_external_id = ingest_order(app.ctx, "shop", order(), idempotency_key="k-2", request_hash="h2")
    webhook = ingest_order(app.ctx, "shop", order(), source="webhook:orders/create")
    assert [r.created for r in (first, again, by_external_id, webhook)] == [True, False, False, False]
    assert again.response == by_external_id.response == webhook.response == first.response
    with pytest.raises(Conflict, match="different request body"):
        ingest_order(app.ctx, "shop", order("1002"), idempotency_key="k-1", request_hash="other")
    with app.ctx.uow(read_only=True) as uow:
        assert len(uow.orders.recent()) == 1
        assert len(uow.ledger.for_order(first.order_id)) == 4
        assert uow.jobs.counts() == {"pending": 1}
    assert len(enqueued) == 1


def test_a_line_in_another_currency_stores_nothing(shop):
    app, enqueued = shop
    bad = order("2001")
    bad.lines[1] = ExternalOrderLine("L2", "NOPE", 1, Money(500, "EUR"))
    with pytest.raises(ValidationError):
        ingest_order(app.ctx, "shop", bad)
    with app.ctx.uow(read_only=True) as uow:
        assert uow.orders.recent() == [] and uow.jobs.counts() == {}
    assert enqueued == []


def test_an_unknown_store_is_not_found_and_stores_nothing(shop):
    app, enqueued = shop
    with pytest.raises(NotFound):
        ingest_order(app.ctx, "no-such-shop", order())
    with app.ctx.uow(read_only=True) as uow:
        assert uow.orders.recent() == [] and uow.jobs.counts() == {}
    assert enqueued == []
