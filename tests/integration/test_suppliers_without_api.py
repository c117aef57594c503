"""Suppliers without an API through the services, on SQLite and PostgreSQL, against real SMTP and IMAP (the
mail emulator): a PO the server refused is sent again without asking; one whose answer never came waits for
the merchant, until the supplier's tracking shows it arrived; unconfirmed and unplaced POs raise one alert
each; tracking posted over HTTP is checked before anything is stored."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
import pytest

from dropbridge.domain.errors import NotSent, RetryableError
from dropbridge.domain.model import Shipment, SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.jobs.runner import run_job
from dropbridge.sandbox.mail import MailEmulator
from dropbridge.services.alert_checks import check_supplier_orders
from dropbridge.services.collect_documents import collect_documents
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_view import list_alerts
from dropbridge.services.place_supplier_order import place_supplier_order
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.route_order import route_order
from dropbridge.services.sync_feed import sync_feed
from dropbridge.services.tokens import create_token
from tests.e2e.helpers import running


@pytest.fixture
def mail():
    emu = MailEmulator(confirm_after=None, ship_after=None)
    emu.start()
    yield emu
    emu.stop()


def _setup(app, kind: str, conn: dict | None = None, **config):
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"})
    conn = conn or {"base_url": "", "credentials": {}, "config": {}}
    add_supplier(app.ctx, "sup", kind, conn["base_url"], conn["credentials"], {**conn["config"], **config})
    sync_feed(app.ctx, "sup", io.BytesIO(b"sku,qty,cost\nTEE,10,8.50\nMUG,10,3.00\n"), "sup.csv")


def _order(app, external_id: str, lines=(("TEE", 2),)) -> SupplierOrder:
    result = ingest_order(app.ctx, "shop", ExternalOrder(
        external_id=external_id, currency="USD", ship_to=Address(name="J", address1="1 Main", city="X",
                                                                  country_code="US"),
        lines=[ExternalOrderLine(str(i), sku, qty, Money(2400, "USD")) for i, (sku, qty) in enumerate(lines, 1)]))
    route_order(app.ctx, result.order_id)
    with app.ctx.uow(read_only=True) as uow:
        (so,) = uow.supplier_orders.for_order(result.order_id)
        return so


def _drain(app) -> None:
    for _ in range(10):
        with app.ctx.uow(read_only=True) as uow:
            ids = uow.jobs.due(app.ctx.clock())
        if not ids:
            return
        for job_id in ids:
            run_job(app.ctx, job_id)


def _get(app, so_id: int) -> SupplierOrder:
    with app.ctx.uow(read_only=True) as uow:
        return uow.get(SupplierOrder, so_id)


def test_a_po_the_server_refused_is_sent_again_without_asking(app, mail):
    _setup(app, "email_po", mail.connection())
    so = _order(app, "A-1")
    mail.faults.inject("error_500")  # 451 at the end of data: the server did not take it
    with pytest.raises(NotSent):
        place_supplier_order(app.ctx, so.id, attempt=1)
    assert place_supplier_order(app.ctx, so.id, attempt=2) == "submitted"
    assert [po["reference"] for po in mail.purchase_orders()] == [so.idempotency_key]
    assert (_get(app, so.id).status, _get(app, so.id).placement) == ("submitted", "awaiting_ack")


def test_a_po_whose_answer_never_came_waits_for_the_merchant_until_its_tracking_arrives(app, mail):
    _setup(app, "email_po", mail.connection())
    so = _order(app, "B-1")
    mail.faults.inject("drop_after_data")
    with pytest.raises(RetryableError) as info:
        place_supplier_order(app.ctx, so.id, attempt=1)
    assert not isinstance(info.value, NotSent)
    assert place_supplier_order(app.ctx, so.id, attempt=2).startswith("cannot know")
    assert _get(app, so.id).status == "failed" and len(mail.messages()) == 1  # not sent again on our own
    assert [a["kind"] for a in list_alerts(app.ctx, 10)].count("supplier_order.unknown_outcome") == 1
    mail.supplier.ship(so.idempotency_key)  # it did arrive: the supplier replies with tracking
    assert collect_documents(app.ctx) == {"sup": "1 stored, 0 already had"}
    _drain(app)
    assert _get(app, so.id).status == "shipped"
    with app.ctx.uow(read_only=True) as uow:
        assert [s.tracking_number for s in uow.shipments.for_order(so.order_id)] == \
            mail.supplier.orders[so.idempotency_key].tracking
    assert collect_documents(app.ctx) == {"sup": "0 stored, 0 already had"}
    assert len(mail.messages()) == 1


def test_unconfirmed_and_unplaced_pos_raise_one_alert_each(app, mail):
    _setup(app, "email_po", mail.connection(), ack_hours=2)
    emailed = _order(app, "C-1")
    assert place_supplier_order(app.ctx, emailed.id) == "submitted"
    now = app.ctx.clock()
    app.ctx.clock = lambda: now + timedelta(hours=1)
    check_supplier_orders(app.ctx)
    assert not [a for a in list_alerts(app.ctx, 10) if a["kind"] == "supplier_order.not_acknowledged"]
    app.ctx.clock = lambda: now + timedelta(hours=3)
    check_supplier_orders(app.ctx)
    check_supplier_orders(app.ctx)  # the same condition: one alert
    (alert,) = [a for a in list_alerts(app.ctx, 10) if a["kind"] == "supplier_order.not_acknowledged"]
    assert emailed.idempotency_key in alert["message"] and "within 2 h" in alert["message"]


def test_a_manual_po_waits_for_a_person_and_says_so_once_it_is_late(app):
    _setup(app, "manual", po_overdue_hours=4)
    so = _order(app, "D-1")
    assert place_supplier_order(app.ctx, so.id) == "submitted"
    assert (_get(app, so.id).placement, _get(app, so.id).external_id) == ("awaiting_person", None)
    now = app.ctx.clock()
    app.ctx.clock = lambda: now + timedelta(hours=3)
    check_supplier_orders(app.ctx)
    assert not any(a["kind"] == "purchase_order.overdue" for a in list_alerts(app.ctx, 10))
    app.ctx.clock = lambda: now + timedelta(hours=5)
    check_supplier_orders(app.ctx)
    check_supplier_orders(app.ctx)
    assert [a["kind"] for a in list_alerts(app.ctx, 10)].count("purchase_order.overdue") == 1


def test_tracking_posted_over_http_is_checked_before_anything_is_stored(app):
    _setup(app, "manual")
    so = _order(app, "E-1", lines=(("TEE", 2), ("MUG", 1)))
    place_supplier_order(app.ctx, so.id)
    token = create_token(app.ctx, "t")
    with running(app) as api, httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}) as http:
        body = {"supplier": "sup", "reference": so.idempotency_key, "carrier": "USPS",
                "tracking_number": "9400111899223197428490", "lines": [{"sku": "TEE", "quantity": 2}]}
        assert http.post("/api/v1/shipments", json={**body, "reference": None}).status_code == 422
        missing = http.post("/api/v1/shipments", json={**body, "reference": "db-999-9-9"})
        assert missing.status_code == 404 and "no supplier order 'db-999-9-9'" in missing.json()["detail"]
        wrong = http.post("/api/v1/shipments", json={**body, "lines": [{"sku": "CAP", "quantity": 1}]})
        assert wrong.status_code == 422 and "'CAP' is not on" in wrong.text
        too_many = http.post("/api/v1/shipments", json={**body, "lines": [{"sku": "TEE", "quantity": 3}]})
        assert too_many.status_code == 422
        assert http.post("/api/v1/shipments", json=body, headers={}).status_code in (201,)
        with app.ctx.uow(read_only=True) as uow:
            assert len(uow.shipments.for_order(so.order_id)) == 1  # only the good one
        again = http.post("/api/v1/shipments", json=body)
        assert again.status_code == 200 and again.json()["status"] == "already recorded"
        assert http.post("/api/v1/shipments", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert _get(app, so.id).status == "partially_shipped"
    with app.ctx.uow(read_only=True) as uow:
        (shipment,) = uow.shipments.for_order(so.order_id)
        assert isinstance(shipment, Shipment) and shipment.carrier == "USPS"
