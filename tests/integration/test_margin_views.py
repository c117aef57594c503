"""Margins on both databases: the same totals whether a day is summed live or read from the daily
roll-up, by day, store, supplier and product, and the CSV export."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import insert, text

from dropbridge.services.queries.margins import margins
from dropbridge.storage import tables as t


def _seed(app):
    now = app.ctx.clock()
    with app.engine.begin() as conn:
        conn.execute(insert(t.stores), [{"id": 1, "name": "shop", "platform": "headless", "base_url": "", "config": {},
                                         "created_at": now}, {"id": 2, "name": "outlet", "platform": "headless",
                                                              "base_url": "", "config": {}, "created_at": now}])
        conn.execute(insert(t.suppliers), [{"id": 1, "name": "acme", "kind": "rest", "base_url": "", "config": {},
                                            "created_at": now}])
        conn.execute(insert(t.orders), [{"id": i, "store_id": 1 + i % 2, "external_id": f"O{i}", "currency": "USD",
                                         "status": "shipped", "ship_to": {}, "shipping_price_minor": 0, "flags": {},
                                         "fx": {}, "created_at": now, "updated_at": now} for i in (1, 2, 3)])
        conn.execute(insert(t.order_lines), [{"id": i, "order_id": i, "line_no": 1, "sku": f"SKU{i % 2}",
                                              "quantity": 1, "unit_price_minor": 1000, "status": "shipped"}
                                             for i in (1, 2, 3)])
        rows = []
        for oid, age_days in ((1, 0), (2, 3), (3, 10)):
            at = now - timedelta(days=age_days)
            rows += [
                {"order_id": oid, "order_line_id": oid, "store_id": 1 + oid % 2, "supplier_id": None, "kind": "revenue",
                 "amount_minor": 1000, "currency": "USD", "memo": "", "created_at": at},
                {"order_id": oid, "order_line_id": oid, "store_id": 1 + oid % 2, "supplier_id": 1,
                 "kind": "supplier_cost", "amount_minor": -600, "currency": "USD", "memo": "", "created_at": at},
                {"order_id": oid, "order_line_id": None, "store_id": 1 + oid % 2, "supplier_id": None,
                 "kind": "payment_fee", "amount_minor": -50, "currency": "USD", "memo": "", "created_at": at}]
        conn.execute(insert(t.ledger_entries), rows)


def _summary(data):
    return {name: sorted((r["key"], r["revenue"], r["costs"], r["margin"]) for r in rows)
            for name, rows in data["tables"].items()}


def test_margins_are_the_same_live_and_rolled_up(app):
    # At midday: in the first hour after midnight yesterday is not closed yet (margins.CLOSE_AFTER), and one
    # day fewer would be rolled up than the count below says.
    noon = app.ctx.clock().replace(hour=12, minute=0, second=0, microsecond=0)
    app.ctx = dataclasses.replace(app.ctx, clock=lambda: noon)
    _seed(app)
    first = margins(app.ctx, 7, by=("day", "store", "supplier", "product"))
    with app.engine.connect() as conn:
        rolled = conn.execute(text("SELECT count(*) FROM ledger_daily_days")).scalar()
    assert rolled == 6  # the 7-day range's closed days; today is summed live
    again = margins(app.ctx, 7, by=("day", "store", "supplier", "product"))
    assert _summary(first) == _summary(again)
    s = _summary(first)
    # Orders 1 (today, store 2) and 2 (3 days ago, store 1) are in range; order 3 is 10 days old.
    assert s["store"] == [("outlet", "10.00", "6.50", "3.50"), ("shop", "10.00", "6.50", "3.50")]
    assert s["supplier"] == [("acme", "0.00", "12.00", "-12.00")]
    assert s["product"] == [("SKU0", "10.00", "6.00", "4.00"), ("SKU1", "10.00", "6.00", "4.00")]
    assert len(s["day"]) == 2
    month = _summary(margins(app.ctx, 30, by=("store",)))
    assert month["store"] == [("outlet", "20.00", "13.00", "7.00"), ("shop", "10.00", "6.50", "3.50")]
    # A day later the same entries still add up the same (today's become a closed, rolled-up day).
    tomorrow = dataclasses.replace(app.ctx, clock=lambda: app.ctx.clock() + timedelta(days=1, hours=2))
    assert _summary(margins(tomorrow, 30, by=("store",))) == month
