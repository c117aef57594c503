"""Alerts reach people: by email through a real SMTP server (STARTTLS, login) and by a signed webhook to
a real HTTP receiver. Each receiver is down when the alerts are raised; once it is back, every alert
arrives exactly once (the outbox retries; the delivery row stops repeats)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from sqlalchemy import text

from dropbridge.bootstrap import bootstrap
from dropbridge.services.alert_delivery import add_recipient
from dropbridge.services.records import raise_alert
from dropbridge.storage.migrate import upgrade

from ..conftest import make_settings
from .helpers import running, wait_for
from .receivers import SmtpReceiver, WebhookReceiver, free_port, self_signed


def _raise(app, kind, message, **refs):
    with app.ctx.uow() as uow:
        alert = raise_alert(uow, app.ctx, kind, message, **refs)
        uow.commit()
        return alert.id


def _deliveries(app):
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT status, last_error FROM alert_deliveries ORDER BY id"))]


def test_email_alerts_arrive_once_after_the_smtp_server_comes_back(tmp_path, db_url):
    port = free_port()
    cert, key = self_signed(tmp_path)
    app = bootstrap(make_settings(tmp_path, db_url, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="starttls",
                                  smtp_username="alerts", smtp_password="mail-pass-1", smtp_ca_file=str(cert),
                                  smtp_from="dropbridge@shop.test", smtp_timeout_seconds=3,
                                  job_backoff_base_seconds=0.3, job_backoff_max_seconds=1.0, job_max_attempts=30))
    upgrade(app.engine)
    smtp = SmtpReceiver(port, cert, key, "alerts", "mail-pass-1")
    try:
        add_recipient(app.ctx, "ops-mail", "email", "ops@shop.test", kinds=["feed.*", "order.unroutable"])
        with running(app):
            a1 = _raise(app, "feed.quarantined", "feed acme.csv quarantined: 3 of 4 rows rejected", supplier_id=None)
            a2 = _raise(app, "order.unroutable", "order 1001 line 1 (NOPE x1): no offer", order_id=None)
            _raise(app, "stock.low", "TEE: 2 units")  # a kind this recipient does not get
            _raise(app, "feed.quarantined", "again, same condition")  # deduplicated: no second alert
            # Down: attempts fail and are recorded.
            wait_for(lambda: all(err for _, err in _deliveries(app)) and len(_deliveries(app)) == 2, timeout=20)
            assert smtp.messages == []
            smtp.start()
            wait_for(lambda: [s for s, _ in _deliveries(app)] == ["sent", "sent"], timeout=30)
            time.sleep(1.5)  # any duplicate send would land now
        subjects = sorted(m["Subject"] for m in smtp.messages)
        assert subjects == ["[dropbridge] warning: feed.quarantined", "[dropbridge] warning: order.unroutable"]
        assert len(smtp.messages) == 2 and smtp.logins == [b"alerts", b"alerts"]
        ids = sorted(m["Message-ID"] for m in smtp.messages)
        assert len(set(ids)) == 2
        bodies = " ".join(m.get_content() for m in smtp.messages)
        assert "3 of 4 rows rejected" in bodies and "NOPE x1" in bodies and "TEE" not in bodies
        assert all(m["To"] == "ops@shop.test" for m in smtp.messages)
        assert sorted(m["Message-ID"] for m in smtp.messages) == sorted(ids)
        assert a1 != a2
    finally:
        smtp.stop()
        app.close()


def test_webhook_alerts_are_signed_and_arrive_once_after_the_receiver_comes_back(tmp_path, db_url):
    app = bootstrap(make_settings(tmp_path, db_url, job_backoff_base_seconds=0.3, job_backoff_max_seconds=1.0,
                                  job_max_attempts=30))
    upgrade(app.engine)
    receiver = WebhookReceiver(free_port())
    try:
        add_recipient(app.ctx, "pager", "webhook", receiver.url, kinds=["*"], min_severity="warning",
                      secret="whsec-alerts-1")
        with running(app):
            first = _raise(app, "supplier_order.failed", "db-1-acme failed", order_id=None)
            second = _raise(app, "feed.stale", "acme: no feed for 30 h", supplier_id=None)
            _raise(app, "demo.info", "not important", severity="info")  # below this recipient's severity
            _raise(app, "feed.stale", "acme: still no feed")  # same condition: counted, not sent again
            wait_for(lambda: len(_deliveries(app)) == 2 and all(err for _, err in _deliveries(app)), timeout=20)
            receiver.start()
            wait_for(lambda: [s for s, _ in _deliveries(app)] == ["sent", "sent"], timeout=30)
            time.sleep(1.5)
        assert len(receiver.received) == 2
        for headers, body in receiver.received:
            expected = "sha256=" + hmac.new(b"whsec-alerts-1", body, hashlib.sha256).hexdigest()
            assert headers["x-dropbridge-signature"] == expected
            assert headers["content-type"] == "application/json"
        got = sorted((p["alert"]["id"], p["alert"]["kind"]) for p in receiver.payloads())
        assert got == sorted([(first, "supplier_order.failed"), (second, "feed.stale")])
        assert len({json.loads(b)["delivery_id"] for _, b in receiver.received}) == 2
    finally:
        receiver.stop()
        app.close()


def test_a_daily_digest_sends_every_queued_alert_in_one_message_once(tmp_path):
    from datetime import timedelta

    from dropbridge.jobs.runner import run_job
    from dropbridge.services.alert_delivery import schedule_digests

    app = bootstrap(make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}"))
    upgrade(app.engine)
    receiver = WebhookReceiver(free_port())
    receiver.start()
    try:
        add_recipient(app.ctx, "daily", "webhook", receiver.url, schedule_="daily", secret="s3")
        ids = [_raise(app, "stock.low", f"SKU{i} low", dedupe_key=f"stock.low:SKU{i}") for i in range(3)]
        assert receiver.received == []
        tomorrow = app.ctx.clock() + timedelta(days=1)
        assert schedule_digests(app.ctx, tomorrow) == 1
        with app.engine.connect() as conn:
            job_id = conn.execute(text("SELECT id FROM jobs WHERE kind = 'deliver_digest'")).scalar()
        assert run_job(app.ctx, job_id) == "done"
        assert schedule_digests(app.ctx, tomorrow) == 0
        assert len(receiver.received) == 1
        payload = receiver.payloads()[0]
        assert payload["type"] == "digest" and sorted(a["id"] for a in payload["alerts"]) == sorted(ids)
        assert [s for s, _ in _deliveries(app)] == ["sent", "sent", "sent"]
    finally:
        receiver.stop()
        app.close()
