"""Alerts that reach people: each new alert is handed to every matching recipient, by email or signed
webhook, at once or in an hourly or daily digest. Delivery runs through the outbox (a job per delivery,
retried with backoff), and the delivery row says whether it was sent, so each alert arrives once."""

from __future__ import annotations

import fnmatch
import json
from datetime import datetime, timedelta

from dropbridge.domain.errors import ConfigurationError, NotFound, ValidationError
from dropbridge.domain.model import Alert, AlertDelivery, AlertRecipient

from .ports import AlertMessage
from .records import audit, schedule

CHANNELS = ("email", "webhook")
SCHEDULES = ("immediate", "hourly", "daily")
SEVERITIES = ("info", "warning", "error")
# Never sent to recipients: a delivery that failed is reported on the dashboard only.
DASHBOARD_ONLY = {"alert.delivery_failed"}


def matches(recipient: AlertRecipient, alert: Alert) -> bool:
    if not recipient.active or alert.kind in DASHBOARD_ONLY:
        return False
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    if rank.get(alert.severity, 1) < rank.get(recipient.min_severity, 0):
        return False
    return any(fnmatch.fnmatchcase(alert.kind, pattern) for pattern in (recipient.kinds or ["*"]))


def fan_out(uow, ctx, alert: Alert) -> None:
    """Called by raise_alert for a new alert, inside its transaction."""
    targets = [r for r in uow.alerts.recipients() if matches(r, alert)]
    if not targets:
        return
    uow.flush()  # the alert's id
    now = ctx.clock()
    for recipient in targets:
        delivery = uow.add(AlertDelivery(alert_id=alert.id, recipient_id=recipient.id, created_at=now,
                                         status="pending" if recipient.schedule == "immediate" else "queued"))
        if recipient.schedule == "immediate":
            uow.flush()
            schedule(uow, ctx, "deliver_alert", f"alert-delivery:{delivery.id}", {"delivery_id": delivery.id})


def _describe(alert: Alert) -> dict:
    return {"id": alert.id, "kind": alert.kind, "severity": alert.severity, "message": alert.message,
            "order_id": alert.order_id, "supplier_id": alert.supplier_id, "store_id": alert.store_id,
            "created_at": alert.created_at.isoformat() if alert.created_at else None}


def alert_message(alert: Alert, delivery_id: int, base_url: str | None = None) -> AlertMessage:
    link = f"\n\n{base_url.rstrip('/')}/alerts" if base_url else ""
    return AlertMessage(
        subject=f"[dropbridge] {alert.severity}: {alert.kind}",
        text=f"{alert.message}\n\nkind: {alert.kind}\nseverity: {alert.severity}\nraised: {alert.created_at}{link}\n",
        payload={"type": "alert", "delivery_id": delivery_id, "alert": _describe(alert)},
        message_id=f"<alert-delivery-{delivery_id}@dropbridge>")


def digest_message(recipient: AlertRecipient, alerts: list[Alert], up_to: int,
                   base_url: str | None = None) -> AlertMessage:
    lines = [f"- [{a.severity}] {a.kind}: {a.message}" for a in alerts]
    link = f"\n{base_url.rstrip('/')}/alerts\n" if base_url else ""
    return AlertMessage(
        subject=f"[dropbridge] {len(alerts)} alert(s), {recipient.schedule} digest",
        text="\n".join(lines) + "\n" + link,
        payload={"type": "digest", "recipient": recipient.name, "alerts": [_describe(a) for a in alerts]},
        message_id=f"<alert-digest-{recipient.id}-{up_to}@dropbridge>")


def _send(ctx, recipient: AlertRecipient, message: AlertMessage) -> None:
    channels = ctx.alert_channels
    if recipient.channel == "email":
        if channels is None or channels.email is None:
            raise ConfigurationError("email alerts need DROPBRIDGE_SMTP_HOST (and the other SMTP settings)")
        channels.email.send(recipient.target, message)
    elif recipient.channel == "webhook":
        secret = ctx.vault.decrypt(f"alert_recipient:{recipient.id}", recipient.secret).get("secret") \
            if recipient.secret else None
        channels.webhook.post(recipient.target, secret, message)
    else:
        raise ConfigurationError(f"unknown alert channel {recipient.channel!r}")


def deliver_alert(ctx, delivery_id: int) -> str:
    """The job: send one alert to one recipient, unless it was sent already."""
    with ctx.uow(read_only=True) as uow:
        delivery = uow.get(AlertDelivery, delivery_id)
        if delivery is None:
            raise NotFound(f"no alert delivery {delivery_id}")
        if delivery.status != "pending":
            return f"already {delivery.status}"
        recipient = uow.get(AlertRecipient, delivery.recipient_id)
        alert = uow.get(Alert, delivery.alert_id)
    try:
        _send(ctx, recipient, alert_message(alert, delivery_id, _base_url(ctx)))
    except Exception as exc:
        _note_error(ctx, [delivery_id], exc)
        raise
    _mark_sent(ctx, [delivery_id], f"alert:{alert.id}", recipient)
    return "sent"


def deliver_digest(ctx, recipient_id: int, up_to: int) -> str:
    """The job: every alert queued for a digest recipient up to delivery `up_to`, in one message."""
    with ctx.uow(read_only=True) as uow:
        recipient = uow.get(AlertRecipient, recipient_id)
        if recipient is None:
            return "recipient removed"
        queued = uow.alerts.queued(recipient_id, up_to)
        if not queued:
            return "nothing queued"
        alerts = [uow.get(Alert, d.alert_id) for d in queued]
    ids = [d.id for d in queued]
    try:
        _send(ctx, recipient, digest_message(recipient, alerts, up_to, _base_url(ctx)))
    except Exception as exc:
        _note_error(ctx, ids, exc)
        raise
    _mark_sent(ctx, ids, f"digest:{recipient.id}:{up_to}", recipient)
    return f"sent {len(ids)}"


