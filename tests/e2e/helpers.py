"""Running dropbridge for real in tests: API server, in-process huey consumer, emulators."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time

from dropbridge.api.app import create_app
from dropbridge.domain.model import Job
from dropbridge.jobs.queue import Ticker
from dropbridge.jobs.runner import run_job
from dropbridge.sandbox.kit.server import start_server
from dropbridge.services.sync_feed import sync_feed

SHIP_TO = {"name": "Jane Doe", "address1": "1 Main St", "city": "Springfield", "postal_code": "12345",
           "country_code": "US"}


@contextlib.contextmanager
def running(app, *, workers: int = 2):
    """The API on a real port plus a worker consumer and the sweeper, as `dropbridge serve` runs them."""
    api = start_server(create_app(app))
    consumer = app.huey.create_consumer(workers=workers, worker_type="thread")
    ticker = Ticker(app.ctx, app.huey)
    consumer.start()
    ticker.start()
    try:
        yield api
    finally:
        ticker.stop()
        consumer.stop(graceful=True)
        api.stop()


def load_feed(ctx, supplier: str, rows: list[tuple[str, int, str]], extra: str = ""):
    text = "sku,qty,cost\n" + "".join(f"{s},{q},{c}\n" for s, q, c in rows) + extra
    return sync_feed(ctx, supplier, io.BytesIO(text.encode()), f"{supplier}.csv")


def order_body(external_id: str, lines, store: str = "shop", shipping: str = "0.00") -> dict:
    return {"store": store, "external_id": external_id, "currency": "USD", "ship_to": dict(SHIP_TO),
            "shipping_price": shipping,
            "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines]}


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def start_worker(settings, **env_overrides) -> subprocess.Popen:
    """`dropbridge worker` as its own process, on the same database and queue as `settings`."""
    env = {**os.environ,
           "DROPBRIDGE_DATA_DIR": str(settings.data_dir),
           "DROPBRIDGE_DATABASE_URL": settings.resolved_database_url,
           "DROPBRIDGE_QUEUE_URL": settings.resolved_queue_url,
           "DROPBRIDGE_SECRET_KEYS": settings.secret_keys,
           "DROPBRIDGE_HTTP_TIMEOUT_SECONDS": "2",
           "DROPBRIDGE_JOB_LEASE_SECONDS": "3",
           "DROPBRIDGE_SWEEP_INTERVAL_SECONDS": "0.5",
           "DROPBRIDGE_JOB_BACKOFF_BASE_SECONDS": "0.2",
           "DROPBRIDGE_JOB_BACKOFF_MAX_SECONDS": "1",
           "DROPBRIDGE_LOG_LEVEL": "WARNING",
           **env_overrides}
    return subprocess.Popen([sys.executable, "-m", "dropbridge.cli", "worker", "--threads", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_workers(workers) -> None:
    for w in workers:
        if w.poll() is None:
            w.terminate()
    for w in workers:
        try:
            w.wait(timeout=15)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


def run_due_jobs(app, kind: str) -> int:
    """Run every due job of `kind` inline (what a worker does after the commit that scheduled it); how many ran."""
    with app.ctx.uow(read_only=True) as uow:
        ids = [i for i in uow.jobs.due(app.ctx.clock()) if uow.get(Job, i).kind == kind]
    for job_id in ids:
        assert run_job(app.ctx, job_id) == "done"
    return len(ids)


def run_cli(app, *args) -> str:
    """`dropbridge ARGS` as a merchant types it, on the test's database (a process each, about two seconds:
    few per test); its standard output, after checking it succeeded."""
    s = app.ctx.settings
    env = {**os.environ, "DROPBRIDGE_DATA_DIR": str(s.data_dir), "DROPBRIDGE_DATABASE_URL": s.resolved_database_url,
           "DROPBRIDGE_QUEUE_URL": s.resolved_queue_url, "DROPBRIDGE_SECRET_KEYS": s.secret_keys, "COLUMNS": "250"}
    proc = subprocess.run([sys.executable, "-m", "dropbridge.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout
