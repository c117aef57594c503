"""Small writers every use case shares: audit events, alerts and owed work (outbox jobs).

Secrets never reach an audit record: `detail` is scrubbed of credential-looking keys."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

import structlog

from dropbridge.domain.model import Alert, AuditEvent, Job

log = structlog.get_logger("dropbridge")
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_SECRET_WORDS = ("secret", "token", "password", "api_key", "apikey", "credential", "authorization", "key")


def new_correlation_id() -> str:
    cid = uuid.uuid4().hex[:16]
    correlation_id.set(cid)
    return cid


def scrub(detail: Any) -> Any:
    """Mask values whose key names a secret, recursively."""
    if isinstance(detail, dict):
        return {
            k: ("***" if any(w in str(k).lower() for w in _SECRET_WORDS) and k != "idempotency_key" else scrub(v))
            for k, v in detail.items()
        }
    if isinstance(detail, list):
        return [scrub(v) for v in detail]
    return detail


def audit_row(ctx, action: str, subject: str, detail: dict | None = None, *, store_id=None,
              supplier_id=None) -> dict:
    """An audit event's values (scrubbed), for `audit()` or a writer that inserts rows itself."""
    return {"actor": ctx.actor, "action": action, "subject": subject, "detail": scrub(detail or {}),
            "correlation_id": correlation_id.get(), "store_id": store_id, "supplier_id": supplier_id,
            "at": ctx.clock()}


def audit(uow, ctx, action: str, subject: str, detail: dict | None = None, *, store_id=None, supplier_id=None):
    uow.add(AuditEvent(**audit_row(ctx, action, subject, detail, store_id=store_id, supplier_id=supplier_id)))


def raise_alert(uow, ctx, kind: str, message: str, *, severity: str = "warning", dedupe_key: str | None = None,
                **refs) -> Alert:
    """The one way an alert is raised. The same condition (`dedupe_key`; by default the kind and what it is
    about) raises one alert until it is resolved: raising it again counts an occurrence. A new alert is
    handed to its recipients (email, webhook; at once or in a digest) through the outbox."""
    key = dedupe_key or ":".join([kind, *(f"{k}={v}" for k, v in sorted(refs.items()) if v is not None)])
    now = ctx.clock()
    alert, created = uow.alerts.raise_or_touch(Alert(kind=kind, severity=severity, message=message, created_at=now,
                                                     last_seen_at=now, dedupe_key=key[:300], **refs))
    if created:
        from .alert_delivery import fan_out

        fan_out(uow, ctx, alert)
        log.warning("alert", kind=kind, message=message, **refs)
    return alert


def job_row(ctx, kind: str, key: str, payload: dict | None = None, *, delay: float = 0) -> dict:
    """A new outbox row's values (pending, due after `delay` seconds)."""
    now = ctx.clock()
    return {"kind": kind, "key": key, "payload": payload or {}, "status": "pending", "attempts": 0,
            "available_at": now + timedelta(seconds=delay), "created_at": now, "updated_at": now}


# Kinds the job runner takes many at a time (jobs/runner.py BATCH_HANDLERS); `schedule(..., batch=True)` hands
# such jobs of one transaction to the queue in one call, as one message per batch.
BATCHED_JOB_KINDS = frozenset({"process_webhook", "route_order", "submit_supplier_order"})


def schedule(uow, ctx, kind: str, key: str, payload: dict | None = None, *, delay: float = 0,
             new: bool = False, batch: bool = False) -> Job:
    """Record owed work in the current transaction; hand it to the queue only after commit.
    The unique key makes scheduling the same work twice a no-op (`new`: the caller knows the key cannot be
    taken yet, so it is not looked up; were it taken, the insert would fail). `batch`: a job of a batched
    kind handed to the queue in one call with the others of this transaction (a routing batch's supplier
    orders), as one message per batch."""
    existing = None if new else uow.jobs.by_key(key)
    if existing is not None:
        return existing
    job = uow.add(Job(**job_row(ctx, kind, key, payload, delay=delay)))
    uow.flush()
    if delay <= 0:
        job_id = job.id
        if batch and kind in BATCHED_JOB_KINDS:
            uow.after_commit_each(ctx.enqueue_all, job_id)
        else:
            uow.after_commit(lambda: ctx.enqueue(job_id))
    return job


def schedule_repricing(uow, ctx, reason: str, store_ids: list[tuple[int, str]] | None = None) -> None:
    """Owe every store with listings (or the given (id, name) pairs) a re-pricing, in `uow`'s transaction;
    `reason` makes the job key unique per cause (a run id, an import, a decision)."""
    for store_id, store_name in (store_ids if store_ids is not None else uow.listings.stores_with_listings()):
        schedule(uow, ctx, "push_prices", f"prices:{store_id}:{reason}", {"store": store_name})


def schedule_delivery(uow, ctx, reason: str, store_ids: list[tuple[int, str]] | None = None, *,
                      delay: float = 0) -> None:
    """Owe every store with listings (or the given (id, name) pairs) a delivery-window push
    (services/push_delivery.py: only windows that changed go out); `reason` makes the job key unique."""
    for store_id, store_name in (store_ids if store_ids is not None else uow.listings.stores_with_listings()):
        schedule(uow, ctx, "push_delivery", f"delivery:{store_id}:{reason}", {"store": store_name}, delay=delay)
