"""The supplier side by capability, on SQLite and PostgreSQL, with a fake connector behind the real
registry: what can be routed to, what happens when a supplier cannot be asked, acknowledgements that
reject lines, failures, stated costs, and catalogs pulled page by page through the feed engine."""

from __future__ import annotations

import io

import pytest

from dropbridge.connectors.config import SupplierConfig
from dropbridge.connectors.registry import ConnectorSpec, Registry
from dropbridge.domain.errors import ConfigurationError, RetryableError, ValidationError
from dropbridge.domain.model import Order, SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.facts import dispatch
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_actions import retry_order
from dropbridge.services.order_view import list_alerts
from dropbridge.services.place_supplier_order import place_supplier_order
from dropbridge.services.ports import (
    CANNOT_KNOW,
    Address,
    Capability,
    CostReported,
    ExternalOrder,
    ExternalOrderLine,
    LineDecision,
    OfferRow,
    OrderAcknowledged,
    OrderFailed,
    Page,
    PlacedOrder,
    Placement,
)
from dropbridge.services.route_order import route_order
from dropbridge.services.sync_catalog import sync_catalog
from dropbridge.services.sync_feed import sync_feed


class FakeSupplier:
    """An order desk that cannot be asked about earlier attempts, and an offer source of scripted pages."""

    def __init__(self):
        self.sent: list[str] = []
        self.fail_after_send = False
        self.lookup = CANNOT_KNOW
        self.pages: list[list[OfferRow]] = []
        self.broken_page: int | None = None

    def place_order(self, request):
        self.sent.append(request.reference)
        if self.fail_after_send:
            self.fail_after_send = False
            raise RetryableError("connection reset after the message was handed over")
        return PlacedOrder(external_id=f"PO-{len(self.sent)}", reference=request.reference, status="sent",
                           placement=Placement.AWAITING_ACK, cost=Money(1234, "USD"))

    def find_order(self, reference):
        return self.lookup

    def fetch_offers(self, cursor=None):
        index = int(cursor or 0)
        if index == self.broken_page:
            raise RetryableError("HTTP 503")
        more = index + 1 < len(self.pages)
        return Page(self.pages[index] if self.pages else [], str(index + 1) if more else None)


@pytest.fixture
def fake(app):
    supplier = FakeSupplier()
    spec = ConnectorSpec(name="fake", role="supplier", config_model=SupplierConfig, needs_url=False,
                         capabilities=frozenset({Capability.ORDERS, Capability.CATALOG, Capability.STOCK}),
                         factory=lambda url, creds, cfg: supplier, implementation=FakeSupplier)
    app.ctx.connectors = Registry([*Registry.default().specs(), spec])
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"})
    add_supplier(app.ctx, "fax", "fake", "", {}, {"currency": "USD", "shipping_per_order": "1.00"})
    return supplier


def _feed(app, supplier, rows):
    text = "sku,qty,cost\n" + "".join(f"{s},{q},{c}\n" for s, q, c in rows)
    return sync_feed(app.ctx, supplier, io.BytesIO(text.encode()), f"{supplier}.csv")


def _order(app, external_id, lines):
    ext = ExternalOrder(external_id=external_id, currency="USD",
                        ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"),
                        lines=[ExternalOrderLine(str(i + 1), sku, qty, Money(2000, "USD"))
                               for i, (sku, qty) in enumerate(lines)])
    return ingest_order(app.ctx, "shop", ext).order_id


def _supplier_orders(app, order_id):
    with app.ctx.uow(read_only=True) as uow:
        return uow.supplier_orders.for_order(order_id)


