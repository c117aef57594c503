"""Order lifecycle beyond the happy path: margin holds, cancellations with refunds, FX, re-routing."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import select

from dropbridge.domain.model import SupplierOffer
from dropbridge.services.cancel_order import cancel_order
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.fx import import_ecb_csv
from dropbridge.services.order_actions import reroute_order, retry_order
from dropbridge.services.order_view import list_alerts, order_detail

from .helpers import load_feed, order_body, wait_for


def reserved(app, sku: str) -> dict[str, int]:
    """Units reserved on each supplier's offer of `sku`, by supplier id."""
    with app.ctx.uow(read_only=True) as uow:
        offers = uow.session.scalars(select(SupplierOffer).where(SupplierOffer.supplier_sku == sku))
        return {str(o.supplier_id): o.reserved for o in offers}


def status_is(app, order_id, status):
    return lambda: (d := order_detail(app.ctx, order_id))["status"] == status and d


def test_margin_below_floor_holds_until_the_merchant_accepts(world):
    app, api, http, store, sups = world
    add_store(app.ctx, "shop", "headless", store.events_url, {}, {"routing": {"margin_floor_percent": "60"}})
    order_id = http.post("/api/v1/orders", json=order_body("M-1", [("TEE", 1, "24.00")])).json()["id"]
    d = wait_for(status_is(app, order_id, "on_hold"))
    # 24.00 revenue - (8.50 + 4.00 acme) - 1.00 fees = 10.50, 43.8% < 60%
    assert d["hold_reason"] == "expected margin 43.8% (10.50 USD) is below the 60% floor"
    assert d["supplier_orders"] == [] and sups["acme"].orders() == []
    assert d["lines"][0]["routing"]["candidates"][0]["chosen"] is True  # the decision is visible while held
    assert [a["kind"] for a in list_alerts(app.ctx) if a["order_id"] == order_id] == ["order.margin_below_floor"]
    assert "margin floor waived for this order" in retry_order(app.ctx, order_id, accept_low_margin=True)
    d = wait_for(status_is(app, order_id, "submitted"))
    assert [o["reference"] for o in sups["acme"].orders()] == [d["supplier_orders"][0]["reference"]]


def test_store_cancellation_cancels_at_supplier_releases_stock_and_refunds(world):
    app, api, http, store, sups = world
    order_id = http.post("/api/v1/orders", json=order_body("C-1", [("TEE", 2, "24.00")], shipping="5.00")).json()["id"]
    wait_for(status_is(app, order_id, "submitted"))
    assert reserved(app, "TEE") == {"1": 2, "2": 0}
    status = store.send_event(f"{api.url}/webhooks/headless/shop", "order.cancelled",
                              order_body("C-1", [("TEE", 2, "24.00")], shipping="5.00"), delivery_id="cancel-C-1")
    assert status == 200
    d = wait_for(lambda: (x := order_detail(app.ctx, order_id))["status"] == "cancelled"
                 and x["supplier_orders"][0]["status"] == "cancelled" and x)
    assert sups["acme"].orders()[0]["status"] == "cancelled"
    assert reserved(app, "TEE") == {"1": 0, "2": 0}
    # refund of 48.00 + 5.00; the supplier costs are reversed; the payment fee (2.9% of 53 + 0.30 = 1.84) stays
    assert d["margin"]["margin"] == "-1.84"
    assert [e["amount"] for e in d["ledger"] if e["kind"] == "refund"] == ["-53.00"]
    assert [ln["status"] for ln in d["lines"]] == ["cancelled"]


def test_cancellation_before_submission_never_reaches_the_supplier(world):
    app, api, http, store, sups = world
    sups["acme"].inject("error_500", count=50)  # the supplier is down: the order stays pending, retrying
    order_id = http.post("/api/v1/orders", json=order_body("C-2", [("TEE", 1, "24.00")])).json()["id"]
    wait_for(lambda: order_detail(app.ctx, order_id)["supplier_orders"][:1]
             and order_detail(app.ctx, order_id)["supplier_orders"][0]["last_error"])
    assert cancel_order(app.ctx, order_id) == "cancelled"
    sups["acme"].reset()
    d = order_detail(app.ctx, order_id)
    assert (d["status"], d["supplier_orders"][0]["status"]) == ("cancelled", "cancelled")
    time.sleep(1.5)  # the retry wakes up, sees the cancellation, sends nothing
    assert sups["acme"].orders() == []


def test_fx_rates_price_a_euro_supplier_and_are_recorded(world):
    app, api, http, store, sups = world
    today = datetime.now(UTC).date()  # rates older than DROPBRIDGE_FX_MAX_AGE_HOURS would hold the order
    import_ecb_csv(app.ctx, f"Date, USD, JPY, GBP, \n{today:%d %B %Y}, 1.0850, 162.30, 0.8400, \n")
    add_supplier(app.ctx, "globex", "rest", sups["globex"].url, {}, {"currency": "EUR", "shipping_per_order": "2.00"})
    load_feed(app.ctx, "globex", [("TEE", 30, "6.00"), ("MUG", 40, "3.90"), ("CAP", 12, "6.00")])
    order_id = http.post("/api/v1/orders", json=order_body("FX-1", [("TEE", 1, "24.00")])).json()["id"]
    d = wait_for(status_is(app, order_id, "submitted"))
    chosen = next(c for c in d["lines"][0]["routing"]["candidates"] if c["chosen"])
    assert (chosen["supplier"], chosen["landed_cost"], chosen["rate"]) == ("globex", "8.68 USD", "1.0850")
    assert d["fx"] == {"EUR->USD": {"rate": "1.0850", "source": f"ECB reference rates {today.isoformat()}"}}
    costs = sorted(e["amount"] for e in d["ledger"] if e["supplier"] == "globex")
    assert costs == ["-2.17", "-6.51"]  # EUR 2.00 and 6.00 at 1.085, half-even, in the order's currency


def test_reroute_excluding_a_supplier(world):
    app, api, http, store, sups = world
    sups["acme"].inject("error_500", count=50)
    order_id = http.post("/api/v1/orders", json=order_body("R-1", [("TEE", 1, "24.00")])).json()["id"]
    wait_for(lambda: (x := order_detail(app.ctx, order_id))["supplier_orders"]
             and x["supplier_orders"][0]["last_error"])
    assert reroute_order(app.ctx, order_id, exclude=["acme"]) == ["line 1 back to routing, excluding acme"]
    d = wait_for(lambda: (x := order_detail(app.ctx, order_id))["status"] == "submitted" and x)
    assert [(so["supplier"], so["status"]) for so in d["supplier_orders"]] == [("acme", "cancelled"),
                                                                             ("globex", "submitted")]
    assert len(sups["globex"].orders()) == 1
    assert reserved(app, "TEE") == {"1": 0, "2": 1}
