"""record_refund on SQLite and PostgreSQL: exact entries, once per refund id, tax-inclusive amounts, a line
we do not know, a cancelled order, an order we never saw."""

from __future__ import annotations

import pytest

from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.money import Money
from dropbridge.services.cancel_order import cancel_order
from dropbridge.services.connections import add_store
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine, ExternalRefund, ExternalRefundLine
from dropbridge.services.record_refund import record_refund


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


@pytest.fixture
def shop(app):
    app.ctx.enqueue = lambda job_id, delay=0: None
    app.ctx.enqueue_all = lambda job_ids: None
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"}, {})
    with app.ctx.uow(read_only=True) as uow:
        store = uow.stores.by_name("shop")
    return app, store


def _order(app, external_id: str) -> int:
    ext = ExternalOrder(external_id=external_id, currency="EUR", ship_to=Address(name="J", address1="1", city="X",
                                                                               country_code="DE"),
                        shipping_price=eur(500), total_tax=eur(400), taxes_included=True,
                        lines=[ExternalOrderLine("L1", "TEE", 2, eur(1200), tax=eur(400))])
    return ingest_order(app.ctx, "shop", ext).order_id


def _refund_entries(app, order_id: int) -> list[tuple[str, int, bool]]:
    with app.ctx.uow(read_only=True) as uow:
        return sorted((e.kind, e.amount_minor, e.order_line_id is not None)
                      for e in uow.ledger.for_order(order_id) if e.memo.startswith("[refund "))


def test_a_refund_is_recorded_once_tax_apart(shop):
    app, store = shop
    order_id = _order(app, "R-1")
    refund = ExternalRefund("rf-1", "R-1", "EUR", taxes_included=True, reason="broken",
                            lines=(ExternalRefundLine("L1", 1, eur(1200), eur(200)),
                                   ExternalRefundLine("L9", 1, eur(100))),
                            shipping=eur(500))
    assert record_refund(app.ctx, store, refund) == "refund recorded"
    assert record_refund(app.ctx, store, refund) == "refund already recorded"
    # 12.00 with 2.00 tax in it: 10.00 refunded, 2.00 tax no longer owed; a line we never had is on the order.
    assert _refund_entries(app, order_id) == sorted([
        (EntryKind.REFUND, -1000, True), (EntryKind.TAX_COLLECTED, -200, True), (EntryKind.REFUND, -100, False),
        (EntryKind.REFUND, -500, False)])
    second = ExternalRefund("rf-2", "R-1", "EUR", taxes_included=True, other=eur(300))
    assert record_refund(app.ctx, store, second) == "refund recorded"
    assert len(_refund_entries(app, order_id)) == 5


def test_refunds_the_cancellation_covered_or_of_unknown_orders_record_nothing(shop):
    app, store = shop
    order_id = _order(app, "R-2")
    assert cancel_order(app.ctx, order_id) == "cancelled"
    assert record_refund(app.ctx, store, ExternalRefund("rf-3", "R-2", "EUR", other=eur(100))).startswith(
        "refund on a cancelled order")
    assert _refund_entries(app, order_id) == []
    assert record_refund(app.ctx, store, ExternalRefund("rf-4", "NOPE", "EUR", other=eur(100))) == (
        "refund for an order we do not know")


def test_a_cancellation_after_a_partial_refund_gives_back_only_the_rest(shop):
    app, store = shop
    order_id = _order(app, "R-3")
    record_refund(app.ctx, store, ExternalRefund("rf-5", "R-3", "EUR", taxes_included=True,
                                                 lines=(ExternalRefundLine("L1", 1, eur(1200), eur(200)),)))
    assert cancel_order(app.ctx, order_id) == "cancelled"
    with app.ctx.uow(read_only=True) as uow:
        entries = uow.ledger.for_order(order_id)
    # Everything paid (24.00 + 5.00 shipping, 4.00 tax inside) went back once: nothing left as revenue or tax.
    revenue = sum(e.amount_minor for e in entries if e.kind in (EntryKind.REVENUE, EntryKind.SHIPPING_REVENUE))
    assert sum(e.amount_minor for e in entries if e.kind == EntryKind.REFUND) == -revenue
    assert sum(e.amount_minor for e in entries if e.kind == EntryKind.TAX_COLLECTED) == 0
