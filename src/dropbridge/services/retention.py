"""Retention of raw webhook bodies: they hold customer names and addresses, so once an event is finished
and older than DROPBRIDGE_WEBHOOK_RETENTION_DAYS its body and headers are cleared. The row itself stays:
its (source, event id) key still turns a late re-delivery into a duplicate."""

from __future__ import annotations

from datetime import timedelta

from .records import audit


def purge_webhook_bodies(ctx) -> int:
    """Clear the bodies of events finished more than the retention ago; returns how many."""
    days = float(getattr(ctx.settings, "webhook_retention_days", 30.0))
    before = ctx.clock() - timedelta(days=days)
    with ctx.uow() as uow:
        cleared = uow.webhook_events.purge_bodies(before)
        if cleared:
            audit(uow, ctx, "webhooks.purged", "webhook_events", {"cleared": cleared, "retention_days": days})
        uow.commit()
    return cleared
