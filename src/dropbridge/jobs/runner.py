"""Runs one outbox job: claim it atomically, call its service, then close the claim as done, retry
later (backoff with jitter, honouring Retry-After) or failed (with an alert).

A worker that dies mid-job leaves the row in flight; when its lease expires the sweeper hands it to
another worker, whose handler checks state before acting (and asks the supplier before re-sending)."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import structlog

from dropbridge.domain.errors import ConfigurationError, ExternalError, is_permanent
from dropbridge.domain.model import Job
from dropbridge.services.alert_delivery import deliver_alert, deliver_digest
from dropbridge.services.cancel_order import cancel_supplier_order
from dropbridge.services.follow_variants import follow_variants
from dropbridge.services.import_catalog import import_catalog_images
from dropbridge.services.inbound_events import process_webhook
from dropbridge.services.place_supplier_order import place_supplier_order
from dropbridge.services.publish_listings import push_stock
from dropbridge.services.push_delivery import push_delivery
from dropbridge.services.reconcile_invoice import fetch_supplier_invoice, reconcile_stored
from dropbridge.services.record_shipment import push_fulfillment
from dropbridge.services.records import correlation_id, new_correlation_id, raise_alert
from dropbridge.services.reprice_listings import reprice_store
from dropbridge.services.route_order import route_order

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
    new_correlation_id()
    bound = log.bind(job=job_id, kind=kind, attempt=attempt, correlation_id=correlation_id.get())
    handler = HANDLERS.get(kind)
    try:
        if handler is None:
            raise ConfigurationError(f"no handler for job kind {kind!r}")
        result = handler(ctx, payload, attempt)
    except Exception as exc:  # permanent: stop and alert; otherwise (retryable, rate limited, auth, a bug) retry
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
    _close(ctx, job_id, claim, "done")
    bound.info("job done", result=result)
    return "done"


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
    for job_id in ids:
        ctx.enqueue(job_id, 0)
    return len(ids)
