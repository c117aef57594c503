"""Feed sync killed (kill -9) at random points, on SQLite and PostgreSQL: after recovery (what `serve` and
`worker` do at start-up, then the feed run again and the owed jobs run) the store shows the new stock and
no run stays `running`.

The store is the headless store emulator over real HTTP; the feed sync is `dropbridge sync feed` in its own
process, killed somewhere between its start and its end (measured on an uncut run first)."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from dropbridge.domain.model import SyncRun
from dropbridge.jobs.runner import run_job
from dropbridge.sandbox.headless_store import HeadlessStoreEmulator
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.publish_listings import publish_products, push_stock
from dropbridge.services.recover_runs import recover_abandoned_runs
from dropbridge.services.sync_feed import sync_feed

from .cli_tools import cli_env

# At least 20 random kill points per database (issue #10); DROPBRIDGE_CRASH_TRIALS=200 for a soak.
TRIALS = int(os.environ.get("DROPBRIDGE_CRASH_TRIALS", "20"))
SKUS = 400


def feed_text(flip: int) -> bytes:
    # Every SKU's stock differs between the two feeds, so every kill point matters to every listing.
    return ("sku,qty,cost\n" + "".join(f"SKU-{i:05d},{(i * 7 + flip * 13) % 50 + flip},{i % 90 + 1}.25\n"
                                        for i in range(SKUS))).encode()


def expected(flip: int) -> dict[str, int]:
    return {f"SKU-{i:05d}": (i * 7 + flip * 13) % 50 + flip for i in range(SKUS)}


@pytest.fixture
def world(app):
    store = HeadlessStoreEmulator("store-secret")
    store.start()
    add_store(app.ctx, "shop", "headless", store.events_url, {"webhook_secret": "store-secret"}, {})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "USD"})
    yield app, store
    store.stop()


def run_owed_jobs(ctx) -> None:
    """What the worker would do: every due job, until none is left."""
    for _ in range(20):
        with ctx.uow(read_only=True) as uow:
            ids = uow.jobs.due(ctx.clock() + timedelta(hours=1))
        if not ids:
            return
        for job_id in ids:
            run_job(ctx, job_id)
    raise AssertionError("jobs still due after 20 rounds")


def store_stock(app, store) -> dict[str, int]:
    with app.ctx.uow(read_only=True) as uow:
        listings = uow.listings.for_store(uow.stores.by_name("shop").id)
        skus = uow.catalog.variants_by_id([ls.variant_id for ls in listings])
    shown = store.stock()
    return {skus[ls.variant_id].sku: shown.get(ls.external_variant_id) for ls in listings}


def last_run_id(app) -> int:
    with app.ctx.uow(read_only=True) as uow:
        return uow.session.scalar(select(SyncRun.id).order_by(SyncRun.id.desc()).limit(1)) or 0


def running_runs(app) -> list[int]:
    with app.ctx.uow(read_only=True) as uow:
        return [r.id for r in uow.session.scalars(select(SyncRun).where(SyncRun.status == "running"))]


def recover(app) -> list[int]:
    """Start-up recovery. On PostgreSQL the killed process's server session may still be finishing its last
    statement (and holding the run's lock) for a moment: a restart a moment later finds it gone."""
    recovered: list[int] = []
    deadline = time.monotonic() + 30
    while True:
        recovered += recover_abandoned_runs(app.ctx)
        if not running_runs(app) or time.monotonic() > deadline:
            return recovered
        time.sleep(0.2)


@pytest.mark.timeout(900)  # 20 processes started and killed per database
def test_feed_sync_killed_at_random_points_ends_with_the_new_stock(world, tmp_path):
    app, store = world
    ctx = app.ctx
    files = {}
    for flip in (0, 1):
        files[flip] = tmp_path / f"feed{flip}.csv"
        files[flip].write_bytes(feed_text(flip))
    sync_feed(ctx, "acme", io.BytesIO(feed_text(0)), "feed0.csv")
    assert len(publish_products(ctx, "shop", limit=SKUS)) == SKUS
    sync_feed(ctx, "acme", io.BytesIO(feed_text(1)), "feed1.csv")  # the store shows what a push sets
    assert push_stock(ctx, "shop").changes == SKUS
    assert store_stock(app, store) == expected(1)

    env = cli_env(app.settings, DROPBRIDGE_LOG_LEVEL="ERROR")
    command = [sys.executable, "-m", "dropbridge.cli", "sync", "feed", "acme"]
    # An uncut run first: how long a run takes from its row to its commit.
    done = subprocess.run([*command, str(files[0])], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    run_owed_jobs(ctx)
    assert store_stock(app, store) == expected(0)

    with ctx.uow(read_only=True) as uow:
        last = uow.session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
    run_time = (last.finished_at - last.started_at).total_seconds()  # from the run's row to its commit
    rng = random.Random(int(os.environ.get("DROPBRIDGE_CRASH_SEED", "20240607")))
    current, killed_mid_run, outcomes = 0, 0, []
    for trial in range(TRIALS):
        target = 1 - current
        before = last_run_id(app)
        proc = subprocess.Popen([*command, str(files[target])], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # Kill somewhere from the run row's creation to well past its usual end (after its commit, too).
        while last_run_id(app) == before and proc.poll() is None:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, run_time * 1.8))
        finished_first = proc.poll() is not None
        if not finished_first:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        abandoned = recover(app)
        killed_mid_run += bool(abandoned)
        assert running_runs(app) == [], f"trial {trial}: a run stayed running"
        # The operator (or the feed URL schedule) runs the feed again; the worker runs what is owed.
        again = sync_feed(ctx, "acme", io.BytesIO(feed_text(target)), f"feed{target}.csv")
        assert again.status == "applied"
        run_owed_jobs(ctx)
        assert store_stock(app, store) == expected(target), f"trial {trial}: the store kept other stock"
        assert running_runs(app) == []
        outcomes.append("finished" if finished_first else ("abandoned" if abandoned else "killed after"))
        current = target
    print(f"run {run_time:.3f}s; outcomes {outcomes}")
    # The kills landed inside runs, not only before or after them.
    assert killed_mid_run >= 3, outcomes
