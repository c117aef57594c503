"""Periodic reconciliation pushes any listing whose store stock differs from what we promise (read back from
Shopify; against what we last pushed for a store that cannot be read), and recovery tells runs of a dead
process from runs still under way. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from dropbridge.domain.model import Job, Listing, SyncRun
from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.sandbox.shopify import ShopifyEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.publish_listings import publish_products, push_stock
from dropbridge.services.reconcile_stock import reconcile_all, reconcile_store
from dropbridge.services.recover_runs import recover_abandoned_runs
from dropbridge.services.sync_feed import sync_feed
from dropbridge.storage.run_owner import RUN_LOCK_CLASS, _start_time


def load(app, rows):
    text_ = "sku,qty,cost\n" + "".join(f"{s},{q},{c}\n" for s, q, c in rows)
    return sync_feed(app.ctx, "acme", io.BytesIO(text_.encode()), "feed.csv")


@pytest.fixture
def shopify(app):
    emu = ShopifyEmulator(shop="rec", static_tokens=("shpat_t",))
    emu.start()
    add_store(app.ctx, "shop", "shopify", emu.url, {"access_token": "shpat_t", "client_secret": emu.client_secret},
              {"api_version": emu.api_version})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    yield emu
    emu.stop()


def variant_ids(emu) -> dict[str, str]:
    return {v["sku"]: vid for vid, v in emu.variants.items()}


def test_a_store_whose_stock_drifted_is_pushed_back_to_what_we_promise(app, shopify):
    load(app, [("TEE", 20, "8.50"), ("MUG", 5, "3.20"), ("CAP", 7, "6.00")])
    publish_products(app.ctx, "shop")
    ids = variant_ids(shopify)
    assert reconcile_store(app.ctx, "shop").changes == 0  # in step: nothing to push
    shopify.create_order([{"variant_id": ids["MUG"], "quantity": 2}])  # sold in the store, not yet seen by us
    assert shopify.available(ids["MUG"]) == 3
    summary = reconcile_store(app.ctx, "shop")
    assert (summary.changes, summary.applied, summary.failed) == (1, 1, [])
    assert {s: shopify.available(v) for s, v in ids.items()} == {"TEE": 20, "MUG": 5, "CAP": 7}
    assert push_stock(app.ctx, "shop").changes == 0  # recorded as pushed


def test_a_store_that_cannot_be_read_is_compared_with_what_we_last_pushed(app):
    store = HeadlessStoreEmulator("s")
    store.start()
    try:
        add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "s"}, {})
        add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
        load(app, [("TEE", 20, "8.50"), ("MUG", 5, "3.20")])
        publish_products(app.ctx, "shop")
        # A push that never happened (the process died before the owed job ran): our record says 20 was sent.
        load(app, [("TEE", 11, "8.50"), ("MUG", 5, "3.20")])
        with app.ctx.uow() as uow:
            uow.session.execute(text("DELETE FROM jobs"))
            uow.commit()
        assert reconcile_all(app.ctx) == {"shop": "1 changes, 0 failed"}
        shown = store.stock()
        with app.ctx.uow(read_only=True) as uow:
            listings = {ls.external_variant_id: ls.pushed_stock for ls in uow.session.scalars(select(Listing))}
        assert sorted(shown.values()) == [5, 11] and sorted(listings.values()) == [5, 11]  # TEE put right
    finally:
        store.stop()


def running_run(app, owner: str) -> int:
    from dropbridge.domain.model import Supplier

    with app.ctx.uow() as uow:
        supplier = uow.session.scalars(select(Supplier)).first()
        run = uow.add(SyncRun(supplier_id=supplier.id, source="x.csv", mode="full", started_at=app.ctx.clock(),
                              report={"owner": owner}))
        uow.commit()
        return run.id


def test_recovery_leaves_a_run_of_a_live_process_alone(app, db_url):
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = f"{socket.gethostname()}/{child.pid}/{_start_time(child.pid)}"
        run_id = running_run(app, owner)
        holder = None
        if db_url.startswith("postgresql"):  # there, a live run is one whose session holds its lock
            holder = app.engine.connect()
            holder.execute(text("SELECT pg_advisory_lock(:k, :id)"), {"k": RUN_LOCK_CLASS, "id": run_id})
        assert recover_abandoned_runs(app.ctx) == []
        if holder is not None:  # the session ends, as it does when its process dies
            holder.invalidate()
            holder.close()
    finally:
        child.kill()
        child.wait()
    assert recover_abandoned_runs(app.ctx) == [run_id]
    with app.ctx.uow(read_only=True) as uow:
        run = uow.get(SyncRun, run_id)
        jobs = uow.session.scalars(select(Job)).all()
    assert run.status == "failed" and run.report["reason"].startswith("abandoned")
    assert jobs == []  # no store lists anything: nothing owed


def test_a_run_from_a_recycled_pid_is_abandoned(app):
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    if not _start_time(os.getpid()):
        pytest.skip("no /proc: process start times unknown here")
    stale = f"{socket.gethostname()}/{os.getpid()}/1"  # our pid, another process's start
    run_id = running_run(app, stale)
    assert recover_abandoned_runs(app.ctx) == [run_id]