def _base_url(ctx) -> str | None:
    return getattr(ctx.settings, "public_url", None) if ctx.settings is not None else None


def _note_error(ctx, delivery_ids: list[int], exc: Exception) -> None:
    with ctx.uow() as uow:
        for delivery_id in delivery_ids:
            delivery = uow.get(AlertDelivery, delivery_id)
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        uow.commit()


def _mark_sent(ctx, delivery_ids: list[int], what: str, recipient: AlertRecipient) -> None:
    with ctx.uow() as uow:
        now = ctx.clock()
        for delivery_id in delivery_ids:
            delivery = uow.get(AlertDelivery, delivery_id)
            delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
        audit(uow, ctx, "alert.delivered", what, {"recipient": recipient.name, "channel": recipient.channel,
                                                 "deliveries": len(delivery_ids)})
        uow.commit()


def schedule_digests(ctx, now: datetime | None = None) -> int:
    """Start a digest job for each digest recipient whose period has ended with alerts queued before it.
    The job's key names the period, so a second scheduler tick schedules nothing new."""
    now = now or ctx.clock()
    started = 0
    with ctx.uow() as uow:
        recipients = {r.id: r for r in uow.alerts.recipients(active_only=False)}
        for recipient_id, up_to, oldest in uow.alerts.queued_summary():
            recipient = recipients.get(recipient_id)
            if recipient is None or recipient.schedule not in ("hourly", "daily"):
                continue
            boundary = now.replace(minute=0, second=0, microsecond=0)
            if recipient.schedule == "daily":
                boundary = boundary.replace(hour=0)
            if oldest >= boundary:
                continue  # everything queued belongs to the period still running
            key = f"digest:{recipient_id}:{boundary.isoformat()}"
            if uow.jobs.by_key(key) is None:
                schedule(uow, ctx, "deliver_digest", key, {"recipient_id": recipient_id, "up_to": up_to})
                started += 1
        uow.commit()
    return started


def retry_stalled_deliveries(ctx, within: timedelta = timedelta(days=3)) -> int:
    """Deliveries whose job ran out of attempts (a receiver down for long) are tried again, for a few days."""
    with ctx.uow() as uow:
        now = ctx.clock()
        keys = uow.alerts.stalled_deliveries(now - within)
        ids = [job_id for key in keys if (job_id := uow.job_admin.requeue(key, now)) is not None]
        uow.commit()
    for job_id in ids:
        ctx.enqueue(job_id, 0)
    return len(ids)


# Managing recipients (settings page, CLI).
def add_recipient(ctx, name: str, channel: str, target: str, *, kinds: list[str] | None = None,
                  schedule_: str = "immediate", min_severity: str = "info", secret: str | None = None) -> int:
    name, target = name.strip(), target.strip()
    if not name:
        raise ValidationError("a recipient needs a name", "name")
    if channel not in CHANNELS:
        raise ValidationError(f"channel is one of {', '.join(CHANNELS)}", "channel")
    if schedule_ not in SCHEDULES:
        raise ValidationError(f"schedule is one of {', '.join(SCHEDULES)}", "schedule")
    if min_severity not in SEVERITIES:
        raise ValidationError(f"minimum severity is one of {', '.join(SEVERITIES)}", "min_severity")
    if channel == "email" and ("@" not in target or " " in target):
        raise ValidationError(f"not an email address: {target!r}", "target")
    if channel == "webhook" and not target.startswith(("http://", "https://")):
        raise ValidationError(f"a webhook target must be an http(s) URL: {target!r}", "target")
    kinds = [k.strip() for k in (kinds or ["*"]) if k.strip()] or ["*"]
    with ctx.uow() as uow:
        if uow.alerts.recipient_by_name(name) is not None:
            raise ValidationError(f"a recipient named {name!r} exists already", "name")
        recipient = uow.add(AlertRecipient(name=name, channel=channel, target=target, kinds=kinds,
                                           schedule=schedule_, min_severity=min_severity, created_at=ctx.clock()))
        uow.flush()
        if secret:
            recipient.secret = ctx.vault.encrypt(f"alert_recipient:{recipient.id}", {"secret": secret})
        audit(uow, ctx, "alert_recipient.added", f"alert_recipient:{name}",
              {"channel": channel, "target": target, "kinds": kinds, "schedule": schedule_,
               "signed": bool(secret)})
        uow.commit()
        return recipient.id


def remove_recipient(ctx, recipient_id: int) -> str:
    with ctx.uow() as uow:
        recipient = uow.get(AlertRecipient, recipient_id)
        if recipient is None:
            raise NotFound(f"no alert recipient {recipient_id}")
        name = recipient.name
        uow.alerts.delete(recipient)
        audit(uow, ctx, "alert_recipient.removed", f"alert_recipient:{name}")
        uow.commit()
    return name


def list_recipients(ctx) -> list[dict]:
    with ctx.uow(read_only=True) as uow:
        counts = uow.alerts.delivery_counts()
        return [{"id": r.id, "name": r.name, "channel": r.channel, "target": r.target, "kinds": r.kinds,
                 "schedule": r.schedule, "min_severity": r.min_severity, "signed": bool(r.secret),
                 "active": r.active, "sent": counts.get((r.id, "sent"), 0),
                 "waiting": counts.get((r.id, "pending"), 0) + counts.get((r.id, "queued"), 0)}
                for r in uow.alerts.recipients(active_only=False)]


def payload_bytes(message: AlertMessage) -> bytes:
    """The exact body a webhook receives (and its signature covers)."""
    return json.dumps(message.payload, sort_keys=True, separators=(",", ":")).encode()
