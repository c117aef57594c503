"""The scaled queue: the same order flow with huey on Redis instead of SQLite; batches on both."""

from __future__ import annotations

import pytest
from huey import RedisHuey

from dropbridge.bootstrap import bootstrap
from dropbridge.domain.money import Money
from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.rest_supplier import RestSupplierEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.order_view import order_detail
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.storage.migrate import upgrade

from ..conftest import make_settings
from .helpers import load_feed, running, wait_for


def test_order_reaches_supplier_through_redis_queue(tmp_path, redis_url):
    app = bootstrap(make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", queue_url=redis_url))
    assert isinstance(app.huey, RedisHuey)
    upgrade(app.engine)
    emu = RestSupplierEmulator(api_key="k", name="acme", ship_after_seconds=None)
    store = HeadlessStoreEmulator("s")
    emu.start()
    store.start()
    try:
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "s"})
        add_supplier(app.ctx, "acme", "rest", emu.url, {"api_key": "k"}, {"currency": "USD"})
        load_feed(app.ctx, "acme", [("TEE", 10, "8.50")])
        with running(app):
            ext = ExternalOrder(external_id="R-1", currency="USD",
                                ship_to=Address(name="J", address1="1 Main", city="X", country_code="US"),
                                lines=[ExternalOrderLine("1", "TEE", 3, Money(2400, "USD"))])
            order_id = ingest_order(app.ctx, "shop", ext).order_id
            d = wait_for(lambda: (x := order_detail(app.ctx, order_id))["status"] == "submitted" and x)
        assert [(o["reference"], o["items"][0]["quantity"]) for o in emu.orders()] == [
            (d["supplier_orders"][0]["reference"], 3)]
    finally:
        emu.stop()
        store.stop()
        app.close()


@pytest.mark.parametrize("queue", ["redis", "sqlite"])
def test_a_batch_of_jobs_goes_to_the_queue_in_one_write_as_batches_in_order(tmp_path, queue, request):
    queue_url = request.getfixturevalue("redis_url") if queue == "redis" else f"sqlite:///{tmp_path / 'q.db'}"
    app = bootstrap(make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", queue_url=queue_url,
                                  job_batch_size=2))
    try:
        app.huey.flush()
        app.ctx.enqueue_many([7, 8, 9])
        app.ctx.enqueue_many([])  # a sweep that found nothing
        assert app.huey.pending_count() == 2  # one message per batch; a batch of one is a plain job
        assert [(m.name, m.args) for m in (app.huey.dequeue() for _ in range(2))] == [
            ("dropbridge.run_jobs", ([7, 8],)), ("dropbridge.run_job", (9,))]
    finally:
        app.huey.flush()
        app.close()
