"""Alerts: one open alert per condition (dedupe key), who is told, and what was delivered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.exc import IntegrityError

from dropbridge.domain import model as m

from . import tables as t
from .repositories import AlertRepo as _BaseAlertRepo

_OPEN = t.alerts.c.resolved_at.is_(None)


class AlertRepo(_BaseAlertRepo):
    def open_by_key(self, key: str) -> m.Alert | None:
        return self.session.scalar(select(m.Alert).where(t.alerts.c.dedupe_key == key, _OPEN))

    def raise_or_touch(self, alert: m.Alert) -> tuple[m.Alert, bool]:
        """(the open alert for this condition, True if this call created it). A unique index on open
        dedupe keys settles two concurrent raises: the loser counts an occurrence on the winner's row."""
        for _ in range(2):
            existing = self.open_by_key(alert.dedupe_key)
            if existing is not None:
                self.session.execute(update(t.alerts).where(t.alerts.c.id == existing.id).values(
                    occurrences=t.alerts.c.occurrences + 1, last_seen_at=alert.created_at)
                    .execution_options(synchronize_session=False))
                return existing, False
            try:
                with self.session.begin_nested():
                    self.session.add(alert)
                return alert, True
            except IntegrityError:
                continue
        raise RuntimeError(f"alert {alert.dedupe_key} neither inserted nor found")

    def open_keys(self, kind_prefix: str) -> dict[str, int]:
        """dedupe key -> id of open alerts whose kind starts with `kind_prefix`."""
        rows = self.session.execute(select(t.alerts.c.dedupe_key, t.alerts.c.id)
                                    .where(_OPEN, t.alerts.c.kind.like(f"{kind_prefix}%"),
                                           t.alerts.c.dedupe_key.is_not(None)))
        return dict(rows.all())

    def open_for_orders(self, kinds: list[str]) -> list[tuple[int, int, str]]:
        """(alert id, order id, order status) of open alerts of these kinds."""
        rows = self.session.execute(
            select(t.alerts.c.id, t.alerts.c.order_id, t.orders.c.status)
            .join(t.orders, t.orders.c.id == t.alerts.c.order_id)
            .where(_OPEN, t.alerts.c.kind.in_(kinds)))
        return [tuple(r) for r in rows.all()]

    def resolve(self, ids: list[int], now: datetime, by: str, resolution: str) -> int:
        if not ids:
            return 0
        result = self.session.execute(
            update(t.alerts).where(t.alerts.c.id.in_(ids), _OPEN)
            .values(resolved_at=now, resolved_by=by, resolution=resolution[:500])
            .execution_options(synchronize_session=False))
        return result.rowcount

    def acknowledge(self, ids: list[int], now: datetime, by: str) -> int:
        result = self.session.execute(
            update(t.alerts).where(t.alerts.c.id.in_(ids), _OPEN, t.alerts.c.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=by).execution_options(synchronize_session=False))
        return result.rowcount

    def page(self, *, state: str = "open", kind: str | None = None, limit: int = 50,
             offset: int = 0) -> tuple[list[m.Alert], int]:
        q = select(m.Alert)
        if state == "open":
            q = q.where(_OPEN)
        elif state == "resolved":
            q = q.where(t.alerts.c.resolved_at.is_not(None))
        if kind:
            q = q.where(t.alerts.c.kind == kind)
        total = self.session.scalar(select(func.count()).select_from(q.subquery()))
        rows = self.session.scalars(q.order_by(t.alerts.c.id.desc()).limit(limit).offset(offset))
        return list(rows), int(total)

    def open_counts(self) -> dict[str, int]:
        rows = self.session.execute(select(t.alerts.c.kind, func.count()).where(_OPEN).group_by(t.alerts.c.kind))
        return dict(rows.all())

    # Recipients and deliveries.
    def recipients(self, active_only: bool = True) -> list[m.AlertRecipient]:
        q = select(m.AlertRecipient).order_by(t.alert_recipients.c.id)
        if active_only:
            q = q.where(t.alert_recipients.c.active.is_(True))
        return list(self.session.scalars(q))

    def recipient_by_name(self, name: str) -> m.AlertRecipient | None:
        return self.session.scalar(select(m.AlertRecipient).where(t.alert_recipients.c.name == name))

    def queued(self, recipient_id: int, up_to: int | None = None) -> list[m.AlertDelivery]:
        q = select(m.AlertDelivery).where(t.alert_deliveries.c.recipient_id == recipient_id,
                                          t.alert_deliveries.c.status == "queued")
        if up_to is not None:
            q = q.where(t.alert_deliveries.c.id <= up_to)
        return list(self.session.scalars(q.order_by(t.alert_deliveries.c.id)))

    def queued_summary(self) -> list[tuple[int, int, datetime]]:
        """(recipient id, newest queued delivery id, oldest queued time) for digest recipients."""
        d = t.alert_deliveries
        rows = self.session.execute(select(d.c.recipient_id, func.max(d.c.id), func.min(d.c.created_at))
                                    .where(d.c.status == "queued").group_by(d.c.recipient_id))
        return [tuple(r) for r in rows.all()]

    def stalled_deliveries(self, since: datetime) -> list[str]:
        """Job keys of undelivered alerts whose job gave up (receiver down for long): to try again."""
        d, j = t.alert_deliveries, t.jobs
        rows = self.session.execute(
            select(j.c.key).join(d, j.c.key == literal("alert-delivery:", String).concat(cast(d.c.id, String)))
            .where(d.c.status == "pending", d.c.created_at >= since, j.c.status == "failed"))
        return list(rows.scalars())

    def delivery_counts(self) -> dict[tuple[int, str], int]:
        d = t.alert_deliveries
        rows = self.session.execute(select(d.c.recipient_id, d.c.status, func.count())
                                    .group_by(d.c.recipient_id, d.c.status))
        return {(rid, status): n for rid, status, n in rows.all()}

    def delete(self, obj) -> None:
        self.session.delete(obj)

    def failed_submissions(self) -> list[tuple]:
        """(supplier order id, key, supplier id, order id) of supplier orders that failed, or whose sending
        job gave up while they wait."""
        so, j = t.supplier_orders, t.jobs
        gave_up = (select(so.c.id, so.c.idempotency_key, so.c.supplier_id, so.c.order_id)
                   .join(j, j.c.key == literal("submit:", String).concat(so.c.idempotency_key))
                   .where(so.c.status == "pending", j.c.status == "failed"))
        failed = select(so.c.id, so.c.idempotency_key, so.c.supplier_id, so.c.order_id).where(so.c.status == "failed")
        return [tuple(r) for r in self.session.execute(gave_up.union(failed)).all()]
