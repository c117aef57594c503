"""The job engine: huey (SQLite storage embedded, Redis when scaled). It carries job ids only; our
`jobs` table is the record of work, so a lost queue message delays work but never loses it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import structlog
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.storage import RedisStorage, SqliteStorage

from dropbridge.fileperms import private_sqlite
from dropbridge.services.acknowledgement_deadlines import check_acknowledgement_deadlines
from dropbridge.services.alert_checks import run_checks
from dropbridge.services.collect_documents import collect_documents
from dropbridge.services.feed_sources import fetch_due_feeds
from dropbridge.services.fx import scheduled_fx_import
from dropbridge.services.pull_orders import pull_all
from dropbridge.services.reconcile_stock import reconcile_all
from dropbridge.services.record_shipment import poll_tracking
from dropbridge.services.recover_runs import recover_abandoned_runs
from dropbridge.services.retention import purge_webhook_bodies
from dropbridge.services.sync_catalog import pull_due_catalogs
from dropbridge.services.unpaid_orders import alert_unpaid_supplier_orders

from . import runner

log = structlog.get_logger("dropbridge.queue")


class _WalNormalSqliteStorage(SqliteStorage):
    """huey's SQLite storage with `synchronous=NORMAL` (WAL), as our own database runs. huey offers FULL
    (an fsync per enqueue, paid by every request that schedules work: 0.26 ms against 0.06 ms per enqueue
    on this project's VM disk, more on slower disks) or OFF (corruptible on power loss). NORMAL never
    corrupts; a power cut may lose the last few enqueues, and losing an enqueue is harmless here: the job
    row is committed in our database first and the sweeper re-enqueues it."""

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


    def enqueue_many(self, datas: list[bytes]) -> None:
        """Many messages in one queue transaction."""
        self.sql_many("insert into task (queue, data, priority) values (?, ?, ?)",
                      [(self.name, self.to_blob(data), 0) for data in datas])

    def sql_many(self, query: str, rows: list[tuple]) -> None:
        with self.db(commit=True) as cursor:
            cursor.executemany(query, rows)


class _BatchingRedisStorage(RedisStorage):
    def enqueue_many(self, datas: list[bytes]) -> None:
        """Many messages in one LPUSH (one round trip); the consumer pops from the other end, so they
        run in the order given."""
        self.conn.lpush(self.queue_key, *datas)


class DropbridgeSqliteHuey(SqliteHuey):
    storage_class = _WalNormalSqliteStorage


class DropbridgeRedisHuey(RedisHuey):
    storage_class = _BatchingRedisStorage


def build_huey(queue_url: str, name: str = "dropbridge") -> Huey:
    if queue_url.startswith(("redis://", "rediss://", "unix://")):
        return DropbridgeRedisHuey(name, url=queue_url)
    if queue_url.startswith("sqlite:///"):
        path = Path(queue_url.removeprefix("sqlite:///"))
        private_sqlite(path)  # job ids only, but beside the database and as private
        return DropbridgeSqliteHuey(name, filename=str(path))
    if queue_url == "memory://":
        return MemoryHuey(name)
    raise ValueError(f"unsupported DROPBRIDGE_QUEUE_URL {queue_url!r} (sqlite:///path, redis://host, memory://)")


def register_tasks(huey: Huey, ctx):
    """Define the tasks on this huey instance and return `enqueue(job_id, delay=0)`."""

    @huey.task(name="dropbridge.run_job")
    def run_job_task(job_id: int):
        return runner.run_job(ctx, job_id)

    @huey.task(name="dropbridge.run_jobs")
    def run_jobs_task(job_ids: list[int]):
        return runner.run_jobs(ctx, job_ids)

    @huey.task(name="dropbridge.poll_tracking")
    def poll_tracking_task():
        return poll_tracking(ctx)

    @huey.task(name="dropbridge.pull_orders")
    def pull_orders_task():
        return pull_all(ctx)

    @huey.task(name="dropbridge.fetch_feeds")
    def fetch_feeds_task():
        return fetch_due_feeds(ctx)

    @huey.task(name="dropbridge.pull_catalogs")
    def pull_catalogs_task():
        return pull_due_catalogs(ctx)

    @huey.task(name="dropbridge.collect_documents")
    def collect_documents_task():
        return collect_documents(ctx)

    @huey.task(name="dropbridge.check_deadlines")
    def check_deadlines_task():
        return check_acknowledgement_deadlines(ctx)

    @huey.task(name="dropbridge.check_unpaid")
    def check_unpaid_task():
        return alert_unpaid_supplier_orders(ctx)

    @huey.task(name="dropbridge.alert_checks")
    def alert_checks_task():
        return run_checks(ctx)

    @huey.task(name="dropbridge.reconcile_stock")
    def reconcile_stock_task():
        # Runs a feed sync's process abandoned are closed first: they owe the pushes this then makes.
        recover_abandoned_runs(ctx)
        return reconcile_all(ctx)

    @huey.task(name="dropbridge.purge_webhooks")
    def purge_webhooks_task():
        return purge_webhook_bodies(ctx)

    @huey.task(name="dropbridge.import_fx")
    def import_fx_task():
        return scheduled_fx_import(ctx)

    def enqueue(job_id: int, delay: float = 0) -> None:
        if delay and delay > 0:
            run_job_task.schedule((job_id,), delay=delay)
        else:
            run_job_task(job_id)

    def enqueue_many(job_ids: list[int]) -> None:
        # Order intake and the order path's batches hand over many jobs at a time: one message per batch (the
        # worker claims them together and runs batched kinds as one), in one queue write where the storage can.
        if not job_ids:
            return
        size = max(1, ctx.settings.job_batch_size)
        chunks = [job_ids[i:i + size] for i in range(0, len(job_ids), size)]
        tasks = [run_job_task.s(chunk[0]) if len(chunk) == 1 else run_jobs_task.s(chunk) for chunk in chunks]
        if hasattr(huey.storage, "enqueue_many"):
            huey.storage.enqueue_many([huey.serialize_task(task) for task in tasks])
        else:
            for task in tasks:
                huey.enqueue(task)

    ctx.enqueue = enqueue
    ctx.enqueue_many = enqueue_many
    # What the ticker starts, each on its own period (settings attribute -> task).
    huey.dropbridge_periodic = {
        "tracking_poll_seconds": poll_tracking_task,
        "order_pull_seconds": pull_orders_task,
        "feed_check_seconds": fetch_feeds_task,
        "catalog_check_seconds": pull_catalogs_task,
        "document_poll_seconds": collect_documents_task,
        "deadline_check_seconds": check_deadlines_task,
        "unpaid_check_seconds": check_unpaid_task,
        "alert_check_seconds": alert_checks_task,
        "stock_reconcile_seconds": reconcile_stock_task,
        "webhook_purge_seconds": purge_webhooks_task,
        "fx_import_seconds": import_fx_task,
    }
    # Run once when the ticker starts as well: a day-long period would otherwise leave a restarted deployment
    # on old rates until the next day.
    huey.dropbridge_at_start = {"fx_import_seconds"}
    return enqueue


class Ticker:
    """The periodic part: the sweeper every few seconds, the tracking poll, order pull, feed URL checks,
    stock reconciliation and the purge of old raw webhook bodies. Run it in exactly one
    process per deployment (serve, or one `worker --scheduler`); sweeping twice is harmless anyway,
    since claims are atomic."""

    def __init__(self, ctx, huey: Huey):
        self.ctx = ctx
        self.huey = huey
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dropbridge-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        settings = self.ctx.settings
        periodic = self.huey.dropbridge_periodic
        at_start = getattr(self.huey, "dropbridge_at_start", set())
        due = {name: time.monotonic() + (0 if name in at_start else getattr(settings, name)) for name in periodic}
        while not self._stop.is_set():
            try:
                runner.sweep(self.ctx)
                for name, task in periodic.items():
                    if time.monotonic() >= due[name]:
                        task()  # runs on a worker; the ticker only announces it
                        due[name] = time.monotonic() + getattr(settings, name)
            except Exception as exc:  # the ticker must outlive a database hiccup
                log.warning("ticker error", error=str(exc))
            self._stop.wait(settings.sweep_interval_seconds)