def test_a_feed_only_supplier_is_never_routed_to_even_when_cheapest(app, fake):
    add_supplier(app.ctx, "cheap", "feed", "", {}, {"currency": "USD"})
    _feed(app, "cheap", [("TEE", 50, "1.00")])
    _feed(app, "fax", [("TEE", 50, "9.00")])
    order_id = _order(app, "R-1", [("TEE", 1)])
    route_order(app.ctx, order_id)
    (so,) = _supplier_orders(app, order_id)
    with app.ctx.uow(read_only=True) as uow:
        line = uow.get(Order, order_id).lines[0]
        supplier = uow.suppliers.by_name("fax")
    assert so.supplier_id == supplier.id
    reasons = {c["supplier"]: c["reason"] for c in line.routing["candidates"]}
    assert reasons["cheap"] == "feed supplier takes no orders (no order path)"


def test_an_order_only_a_feed_supplier_sells_is_held_not_sent(app, fake):
    add_supplier(app.ctx, "cheap", "feed", "", {}, {"currency": "USD"})
    _feed(app, "cheap", [("MUG", 50, "1.00")])
    order_id = _order(app, "R-2", [("MUG", 1)])
    assert route_order(app.ctx, order_id) == "on hold"
    assert _supplier_orders(app, order_id) == []
    assert any(a["kind"] == "order.unroutable" for a in list_alerts(app.ctx, 20))


def test_an_unknown_outcome_is_never_resent_without_the_merchants_word(app, fake):
    _feed(app, "fax", [("TEE", 50, "9.00")])
    order_id = _order(app, "U-1", [("TEE", 2)])
    route_order(app.ctx, order_id)
    (so,) = _supplier_orders(app, order_id)
    fake.fail_after_send = True
    with pytest.raises(RetryableError):
        place_supplier_order(app.ctx, so.id, attempt=1)
    assert place_supplier_order(app.ctx, so.id, attempt=2).startswith("cannot know")
    assert fake.sent == [so.idempotency_key]  # not sent a second time
    with app.ctx.uow(read_only=True) as uow:
        assert uow.get(SupplierOrder, so.id).status == "failed"
    assert [a["kind"] for a in list_alerts(app.ctx, 20)].count("supplier_order.unknown_outcome") == 1
    # The merchant checked with the supplier: nothing arrived. Retry sends it once more.
    retry_order(app.ctx, order_id)
    assert place_supplier_order(app.ctx, so.id, attempt=1) == "submitted"
    assert fake.sent == [so.idempotency_key, so.idempotency_key]
    with app.ctx.uow(read_only=True) as uow:
        done = uow.get(SupplierOrder, so.id)
    assert (done.status, done.placement, done.resend_allowed) == ("submitted", "awaiting_ack", False)
    assert (done.stated_cost_minor, done.stated_currency) == (1234, "USD")


