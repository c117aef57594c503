"""Operational numbers for /metrics, read at scrape time from grouped counts over indexed columns."""

from __future__ import annotations


def ops_snapshot(ctx) -> dict:
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        backlog = uow.dashboard.job_backlog()
        so_states = uow.dashboard.supplier_order_status_counts()
        alerts = uow.alerts.open_counts()
        fresh = uow.dashboard.feed_freshness()
        suppliers = {s.id: s.name for s in uow.suppliers.all()}
    return {
        "jobs": [(kind, n, max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
                 for kind, n, oldest in backlog],
        "supplier_orders": so_states,
        "alerts": alerts,
        "feed_age": {name: (now - fresh[sid][0]).total_seconds()
                     for sid, name in suppliers.items() if sid in fresh and fresh[sid][0]},
    }
