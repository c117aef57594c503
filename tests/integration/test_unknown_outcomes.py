"""A supplier that cannot be asked whether an order landed (CANNOT_KNOW), on SQLite and PostgreSQL: a send it
refused before acting (throttled, credentials refused, never sent) does not need the merchant; a resend the
merchant allowed is used once, even if that send dies; a supplier that says "already placed" without saying
which order stops everything but a person. Then the payment check, and credentials a connector renewed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dropbridge.connectors.config import SupplierConfig
from dropbridge.connectors.registry import ConnectorSpec, Registry
from dropbridge.domain.errors import AlreadyPlaced, NotSent, RateLimited, RetryableError
from dropbridge.domain.model import SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_actions import retry_order
from dropbridge.services.order_view import list_alerts, list_audit
from dropbridge.services.place_supplier_order import place_supplier_order
from dropbridge.services.ports import (
    CANNOT_KNOW,
    Address,
    Capability,
    ExternalOrder,
    ExternalOrderLine,
    PlacedOrder,
    Placement,
)
from dropbridge.services.route_order import route_order
from dropbridge.services.unpaid_orders import alert_unpaid_supplier_orders
from tests.integration.test_supplier_capabilities import _feed


class Desk:
    """An order desk that cannot be asked; `script` says what each send does (an exception, or placed)."""

    def __init__(self):
        self.sent: list[str] = []
        self.script: list[Exception | None] = []
        self.placement = Placement.AWAITING_PAYMENT
        self.lookup = CANNOT_KNOW

    def place_order(self, request):
        self.sent.append(request.reference)
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step
        return PlacedOrder(external_id=f"AE-{len(self.sent)}", reference=request.reference, status="created",
                           placement=self.placement)

    def find_order(self, reference):
        return self.lookup


@pytest.fixture
def desk(app):
    supplier = Desk()
    spec = ConnectorSpec(name="desk", role="supplier", config_model=SupplierConfig, needs_url=False,
                         capabilities=frozenset({Capability.ORDERS}), factory=lambda url, creds, cfg: supplier,
                         implementation=Desk)
    app.ctx.connectors = Registry([*Registry.default().specs(), spec])
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"})
    add_supplier(app.ctx, "fax", "desk", "", {}, {"currency": "USD"})
    _feed(app, "fax", [("TEE", 50, "9.00")])
    return supplier


def _supplier_order(app, external_id: str = "U-1") -> SupplierOrder:
    ext = ExternalOrder(external_id=external_id, currency="USD",
                        ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"),
                        lines=[ExternalOrderLine("1", "TEE", 1, Money(2000, "USD"))])
    order_id = ingest_order(app.ctx, "shop", ext).order_id
    route_order(app.ctx, order_id)
    with app.ctx.uow(read_only=True) as uow:
        (so,) = uow.supplier_orders.for_order(order_id)
    return so


def _get(app, so_id: int) -> SupplierOrder:
    with app.ctx.uow(read_only=True) as uow:
        return uow.get(SupplierOrder, so_id)


@pytest.mark.parametrize("refusal", [RateLimited("throttled", retry_after=2), NotSent("the read before it failed")])
def test_a_send_refused_before_the_supplier_acted_is_sent_again_without_the_merchant(app, desk, refusal):
    so = _supplier_order(app)
    desk.script = [refusal]
    with pytest.raises(RetryableError):
        place_supplier_order(app.ctx, so.id, attempt=1)
    assert _get(app, so.id).resend_allowed is True
    assert place_supplier_order(app.ctx, so.id, attempt=2) == "submitted"
    assert desk.sent == [so.idempotency_key, so.idempotency_key]
    done = _get(app, so.id)
    assert (done.status, done.external_id, done.resend_allowed) == ("submitted", "AE-2", False)
    assert not [a for a in list_alerts(app.ctx, 20) if a["kind"] == "supplier_order.unknown_outcome"]


def test_a_resend_permission_is_used_up_before_the_send_so_a_dying_send_is_not_repeated(app, desk):
    so = _supplier_order(app)
    desk.script = [RetryableError("timed out after the request left")]
    with pytest.raises(RetryableError):
        place_supplier_order(app.ctx, so.id, attempt=1)
    assert place_supplier_order(app.ctx, so.id, attempt=2).startswith("cannot know")
    retry_order(app.ctx, _get(app, so.id).order_id)  # the merchant: send it again
    desk.script = [RetryableError("timed out again")]
    with pytest.raises(RetryableError):
        place_supplier_order(app.ctx, so.id, attempt=1)
    assert _get(app, so.id).resend_allowed is False  # used by that send, not given back by its failure
    assert place_supplier_order(app.ctx, so.id, attempt=2).startswith("cannot know")
    assert desk.sent == [so.idempotency_key] * 2
    assert _get(app, so.id).status == "failed"
    # one condition, one open alert, seen twice
    (alert,) = [a for a in list_alerts(app.ctx, 20) if a["kind"] == "supplier_order.unknown_outcome"]
    assert alert["occurrences"] == 2


def test_already_placed_without_an_id_stops_without_resend_or_reroute(app, desk):
    so = _supplier_order(app)
    desk.script = [RetryableError("timed out")]
    with pytest.raises(RetryableError):
        place_supplier_order(app.ctx, so.id, attempt=1)
    place_supplier_order(app.ctx, so.id, attempt=2)
    retry_order(app.ctx, so.order_id)
    desk.script = [AlreadyPlaced("aliexpress refused db: REPEATED_ORDER_ERROR: Repeated placed order")]
    assert place_supplier_order(app.ctx, so.id, attempt=1).startswith("already at the supplier")
    done = _get(app, so.id)
    assert (done.status, done.resend_allowed, done.external_id) == ("failed", False, None)
    assert "REPEATED_ORDER_ERROR" in done.last_error
    (alert,) = [a for a in list_alerts(app.ctx, 20) if a["kind"] == "supplier_order.already_placed"]
    assert alert["severity"] == "error" and "do not re-route it" in alert["message"]
    with app.ctx.uow(read_only=True) as uow:
        assert len(uow.supplier_orders.for_order(so.order_id)) == 1  # nothing re-routed
        assert uow.jobs.by_key(f"route:{so.order_id}:after:{so.id}") is None
    assert place_supplier_order(app.ctx, so.id, attempt=3) == "already handled"
    assert len(desk.sent) == 2


def test_orders_waiting_for_payment_past_the_window_are_alerted_once(app, desk):
    now = app.ctx.clock()
    so = _supplier_order(app)
    place_supplier_order(app.ctx, so.id)
    assert [a["kind"] for a in list_alerts(app.ctx, 20)].count("supplier_order.awaiting_payment") == 1
    assert alert_unpaid_supplier_orders(app.ctx) == 0  # within the window (24 h by default)
    later = _supplier_order(app, "U-2")
    place_supplier_order(app.ctx, later.id)
    add_supplier(app.ctx, "fax", "desk", "", {}, {"unpaid_alert_hours": 6})
    app.ctx.clock = lambda: now + timedelta(hours=7)
    assert alert_unpaid_supplier_orders(app.ctx) == 2
    assert alert_unpaid_supplier_orders(app.ctx) == 0  # once
    overdue = [a for a in list_alerts(app.ctx, 20) if a["kind"] == "supplier_order.payment_overdue"]
    assert len(overdue) == 2 and all(a["severity"] == "error" for a in overdue)
    assert any(a["message"].startswith(f"{so.idempotency_key} at fax (AE-1) has waited 7 h for payment")
               for a in overdue)


def test_a_supplier_that_reports_the_order_paid_updates_it_instead_of_alerting(app, desk):
    now = app.ctx.clock()
    so = _supplier_order(app)
    place_supplier_order(app.ctx, so.id)
    desk.lookup = PlacedOrder(external_id="AE-1", reference=so.idempotency_key, status="paid",
                              placement=Placement.ACCEPTED)
    app.ctx.clock = lambda: now + timedelta(hours=25)
    assert alert_unpaid_supplier_orders(app.ctx) == 0
    assert _get(app, so.id).placement == "accepted"
    assert any(e["action"] == "supplier_order.paid" for e in list_audit(app.ctx))