def test_an_acknowledgement_rejecting_a_line_reroutes_that_line_only(app, fake):
    add_supplier(app.ctx, "other", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    _feed(app, "fax", [("TEE", 50, "5.00"), ("CAP", 50, "5.00")])
    _feed(app, "other", [("TEE", 50, "7.00"), ("CAP", 50, "7.00")])
    order_id = _order(app, "A-1", [("TEE", 1), ("CAP", 1)])
    route_order(app.ctx, order_id)
    (so,) = _supplier_orders(app, order_id)
    place_supplier_order(app.ctx, so.id)
    with app.ctx.uow(read_only=True) as uow:
        supplier_id = uow.suppliers.by_name("fax").id
        cap_line = next(ln for ln in uow.get(Order, order_id).lines if ln.sku == "CAP")
    fact = OrderAcknowledged(reference=so.idempotency_key, external_id="PO-1",
                             lines=(LineDecision("TEE", 1, "accepted", line_ref=""),
                                    LineDecision("CAP", 1, "rejected", "discontinued")))
    with app.ctx.uow(read_only=True) as uow:
        fax = uow.suppliers.by_name("fax")
    outcome = dispatch(app.ctx, "supplier", fax, [fact], source="file:855")
    assert outcome == ["acknowledged; 1 line(s) rejected and re-routed"]
    # The same acknowledgement again changes nothing more.
    dispatch(app.ctx, "supplier", fax, [fact], source="file:855")
    with app.ctx.uow(read_only=True) as uow:
        kept = uow.get(SupplierOrder, so.id)
        line = next(ln for ln in uow.get(Order, order_id).lines if ln.id == cap_line.id)
        job = uow.jobs.by_key(f"route:{order_id}:after:{so.id}:lines:{cap_line.id}")
    assert [sl.supplier_sku for sl in kept.lines] == ["TEE"]
    assert kept.acknowledged_at is not None and kept.supplier_id == supplier_id
    assert (line.status, line.offer_id) == ("pending", None)
    assert cap_line.offer_id in line.routing["excluded"]
    assert job is not None
    route_order(app.ctx, order_id)  # the rejected line goes to the other supplier
    sos = _supplier_orders(app, order_id)
    assert sorted((s.supplier_id == supplier_id, [sl.supplier_sku for sl in s.lines]) for s in sos) == \
        [(False, ["CAP"]), (True, ["TEE"])]


def test_a_failure_and_a_stated_cost_from_the_supplier_are_recorded(app, fake):
    _feed(app, "fax", [("TEE", 50, "5.00")])
    order_id = _order(app, "F-1", [("TEE", 1)])
    route_order(app.ctx, order_id)
    (so,) = _supplier_orders(app, order_id)
    place_supplier_order(app.ctx, so.id)
    with app.ctx.uow(read_only=True) as uow:
        fax = uow.suppliers.by_name("fax")
    dispatch(app.ctx, "supplier", fax, [CostReported(so.idempotency_key, Money(777, "USD"), Money(300, "USD"))],
             source="webhook:order_updated")
    dispatch(app.ctx, "supplier", fax, [OrderFailed(so.idempotency_key, "997 rejected the 850: AK5*R")],
             source="file:997")
    with app.ctx.uow(read_only=True) as uow:
        done = uow.get(SupplierOrder, so.id)
    assert (done.status, done.stated_cost_minor, done.stated_shipping_minor) == ("failed", 777, 300)
    assert "AK5*R" in done.last_error
    assert any(a["kind"] == "supplier_order.failed" for a in list_alerts(app.ctx, 20))


def _rows(skus, stock=5, cost=300):
    return [OfferRow(s, stock, Money(cost, "USD"), catalog={"title": f"Item {s}"}) for s in skus]


def test_a_catalog_pulled_in_pages_goes_through_the_feed_engine(app, fake):
    fake.pages = [_rows(["A", "B"]), _rows(["C"])]
    first = sync_catalog(app.ctx, "fax")
    assert (first.status, first.rows_read, first.changed) == ("applied", 3, 3)
    again = sync_catalog(app.ctx, "fax")
    assert (again.status, again.changed, again.unchanged) == ("applied", 0, 3)
    fake.pages = [_rows(["A", "B"], stock=0), _rows(["C"])]
    fake.broken_page = 1  # the pull dies half-way: nothing of it applies, nothing is zeroed
    broken = sync_catalog(app.ctx, "fax")
    assert broken.status == "failed" and "stopped after 2 offers" in broken.reason
    with app.ctx.uow(read_only=True) as uow:
        supplier_id = uow.suppliers.by_name("fax").id
        assert uow.offers.costs_and_stock(supplier_id) == {"A": (300, 5), "B": (300, 5), "C": (300, 5)}


def test_a_catalog_pull_is_refused_for_kinds_that_publish_files(app, fake):
    add_supplier(app.ctx, "files", "feed", "", {}, {})
    with pytest.raises(ValidationError, match="use `dropbridge sync feed files"):
        sync_catalog(app.ctx, "files")


def test_asking_for_a_capability_a_kind_lacks_is_refused(app, fake):
    add_supplier(app.ctx, "files", "feed", "", {}, {})
    with app.ctx.uow(read_only=True) as uow:
        files = uow.suppliers.by_name("files")
    with pytest.raises(ConfigurationError, match="has no orders capability"):
        app.ctx.supplier_connector(files, Capability.ORDERS)
