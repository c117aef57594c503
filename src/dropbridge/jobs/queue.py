"""The job engine: huey (SQLite storage embedded, Redis when scaled). It carries job ids only; our
`jobs` table is the record of work, so a lost queue message delays work but never loses it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import structlog
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.storage import RedisStorage, SqliteStorage

from dropbridge.services.collect_documents import collect_documents
from dropbridge.services.feed_sources import fetch_due_feeds
from dropbridge.services.overdue import check_overdue
from dropbridge.services.pull_orders import pull_all
from dropbridge.services.record_shipment import poll_tracking
from dropbridge.services.sync_catalog import pull_due_catalogs

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
        path.parent.mkdir(parents=True, exist_ok=True)
        return DropbridgeSqliteHuey(name, filename=str(path))
    if queue_url == "memory://":
        return MemoryHuey(name)
    raise ValueError(f"unsupported DROPBRIDGE_QUEUE_URL {queue_url!r} (sqlite:///path, redis://host, memory://)")


def register_tasks(huey: Huey, ctx):
    """Define the tasks on this huey instance and return `enqueue(job_id, delay=0)`."""

    @huey.task(name="dropbridge.run_job")
    def run_job_task(job_id: int):
        return runner.run_job(ctx, job_id)

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

    @huey.task(name="dropbridge.check_overdue")
    def check_overdue_task():
        return check_overdue(ctx)

    def enqueue(job_id: int, delay: float = 0) -> None:
        if delay and delay > 0:
            run_job_task.schedule((job_id,), delay=delay)
        else:
            run_job_task(job_id)

    def enqueue_many(job_ids: list[int]) -> None:
        # Order intake hands over a batch at a time: one queue write for all of it where the storage can.
        if hasattr(huey.storage, "enqueue_many"):
            huey.storage.enqueue_many([huey.serialize_task(run_job_task.s(job_id)) for job_id in job_ids])
        else:
            for job_id in job_ids:
                run_job_task(job_id)

    ctx.enqueue = enqueue
    ctx.enqueue_many = enqueue_many
    # What the ticker starts, each on its own period (settings attribute -> task).
    huey.dropbridge_periodic = {
        "tracking_poll_seconds": poll_tracking_task,
        "order_pull_seconds": pull_orders_task,
        "feed_check_seconds": fetch_feeds_task,
        "catalog_check_seconds": pull_catalogs_task,
        "inbox_poll_seconds": collect_documents_task,
        "overdue_check_seconds": check_overdue_task,
    }
    return enqueue


class Ticker:
    """The periodic part: the sweeper every few seconds and the tracking poll. Run it in exactly one
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
        due = {name: time.monotonic() + getattr(settings, name) for name in periodic}
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
