"""Operational gauges for /metrics, computed when Prometheus scrapes: job backlog and the age of the oldest
pending job per kind, supplier orders per state, open alerts per kind, feed age per supplier. A handful
of grouped counts over indexed columns, so a scrape stays cheap at any size."""

from __future__ import annotations

import structlog
from prometheus_client.core import GaugeMetricFamily

from dropbridge.services.queries.ops import ops_snapshot

log = structlog.get_logger("dropbridge.metrics")


class OpsCollector:
    def __init__(self, ctx):
        self.ctx = ctx

    def describe(self):
        return []  # computed at scrape time only; registering must not query the database

    def collect(self):
        try:
            snap = ops_snapshot(self.ctx)
        except Exception as exc:  # a scrape during a database hiccup still answers with the other metrics
            log.warning("ops metrics unavailable", error=str(exc))
            return
        backlog = GaugeMetricFamily("dropbridge_jobs_pending", "Jobs waiting to run, per kind", labels=["kind"])
        oldest = GaugeMetricFamily("dropbridge_jobs_oldest_pending_seconds",
                                   "Age of the oldest pending job per kind (since it became due)", labels=["kind"])
        for kind, n, age in snap["jobs"]:
            backlog.add_metric([kind], n)
            oldest.add_metric([kind], age)
        states = GaugeMetricFamily("dropbridge_supplier_orders", "Supplier orders per state", labels=["status"])
        for status, n in sorted(snap["supplier_orders"].items()):
            states.add_metric([status], n)
        alerts = GaugeMetricFamily("dropbridge_alerts_open", "Open alerts per kind", labels=["kind"])
        for kind, n in sorted(snap["alerts"].items()):
            alerts.add_metric([kind], n)
        feeds = GaugeMetricFamily("dropbridge_feed_age_seconds", "Time since each supplier's last applied feed",
                                  labels=["supplier"])
        for supplier, age in sorted(snap["feed_age"].items()):
            feeds.add_metric([supplier], age)
        yield from (backlog, oldest, states, alerts, feeds)
