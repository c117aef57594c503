"""Order intake's one-transaction write on real SQLite and PostgreSQL: every row it owes, in order, once."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from dropbridge.domain.errors import Conflict, NotFound, ValidationError
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import IntakeRequest, ingest_order, ingest_orders
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.sync_feed import sync_feed


@pytest.fixture
def shop(app):
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9", {"webhook_secret": "s"},
              {"payment_fee_percent": "2.9", "payment_fee_fixed": "0.30"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nTEE,10,8.50\n"), "acme.csv")
    enqueued = []
    app.ctx.enqueue = lambda job_id, delay=0: enqueued.append(job_id)
    app.ctx.enqueue_many = None  # one by one, through the list above
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


# Group commit: many requests in one transaction, each answered as `ingest_order` would answer it alone.

def test_a_batch_stores_every_new_order_with_all_it_owes(shop):
    app, enqueued = shop
    requests = [IntakeRequest("shop", order(f"B-{n}"), f"bk-{n}", f"h{n}", "api", f"corr-{n}") for n in range(3)]
    results = ingest_orders(app.ctx, requests)
    assert [(r.created, r.response["external_id"]) for r in results] == [(True, "B-0"), (True, "B-1"), (True, "B-2")]
    with app.ctx.uow(read_only=True) as uow:
        store_id = uow.stores.by_name("shop").id
        events = {e.subject: e for e in uow.audit.recent() if e.action == "order.received"}
        jobs = []
        for n, result in enumerate(results):
            o = uow.orders.by_idempotency_key(store_id, f"bk-{n}")
            assert (o.id, o.external_id, o.request_hash) == (result.order_id, f"B-{n}", f"h{n}")
            assert result.response["links"] == {"self": f"/api/v1/orders/{o.id}"}
            assert [(ln.line_no, ln.sku, ln.variant_id is not None) for ln in o.lines] == [
                (1, "TEE", True), (2, "NOPE", False)]
            line_ids = {ln.id: ln.line_no for ln in o.lines}
            assert [(e.kind, e.amount_minor, line_ids.get(e.order_line_id)) for e in uow.ledger.for_order(o.id)] == [
                ("revenue", 4800, 1), ("revenue", 500, 2), ("shipping_revenue", 400, None), ("payment_fee", -195, None)]
            job = uow.jobs.by_key(f"route:{o.id}")
            assert (job.kind, job.payload, job.status) == ("route_order", {"order_id": o.id}, "pending")
            jobs.append(job.id)
            event = events[f"order:{o.id}"]
            assert (event.detail, event.correlation_id, event.store_id) == (
                {"external_id": f"B-{n}", "source": "api", "lines": 2}, f"corr-{n}", store_id)
            # Times and documents read back as the one-by-one path stores them.
            assert o.ship_to == {"name": "J", "address1": "1 Main", "address2": "", "city": "X", "province_code": "",
                                 "postal_code": "", "country_code": "US", "company": "", "phone": ""}
            assert (o.flags, o.fx, o.status, o.email) == ({}, {}, "accepted", "a@example.com")
            for at in (event.at, job.available_at, datetime.now(UTC)):
                assert abs(o.created_at - at) < timedelta(minutes=1)
    assert sorted(enqueued) == sorted(jobs)
    replay = ingest_order(app.ctx, "shop", order("B-1"), idempotency_key="bk-1", request_hash="h1")
    assert (replay.created, replay.response) == (False, results[1].response)
    with app.ctx.uow(read_only=True) as uow:  # due now: a worker can claim it
        assert len(uow.jobs.due(datetime.now(UTC) + timedelta(seconds=1))) == 3


def test_a_batch_answers_replays_duplicates_and_bad_requests_one_by_one(shop):
    app, enqueued = shop
    stored = ingest_order(app.ctx, "shop", order("S-1"), idempotency_key="sk", request_hash="hs")
    wrong_currency = order("B-3")
    wrong_currency.lines[1] = ExternalOrderLine("L2", "NOPE", 1, Money(500, "EUR"))
    results = ingest_orders(app.ctx, [
        IntakeRequest("shop", order("B-1"), "k1", "h1"),
        IntakeRequest("shop", order("B-1"), "k1", "h1"),  # the same request twice in one batch
        IntakeRequest("shop", order("S-1"), "sk", "hs"),  # a replay of a stored order
        IntakeRequest("shop", order("B-2"), "sk", "other"),  # a key reused with another body
        IntakeRequest("shop", wrong_currency, "k3", "h3"),
        IntakeRequest("nowhere", order("B-4"), "k4", "h4"),
        IntakeRequest("shop", order("B-5", lines=()), "k5", "h5"),
        IntakeRequest("shop", order("B-6"), "k6", "h6"),
    ])
    first = results[0]
    assert first.created and results[7].created
    assert (results[1].created, results[1].response) == (False, first.response)
    assert (results[2].created, results[2].response) == (False, stored.response)
    assert [type(r) for r in results[3:7]] == [Conflict, ValidationError, NotFound, ValidationError]
    with app.ctx.uow(read_only=True) as uow:
        assert sorted(o.external_id for o in uow.orders.recent()) == ["B-1", "B-6", "S-1"]
        assert uow.jobs.counts() == {"pending": 3}
    assert len(enqueued) == 3


def test_a_failed_batch_is_taken_one_by_one(shop, monkeypatch):
    """A batch whose transaction fails (a deadlock, a row the database refuses) loses nobody: each request
    is retried alone, and the ones that can be stored are."""
    from sqlalchemy.exc import OperationalError

    from dropbridge.storage.intake import OrderIntakeRepo

    app, enqueued = shop

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT ...", {}, Exception("deadlock detected"))

    monkeypatch.setattr(OrderIntakeRepo, "add_new_orders", refuse)
    results = ingest_orders(app.ctx, [IntakeRequest("shop", order(f"F-{n}"), f"fk-{n}", "h") for n in range(3)])
    assert [r.created for r in results] == [True, True, True]
    with app.ctx.uow(read_only=True) as uow:
        assert len(uow.orders.recent()) == 3 and uow.jobs.counts() == {"pending": 3}
    assert len(enqueued) == 3


def test_a_client_gone_before_its_body_arrived_is_let_go_quietly(shop):
    """The client hung up while the body was still on its way: nothing to read, store or answer (499, as
    nginx logs it), and no stack trace for an everyday event."""
    import asyncio

    from dropbridge.api.app import create_app
    from dropbridge.services.tokens import create_token

    app, enqueued = shop
    api = create_app(app)
    token = create_token(app.ctx, "t")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/v1/orders", "raw_path": b"/api/v1/orders", "root_path": "", "query_string": b"",
             "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json"),
                         (b"content-length", b"500")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    incoming = [{"type": "http.request", "body": b'{"store": "shop", ', "more_body": True}, {"type": "http.disconnect"}]
    sent = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(api(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
    with app.ctx.uow(read_only=True) as uow:
        assert uow.orders.recent() == []
    assert enqueued == []
