"""No oversell under load: 200 simultaneous orders for an item with 50 units at the cheaper supplier and
30 at the other, routed by 3 worker processes (SQLite with its file queue; PostgreSQL with Redis)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from dropbridge.api.app import create_app
from dropbridge.bootstrap import bootstrap
from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.kit.server import start_server
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.order_view import list_orders
from dropbridge.services.tokens import create_token
from dropbridge.storage.migrate import upgrade

from ..conftest import make_settings
from .helpers import load_feed, order_body, start_worker, stop_workers, wait_for

ORDERS = 200


@pytest.fixture(params=["sqlite", "postgresql"])
def scaled_app(request, tmp_path):
    if request.param == "sqlite":
        settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    else:
        settings = make_settings(tmp_path, request.getfixturevalue("pg_url"),
                                 queue_url=request.getfixturevalue("redis_url"))
    app = bootstrap(settings)
    upgrade(app.engine)
    yield app
    app.close()


def test_two_hundred_orders_fifty_units_never_oversold(scaled_app):
    app = scaled_app
    emus = {name: RestSupplierEmulator(api_key=name, name=name, ship_after_seconds=None) for name in ("acme", "globex")}
    store = HeadlessStoreEmulator("s")
    for e in (*emus.values(), store):
        e.start()
    api = start_server(create_app(app))
    workers = []
    try:
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "s"})
        for name, e in emus.items():
            add_supplier(app.ctx, name, "rest", e.url, {"api_key": name}, {"currency": "USD"})
        load_feed(app.ctx, "acme", [("LAST", 50, "5.00")])
        load_feed(app.ctx, "globex", [("LAST", 30, "6.00")])
        token = create_token(app.ctx, "load")
        workers = [start_worker(app.settings) for _ in range(3)]

        def post(i: int) -> int:
            with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
                return http.post("/api/v1/orders", json=order_body(f"L-{i}", [("LAST", 1, "20.00")]),
                                 headers={"Idempotency-Key": f"L-{i}"}).status_code

        with ThreadPoolExecutor(max_workers=25) as pool:
            assert set(pool.map(post, range(ORDERS))) == {201}

        def settled():
            orders = list_orders(app.ctx, limit=ORDERS + 10)
            return orders if all(o["status"] in ("submitted", "on_hold") for o in orders) else None

        orders = wait_for(settled, timeout=180, interval=0.5)
        assert len(orders) == ORDERS
        sold = {name: sum(i["quantity"] for o in e.orders() for i in o["items"]) for name, e in emus.items()}
        assert sold == {"acme": 50, "globex": 30}
        assert sum(o["status"] == "on_hold" for o in orders) == ORDERS - 80
        refs = [o["reference"] for e in emus.values() for o in e.orders()]
        assert len(refs) == len(set(refs)) == 80  # and no order went out twice
        with app.ctx.uow(read_only=True) as uow:
            from sqlalchemy import select

            from dropbridge.domain.model import SupplierOffer

            offers = {o.supplier_sku + "@" + str(o.supplier_id): (o.stock, o.reserved)
                      for o in uow.session.scalars(select(SupplierOffer))}
        assert sorted(offers.values()) == [(30, 30), (50, 50)]
    finally:
        stop_workers(workers)
        api.stop()
        for e in (*emus.values(), store):
            e.stop()
