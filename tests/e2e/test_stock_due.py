"""A feed run marks, in its own transaction, the listings whose offers it changed; each store's push then reads
those alone, not the whole store. A mark stays until its listing's push succeeded, so a push that failed is
made by the next one. WooCommerce emulator over real HTTP; SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dropbridge.domain.errors import ExternalError
from dropbridge.domain.model import Job, Listing
from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.publish_listings import publish_products, push_stock

from .helpers import load_feed, run_due_jobs

SKUS = [f"S{i}" for i in range(10)]


@pytest.fixture
def woo(app):
    emu = WooCommerceEmulator()
    emu.start()
    conn = emu.connection()
    add_store(app.ctx, "woo", "woocommerce", conn["base_url"], conn["credentials"], conn.get("config", {}))
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    yield emu
    emu.stop()


def feed(app, qty: dict[str, int]):
    return load_feed(app.ctx, "acme", [(s, qty.get(s, 10), "5.00") for s in SKUS])


def shown(emu) -> dict[str, int]:
    return {p["sku"]: p["stock_quantity"] for p in emu.products.values()}


def due(app) -> dict[int, int]:
    with app.ctx.uow(read_only=True) as uow:
        return {ls.variant_id: ls.stock_due for ls in uow.session.scalars(select(Listing)) if ls.stock_due}


def test_a_feed_marks_only_what_it_changed_and_the_push_reads_only_that(app, woo):
    feed(app, {})
    publish_products(app.ctx, "woo")
    assert due(app) == {}
    feed(app, {"S3": 4, "S7": 0})
    assert len(due(app)) == 2
    summary = push_stock(app.ctx, "woo", due_only=True)
    assert (summary.listings, summary.changes, summary.applied) == (2, 2, 2)
    assert shown(woo) == {s: {"S3": 4, "S7": 0}.get(s, 10) for s in SKUS}
    assert due(app) == {}
    assert push_stock(app.ctx, "woo", due_only=True).listings == 0


def test_a_failed_push_leaves_its_marks_for_the_next_push(app, woo):
    feed(app, {})
    publish_products(app.ctx, "woo")
    feed(app, {"S1": 3})
    woo.fail_next(1)  # the store answers 500 to the batch: its outcome unknown, the job retries
    with pytest.raises(ExternalError):
        push_stock(app.ctx, "woo", due_only=True)
    assert shown(woo)["S1"] == 10 and len(due(app)) == 1
    # A later run that changes something else: its push still makes the one owed before.
    feed(app, {"S1": 3, "S2": 6})
    summary = push_stock(app.ctx, "woo", due_only=True)
    assert (summary.listings, summary.changes) == (2, 2)
    assert (shown(woo)["S1"], shown(woo)["S2"]) == (3, 6) and due(app) == {}


def test_the_feed_run_job_pushes_the_marked_listings(app, woo):
    feed(app, {})
    publish_products(app.ctx, "woo")
    feed(app, {"S5": 1})
    with app.ctx.uow(read_only=True) as uow:
        payloads = [j.payload for j in uow.session.scalars(select(Job).where(Job.kind == "push_stock"))]
    assert {"store": "woo", "due": True} in payloads
    assert run_due_jobs(app, "push_stock") == 1
    assert shown(woo)["S5"] == 1 and due(app) == {}
