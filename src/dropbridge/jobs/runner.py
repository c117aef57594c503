"""Runs outbox jobs: claim atomically, call the service, then close each claim as done, retry later
(backoff with jitter, honouring Retry-After) or failed (with an alert).

The order path (process_webhook, route_order, submit_supplier_order) also runs in batches: `run_jobs` claims
the jobs it was handed plus other due jobs of the same kind in one statement, hands them to the service's
batch function (one transaction for many), and closes the done ones in one statement. Each job still
succeeds, retries or fails on its own; a batch whose handler fails as a whole runs its jobs one by one.

A worker that dies mid-job leaves the row in flight; when its lease expires the sweeper hands it to
another worker, whose handler checks state before acting (and asks the supplier before re-sending)."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import timedelta

import structlog

from dropbridge.domain.errors import ConfigurationError, ExternalError, is_permanent
from dropbridge.domain.model import Job
from dropbridge.services.alert_delivery import deliver_alert, deliver_digest
from dropbridge.services.cancel_order import cancel_supplier_order
from dropbridge.services.follow_variants import follow_variants
from dropbridge.services.import_catalog import import_catalog_images
from dropbridge.services.inbound_events import process_webhook, process_webhooks
from dropbridge.services.place_supplier_order import place_supplier_order, place_supplier_orders
from dropbridge.services.publish_listings import push_stock
from dropbridge.services.push_delivery import push_delivery
from dropbridge.services.reconcile_invoice import fetch_supplier_invoice, reconcile_stored
from dropbridge.services.record_shipment import push_fulfillment
from dropbridge.services.records import BATCHED_JOB_KINDS, correlation_id, new_correlation_id, raise_alert
from dropbridge.services.reprice_listings import reprice_store
from dropbridge.services.route_order import route_order, route_orders

log = structlog.get_logger("dropbridge.jobs")

HANDLERS = {
    "route_order": lambda ctx, p, attempt: route_order(ctx, p["order_id"]),
    "submit_supplier_order": lambda ctx, p, attempt: place_supplier_order(ctx, p["supplier_order_id"], attempt),
    "push_fulfillment": lambda ctx, p, attempt: push_fulfillment(ctx, p["shipment_id"]),
    "process_webhook": lambda ctx, p, attempt: process_webhook(ctx, p["event_id"]),
    "push_stock": lambda ctx, p, attempt: push_stock(ctx, p["store"], due_only=p.get("due", False)).changes,
    "push_prices": lambda ctx, p, attempt: reprice_store(ctx, p["store"]).changes,
    "push_delivery": lambda ctx, p, attempt: push_delivery(ctx, p["store"]).changes,
    "follow_variants": lambda ctx, p, attempt: follow_variants(ctx, p["store"], p.get("products")).added,
    "cancel_supplier_order": lambda ctx, p, attempt: cancel_supplier_order(ctx, p["supplier_order_id"],
                                                                           p.get("late", False)),
    "catalog_images": lambda ctx, p, attempt: import_catalog_images(ctx, p["supplier"], p["work"]).images_stored,
    "deliver_alert": lambda ctx, p, attempt: deliver_alert(ctx, p["delivery_id"]),
    "deliver_digest": lambda ctx, p, attempt: deliver_digest(ctx, p["recipient_id"], p["up_to"]),
    "fetch_invoice": lambda ctx, p, attempt: fetch_supplier_invoice(ctx, p["supplier_order_id"]),
    "reconcile_invoice": lambda ctx, p, attempt: reconcile_stored(ctx, p["supplier_id"], p["invoice_id"],
                                                                  p.get("round", 0)),
}


# kind -> (the payload's id, the batch function: ctx, [(id, attempt)] -> {id: result or the exception}, the most
# jobs in one batch: None for `job_batch_size`). Supplier orders go out concurrently, one thread each, so a
# batch of them takes about two HTTP timeouts at worst (a look-up and a send), well inside the lease.
BATCH_HANDLERS = {
    "process_webhook": ("event_id", lambda ctx, items: process_webhooks(ctx, [i for i, _ in items]), None),
    "route_order": ("order_id", lambda ctx, items: route_orders(ctx, [i for i, _ in items]), None),
    "submit_supplier_order": ("supplier_order_id", place_supplier_orders, 16),
}
assert set(BATCH_HANDLERS) == BATCHED_JOB_KINDS


def backoff_seconds(settings, attempt: int, retry_after: float | None = None) -> float:
    """Exponential with full jitter, capped; never sooner than the other side asked."""
    cap = min(settings.job_backoff_max_seconds, settings.job_backoff_base_seconds * 2 ** max(0, attempt - 1))
    delay = random.uniform(cap / 2, cap)
    return max(delay, retry_after or 0.0)


def run_job(ctx, job_id: int) -> str:
    settings = ctx.settings
    claim = uuid.uuid4().hex
    now = ctx.clock()
    with ctx.uow() as uow:
        if not uow.jobs.claim(job_id, now, now + timedelta(seconds=settings.job_lease_seconds), claim):
            return "not claimable"
        job = uow.get(Job, job_id)
        uow.refresh(job)
        kind, payload, attempt = job.kind, dict(job.payload), job.attempts
        uow.commit()
    return _run_claimed(ctx, job_id, claim, kind, payload, attempt)


def _run_claimed(ctx, job_id: int, claim: str, kind: str, payload: dict, attempt: int) -> str:
    new_correlation_id()
    bound = log.bind(job=job_id, kind=kind, attempt=attempt, correlation_id=correlation_id.get())
    handler = HANDLERS.get(kind)
    try:
        if handler is None:
            raise ConfigurationError(f"no handler for job kind {kind!r}")
        result = handler(ctx, payload, attempt)
    except Exception as exc:  # permanent: stop and alert; otherwise (retryable, rate limited, auth, a bug) retry
        return _failed(ctx, job_id, claim, attempt, exc, bound)
    _close(ctx, job_id, claim, "done")
    bound.info("job done", result=result)
    return "done"


def _failed(ctx, job_id: int, claim: str, attempt: int, exc: Exception, bound) -> str:
    settings = ctx.settings
    if is_permanent(exc):
        bound.error("job failed permanently", error=str(exc))
        _close(ctx, job_id, claim, "failed", exc, alert=True)
        return "failed"
    retry_after = exc.retry_after if isinstance(exc, ExternalError) else None
    if attempt >= settings.job_max_attempts:
        bound.error("job gave up", error=str(exc))
        _close(ctx, job_id, claim, "failed", exc, alert=True)
        return "failed"
    delay = backoff_seconds(settings, attempt, retry_after)
    bound.warning("job will retry", error=str(exc), delay_s=round(delay, 2))
    _close(ctx, job_id, claim, "pending", exc, delay=delay)
    ctx.enqueue(job_id, delay)
    return "retry"


# Kinds whose batches queue on the same rows (routing: every order of a sale wants the same few offers), so a
# second batch of them in one process would only hold a thread while it waits: one thread per process runs
# them, and keeps taking batches while they are due; a thread that finds it busy leaves its jobs to it.
SERIAL_KINDS = {"route_order": threading.Lock()}


def run_jobs(ctx, job_ids: list[int]) -> dict[int, str]:
    """Run the claimable among `job_ids`, and with those of a batched kind up to `job_batch_size` other due
    jobs of their kind, under one claim: {job id: "done" | "retry" | "failed" | "not claimable"}. Jobs of
    other kinds run one at a time, each claimed as it starts (so none waits out its lease behind another);
    one of a serial kind another thread of this process runs is left to it."""
    sizes = _batch_sizes(ctx.settings)
    outcomes, skipped = _claim_and_run(ctx, job_ids, {k: n for k, n in sizes.items() if k not in SERIAL_KINDS})
    for kind, ids in sorted(skipped.items()):
        if kind not in SERIAL_KINDS or kind not in sizes:
            for job_id in ids:
                outcomes[job_id] = run_job(ctx, job_id)
            continue
        lock = SERIAL_KINDS[kind]
        first = job_ids
        while lock.acquire(blocking=False):
            try:
                outcomes.update(_drain(ctx, kind, first, sizes))
            finally:
                lock.release()
            # Jobs that arrived while the lock was being let go, when no other thread took it up.
            first = []
            ran, _ = _claim_and_run(ctx, [], {kind: sizes[kind]}, fill=(kind,))
            if not ran:
                break
            outcomes.update(ran)
    return outcomes


def _batch_sizes(settings) -> dict[str, int]:
    """The most jobs of each batched kind in one batch. Supplier orders are batched only when the lease covers
    a batch's sends (all at once: a look-up and a send each, two HTTP timeouts) with room to spare: past its
    lease another worker takes the job over, and may send what is still in flight."""
    sizes = {}
    for kind, (_, _, most) in BATCH_HANDLERS.items():
        if kind == "submit_supplier_order" and settings.job_lease_seconds < 4 * settings.http_timeout_seconds:
            continue
        sizes[kind] = min(settings.job_batch_size, most or settings.job_batch_size)
    return sizes


def _drain(ctx, kind: str, first: list[int], sizes: dict[str, int]) -> dict[int, str]:
    outcomes: dict[int, str] = {}
    while True:
        ran, _ = _claim_and_run(ctx, first, {kind: sizes[kind]}, fill=(kind,))
        if not ran:
            return outcomes
        outcomes.update(ran)
        first = []


def _claim_and_run(ctx, job_ids: list[int], sizes: dict[str, int], *,
                   fill: tuple[str, ...] = ()) -> tuple[dict[int, str], dict[str, list[int]]]:
    """Claim and run batches of the kinds in `sizes`; the due jobs of other kinds among `job_ids` are returned
    by kind, unclaimed."""
    settings = ctx.settings
    claim = uuid.uuid4().hex
    now = ctx.clock()
    with ctx.uow() as uow:
        claimed, left, skipped = uow.jobs.claim_batch(job_ids, sizes, now,
                                                      now + timedelta(seconds=settings.job_lease_seconds),
                                                      claim, fill=fill)
        uow.commit()
    if left:
        ctx.enqueue_all(left)  # more than one batch of a kind was handed over: the rest in their own batches
    by_kind: dict[str, list] = {}
    for job_id, kind, payload, attempt in claimed:
        by_kind.setdefault(kind, []).append((job_id, payload, attempt))
    outcomes: dict[int, str] = {}
    for kind, jobs in by_kind.items():
        outcomes.update(_run_batch(ctx, claim, kind, jobs))
    return outcomes, skipped


def _run_batch(ctx, claim: str, kind: str, jobs: list[tuple[int, dict, int]]) -> dict[int, str]:
    field, handler, _ = BATCH_HANDLERS[kind]
    new_correlation_id()
    bound = log.bind(kind=kind, size=len(jobs), correlation_id=correlation_id.get())
    try:
        results = handler(ctx, [(payload[field], attempt) for _, payload, attempt in jobs])
    except Exception as exc:  # noqa: BLE001 - the batch as a whole failed: each job on its own, as before
        bound.warning("job batch failed; running its jobs one by one", error=str(exc))
        return {job_id: _run_claimed(ctx, job_id, claim, kind, payload, attempt)
                for job_id, payload, attempt in jobs}
    outcomes, done = {}, []
    for job_id, payload, attempt in jobs:
        result = results[payload[field]]
        if isinstance(result, Exception):
            outcomes[job_id] = _failed(ctx, job_id, claim, attempt, result,
                                       bound.bind(job=job_id, attempt=attempt))
        else:
            done.append(job_id)
            outcomes[job_id] = "done"
    if done:
        with ctx.uow() as uow:
            uow.jobs.finish_done(done, claim, ctx.clock())
            uow.commit()
    bound.info("job batch done", done=len(done), failed_or_retry=len(jobs) - len(done))
    return outcomes


def _close(ctx, job_id, claim, status, exc=None, *, delay=None, alert=False) -> None:
    now = ctx.clock()
    error = f"{type(exc).__name__}: {exc}"[:2000] if exc else None
    with ctx.uow() as uow:
        available = now + timedelta(seconds=delay) if delay is not None else None
        if not uow.jobs.finish(job_id, claim, now, status=status, error=error, available_at=available):
            return  # our lease expired and another worker took over: its outcome stands
        if alert:
            job = uow.get(Job, job_id)
            # An alert that could not be delivered is shown on the dashboard only (its own kind is never
            # sent to recipients), so a receiver that is down does not feed on its own failures.
            kind = "alert.delivery_failed" if job.kind.startswith("deliver_") else "job.failed"
            raise_alert(uow, ctx, kind, f"{job.kind} {job.key} failed: {error}", severity="error",
                        dedupe_key=f"{kind}:{job.key}")
        uow.commit()


def sweep(ctx, grace_seconds: float | None = None) -> int:
    """Re-enqueue jobs that are due but may have been lost (queue restart, crashed worker)."""
    grace = ctx.settings.sweep_interval_seconds if grace_seconds is None else grace_seconds
    with ctx.uow(read_only=True) as uow:
        ids = uow.jobs.due(ctx.clock() - timedelta(seconds=grace))
    ctx.enqueue_all(ids)  # batched kinds go as batches where the queue takes them so
    return len(ids)
