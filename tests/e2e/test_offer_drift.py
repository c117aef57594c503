"""Mapping drift end to end, on SQLite and PostgreSQL: a supplier SKU whose GTIN changes between two feeds is
quarantined, the store's listing goes to zero (the push the feed's run owes, run by the worker), an order
for it is held with an alert, and `dropbridge offers confirm` releases it: stock goes back and the retried
order routes to the supplier. The headless store and the REST supplier are emulators over real HTTP."""

from __future__ import annotations

import io

from dropbridge.services.order_actions import retry_order
from dropbridge.services.order_view import list_alerts, order_detail
from dropbridge.services.publish_listings import publish_products
from dropbridge.services.sync_feed import sync_feed

from .helpers import order_body, run_cli, wait_for

FIRST, SECOND = "00036000291452", "04006381333931"


def _feed(app, wht_gtin: str):
    """acme's full feed, now with a GTIN column: WHT is only acme's, TEE and MUG are globex's too."""
    text = (f"sku,qty,cost,gtin,title\nTEE,20,8.50,,Tee\nMUG,0,3.20,,Mug\n"
            f"WHT,5,8.00,{wht_gtin},White Tee\n")
    out = sync_feed(app.ctx, "acme", io.BytesIO(text.encode()), "acme.csv")
    assert out.status == "applied", out.reason


def test_changed_gtin_quarantines_zeroes_holds_and_confirm_releases(world):
    app, api, http, store, sups = world
    _feed(app, FIRST)  # the SKU's identity is learnt: nothing drifts
    assert "WHT" in publish_products(app.ctx, "shop")
    assert store.stock()["WHT"] == 5

    _feed(app, SECOND)  # acme now sells another item as WHT
    wait_for(lambda: store.stock()["WHT"] == 0)  # the run's stock push, run by the worker
    assert store.stock()["TEE"] == 50  # other listings keep their stock
    [drifted] = [a for a in list_alerts(app.ctx) if a["kind"] == "offer.drifted"]
    assert f"acme SKU WHT now names another item (GTIN {FIRST} -> {SECOND})" in drifted["message"]
    [offer] = http.get("/api/v1/offers", params={"supplier": "acme", "sku": "WHT"}).json()["offers"]
    assert (offer["quarantined"], offer["available"], offer["drift"]) == (True, 0, f"GTIN {FIRST} -> {SECOND}")
    listed = http.get("/api/v1/offers", params={"supplier": "acme"}).json()["offers"]
    assert sorted((o["supplier_sku"], o["quarantined"]) for o in listed) == [("MUG", False), ("TEE", False),
                                                                           ("WHT", True)]
    table = run_cli(app, "offers", "list", "--supplier", "acme")
    assert "quarantined" in table and f"yes: GTIN {FIRST} -> {SECOND}" in table

    # An order for it routes nowhere: held, with an alert, and nothing sent to the supplier.
    r = http.post("/api/v1/orders", json=order_body("7001", [("WHT", 1, "20.00")]))
    order_id = r.json()["id"]
    d = wait_for(lambda: (x := order_detail(app.ctx, order_id))["status"] == "on_hold" and x)
    [line] = d["lines"]
    assert line["status"] == "unroutable"
    assert line["routing"]["candidates"][0]["reason"].startswith(
        f"quarantined: the supplier SKU now names another item (GTIN {FIRST} -> {SECOND})")
    assert [a["kind"] for a in list_alerts(app.ctx) if a["order_id"] == order_id] == ["order.unroutable"]
    assert sups["acme"].orders() == []

    # Over the API: an offer that is not quarantined has nothing to confirm; an unknown variant is no remap.
    assert http.post("/api/v1/offers/confirm", json={"supplier": "acme", "sku": "TEE"}).status_code == 409
    r = http.post("/api/v1/offers/remap", json={"supplier": "acme", "sku": "WHT", "variant": "NOPE"})
    assert (r.status_code, r.json()["detail"]) == (404, "no variant with our SKU 'NOPE'")

    out = run_cli(app, "offers", "confirm", "acme", "WHT")
    assert f"acme WHT: confirmed (GTIN {FIRST} -> {SECOND})" in out
    assert f"orders on hold for this item: {order_id}" in out
    wait_for(lambda: store.stock()["WHT"] == 5)
    assert [a["resolved"] for a in list_alerts(app.ctx) if a["kind"] == "offer.drifted"] == [True]

    assert retry_order(app.ctx, order_id) == ["routing again"]
    d = wait_for(lambda: (x := order_detail(app.ctx, order_id))["status"] == "submitted" and x)
    assert [so["supplier"] for so in d["supplier_orders"]] == ["acme"]
    assert [i["supplier_sku"] for i in sups["acme"].orders()[0]["items"]] == ["WHT"]
    with app.ctx.uow(read_only=True) as uow:
        actions = [e.action for e in uow.audit.recent(100)]
    assert {"offer.quarantined", "offer.confirmed"} <= set(actions)
