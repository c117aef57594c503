"""Delivery estimates over the API on SQLite and PostgreSQL: an order's window from the supplier's configured
lead time, then from its measured one once 3 orders shipped; offers' delivery days per destination; a bad
`transit_days` config or `?country=` refused."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from dropbridge.domain.errors import ValidationError
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.storage import tables as t

from .test_vendor_report import NOW, T0, D, Gen

TRANSIT = {"US": [3, 6], "*": [7, 14]}


@pytest.fixture
def client(app):
    from dropbridge.api.app import create_app
    from dropbridge.services.tokens import create_token

    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/e", {"webhook_secret": "s"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"},
                 {"lead_time_days": 5, "transit_days": TRANSIT})
    app.ctx.clock = lambda: NOW
    token = create_token(app.ctx, "reader", ["read"])
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as c:
        yield app, c


def test_an_order_estimate_from_configured_then_measured_lead_time(client):
    app, c = client
    g = Gen(app)
    order_id = g.supplier_order(1, "submitted", 1)  # placed T0, nothing shipped yet
    with app.engine.begin() as conn:
        conn.execute(update(t.orders).where(t.orders.c.id == order_id).values(ship_to={"country_code": "US"}))
    unrouted = g.run(t.orders, store_id=1, external_id="O-new", currency="EUR", status="received",
                     ship_to={"country_code": "US"}, shipping_price_minor=0, flags={}, fx={}, created_at=T0,
                     updated_at=T0)

    def estimate():
        body = c.get(f"/api/v1/orders/{order_id}").json()
        return body["delivery_estimate"], body["supplier_orders"][0]["delivery_estimate"]

    whole, per = estimate()
    assert per == {"supplier": "acme", "earliest": "2025-03-09", "latest": "2025-03-12", "basis": "configured"}
    assert whole == {"earliest": "2025-03-09", "latest": "2025-03-12", "basis": "configured"}
    assert c.get(f"/api/v1/orders/{unrouted}").json()["delivery_estimate"] is None

    # Shipped after 1, 2 and 4 days: median 2, p90 4 (+ transit to US 3..6).
    for days in (1, 2):
        g.supplier_order(1, "shipped", 1, shipments=[(T0 + days * D, T0 + days * D, None)])
    assert estimate()[1]["basis"] == "configured"  # 2 shipped are not enough
    g.supplier_order(1, "shipped", 1, shipments=[(T0 + 4 * D, T0 + 4 * D, None)])
    whole, per = estimate()
    assert per == {"supplier": "acme", "earliest": "2025-03-06", "latest": "2025-03-11", "basis": "measured"}
    assert whole["basis"] == "measured"


def test_offers_delivery_days_per_destination(client):
    app, c = client
    Gen(app).run(t.supplier_offers, supplier_id=1, supplier_sku="S-1", cost_minor=500, currency="EUR", stock=4,
                 reserved=0, updated_at=T0)
    Gen(app).run(t.supplier_offers, supplier_id=1, supplier_sku="S-2", cost_minor=500, currency="EUR", stock=4,
                 reserved=0, lead_time_days=1, updated_at=T0)  # the offer's own lead time comes first
    rows = c.get("/api/v1/offers").json()["offers"]
    assert [(r["delivery_days"], r["delivery_basis"]) for r in rows] == [([12, 19], "configured"),
                                                                          ([8, 15], "configured")]
    assert [r["delivery_days"] for r in c.get("/api/v1/offers", params={"country": "US"}).json()["offers"]] == [
        [8, 11], [4, 7]]
    assert c.get("/api/v1/offers", params={"country": "DE"}).json()["offers"][0]["delivery_days"] == [12, 19]
    for bad in ("ZZ", "us", "USA", "U\x00"):
        r = c.get("/api/v1/offers", params={"country": bad})
        assert r.status_code == 422, bad
        assert "country" in r.text


def test_a_bad_transit_days_config_is_refused_naming_the_key(app):
    for bad in ({"US": [6, 3]}, {"USA": [1, 2]}, {"US": [1]}, {"US": [1.5, 2]}, {"*": "7-14"}):
        with pytest.raises(ValidationError, match="transit_days"):
            add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"transit_days": bad})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"transit_days": {"us": [0, 2]}})
    with app.ctx.uow(read_only=True) as uow:
        assert uow.suppliers.by_name("acme").config["transit_days"] == {"US": [0, 2]}


