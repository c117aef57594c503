"""Alerts on both databases: one alert per condition until resolved, resolving recorded, periodic checks
that raise and clear conditions, recipients' deliveries written with the alert, digests once per period."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

import pytest
from sqlalchemy import text

from dropbridge.domain.model import Alert
from dropbridge.services.alert_checks import check_feeds, check_low_stock, check_supplier_orders
from dropbridge.services.alert_delivery import add_recipient, schedule_digests
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.manage_alerts import acknowledge_alerts, resolve_alerts, set_low_stock_threshold
from dropbridge.services.records import raise_alert
from dropbridge.services.sync_feed import sync_feed


def _raise(ctx, kind="feed.quarantined", message="m", **refs):
    with ctx.uow() as uow:
        alert = raise_alert(uow, ctx, kind, message, **refs)
        uow.commit()
        return alert.id


def _rows(app, sql):
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_the_same_condition_raises_one_alert_until_it_is_resolved(app):
    ctx = app.ctx
    first = _raise(ctx, "feed.quarantined", "feed a quarantined")
    assert _raise(ctx, "feed.quarantined", "feed a quarantined again") == first
    other = _raise(ctx, "feed.failed", "another condition")
    assert other != first
    assert _rows(app, "SELECT id, occurrences FROM alerts ORDER BY id") == [(first, 2), (other, 1)]
    who = dataclasses.replace(ctx, actor="user:ann@example.com")
    assert acknowledge_alerts(who, [first]) == 1
    assert resolve_alerts(who, [first], "supplier fixed the file") == 1
    assert resolve_alerts(who, [first]) == 0  # already resolved: nothing changes
    with ctx.uow(read_only=True) as uow:
        alert = uow.get(Alert, first)
    assert (alert.acknowledged_by, alert.resolved_by, alert.resolution) == (
        "user:ann@example.com", "user:ann@example.com", "supplier fixed the file")
    again = _raise(ctx, "feed.quarantined", "it happened again")
    assert again not in (first, other)
    actions = [r[0] for r in _rows(app, "SELECT action FROM audit_events ORDER BY id")]
    assert actions == ["alert.acknowledged", "alert.resolved", "alert.resolved"]


def test_new_alerts_are_handed_to_matching_recipients_through_the_outbox(app):
    ctx = app.ctx
    add_recipient(ctx, "mail", "email", "ops@shop.test", kinds=["feed.*"])
    add_recipient(ctx, "digest", "webhook", "http://127.0.0.1:9/h", kinds=["*"], schedule_="daily")
    add_recipient(ctx, "errors", "webhook", "http://127.0.0.1:9/e", min_severity="error")
    feed = _raise(ctx, "feed.stale", "acme quiet")
    _raise(ctx, "feed.stale", "acme quiet still")  # no new deliveries for a repeat
    stock = _raise(ctx, "stock.low", "TEE low")
    deliveries = _rows(app, "SELECT alert_id, recipient_id, status FROM alert_deliveries ORDER BY id")
    assert deliveries == [(feed, 1, "pending"), (feed, 2, "queued"), (stock, 2, "queued")]
    jobs = _rows(app, "SELECT kind, key FROM jobs ORDER BY id")
    assert jobs == [("deliver_alert", "alert-delivery:1")]
    # The daily digest starts once the day is over, once.
    tomorrow = ctx.clock() + timedelta(days=1)
    assert schedule_digests(ctx, tomorrow) == 1
    assert schedule_digests(ctx, tomorrow) == 0
    digest = _rows(app, "SELECT kind, payload FROM jobs WHERE kind = 'deliver_digest'")
    assert len(digest) == 1 and '"up_to": 3' in str(digest[0][1]).replace("'", '"')


@pytest.mark.parametrize("bad", [
    dict(name="x", channel="sms", target="+1"),
    dict(name="x", channel="email", target="not-an-address"),
    dict(name="x", channel="webhook", target="ftp://host/x"),
    dict(name="", channel="email", target="a@b.c"),
])
def test_bad_recipients_are_refused_and_nothing_is_stored(app, bad):
    from dropbridge.domain.errors import ValidationError

    with pytest.raises(ValidationError):
        add_recipient(app.ctx, **bad)
    assert _rows(app, "SELECT count(*) FROM alert_recipients") == [(0,)]


def _catalog(app, rows):
    text_ = "sku,qty,cost\n" + "".join(f"{s},{q},{c}\n" for s, q, c in rows)
    return sync_feed(app.ctx, "acme", io.BytesIO(text_.encode()), "acme.csv")


def test_low_stock_alerts_follow_the_threshold_and_clear_when_stock_returns(app):
    ctx = app.ctx
    add_supplier(ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD", "buffer": 1})
    add_store(ctx, "shop", "headless", "http://127.0.0.1:9", {"webhook_secret": "s"})
    _catalog(app, [("TEE", 4, "5.00"), ("MUG", 50, "2.00"), ("CAP", 1, "3.00")])
    with app.engine.begin() as conn:  # list TEE and MUG in the store; CAP is not sold anywhere
        conn.execute(text("INSERT INTO listings (store_id, variant_id) SELECT 1, id FROM variants "
                          "WHERE sku IN ('TEE', 'MUG')"))
    assert check_low_stock(ctx) == 1  # TEE: 4 - buffer 1 = 3 <= 5 (default); CAP is not listed
    assert check_low_stock(ctx) == 1
    assert _rows(app, "SELECT kind, dedupe_key, occurrences FROM alerts") == [("stock.low", "stock.low:TEE", 2)]
    set_low_stock_threshold(ctx, "MUG", 60)
    set_low_stock_threshold(ctx, "TEE", 2)
    check_low_stock(ctx)
    rows = _rows(app, "SELECT dedupe_key, resolved_at IS NULL, resolved_by FROM alerts ORDER BY id")
    assert rows == [("stock.low:TEE", False, "system"), ("stock.low:MUG", True, None)]


def test_stale_feeds_and_overdue_supplier_orders_raise_and_clear(app):
    ctx = app.ctx
    add_supplier(ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                 {"currency": "USD", "feed_expected_hours": 6, "ack_hours": 2})
    _catalog(app, [("TEE", 4, "5.00")])
    later = dataclasses.replace(ctx, clock=lambda: ctx.clock() + timedelta(hours=7))
    assert check_feeds(ctx) == 0
    assert check_feeds(later) == 1
    assert _rows(app, "SELECT kind, resolved_at IS NULL FROM alerts") == [("feed.stale", True)]
    _catalog(app, [("TEE", 5, "5.00")])
    check_feeds(ctx)
    assert _rows(app, "SELECT kind, resolved_at IS NULL, resolution FROM alerts") == [
        ("feed.stale", False, "condition cleared")]
    now = ctx.clock()
    with app.engine.begin() as conn:
        conn.execute(text("INSERT INTO stores (name, platform, base_url, config, created_at) "
                          "VALUES ('shop', 'headless', '', '{}', :t)"), {"t": now})
        conn.execute(text("INSERT INTO orders (store_id, external_id, currency, status, ship_to, "
                          "shipping_price_minor, flags, fx, created_at, updated_at) "
                          "VALUES (1, 'O1', 'USD', 'routed', '{}', 0, '{}', '{}', :t, :t)"), {"t": now})
        conn.execute(text("INSERT INTO supplier_orders (supplier_id, order_id, idempotency_key, status, "
                          "shipping_cost_minor, currency, created_at, updated_at) "
                          "VALUES (1, 1, 'db-1-acme', 'pending', 0, 'USD', :t, :t)"), {"t": now})
    assert check_supplier_orders(ctx) == 0
    check_supplier_orders(dataclasses.replace(ctx, clock=lambda: now + timedelta(hours=3)))
    assert _rows(app, "SELECT kind, order_id FROM alerts WHERE resolved_at IS NULL") == [
        ("supplier_order.not_acknowledged", 1)]
