"""ECB reference rates fetched from a URL (a real HTTP server on localhost), by the scheduler and by
`dropbridge fx fetch`, on SQLite and PostgreSQL; and an order that needs a rate older than the limit held with
an alert instead of being routed at it, then routed once fresh rates arrive."""

from __future__ import annotations

import io
import sys
import threading
import time
import zipfile
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dropbridge.domain.errors import ConfigurationError
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.fx import fetch_fx, scheduled_fx_import
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.route_order import route_order
from dropbridge.services.sync_feed import sync_feed

from ..conftest import make_settings


def ecb_csv(day: str, usd: str = "1.0500") -> bytes:
    """The ECB's eurofxref.csv as published: spaces after commas, a trailing comma."""
    return (f"Date, USD, JPY, GBP, \n{day}, {usd}, 157.10, 0.8290, \n").encode()


class RatesHost:
    """Serves /eurofxref.csv and /eurofxref.zip (the CSV inside) from `self.csv`."""

    def __init__(self):
        self.csv = ecb_csv("03 March 2025")
        self.hits = 0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                host.hits += 1
                if self.path == "/eurofxref.csv":
                    body, kind = host.csv, "text/csv"
                elif self.path == "/eurofxref.zip":
                    buf = io.BytesIO()
                    with zipfile.ZipFile(buf, "w") as z:
                        z.writestr("eurofxref.csv", host.csv)
                    body, kind = buf.getvalue(), "application/zip"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host():
    h = RatesHost()
    yield h
    h.stop()


def rates(app) -> dict[tuple[str, str], tuple[str, str]]:
    with app.ctx.uow(read_only=True) as uow:
        return {(b, q): (r, str(as_of.date())) for b, q, r, _, as_of in uow.fx.latest()}


def test_rates_fetched_from_a_csv_or_a_zip_url(app, host):
    app.settings.allow_private_hosts = True  # the rates host listens on 127.0.0.1
    app.settings.fx_url = f"{host.url}/eurofxref.csv"
    assert fetch_fx(app.ctx) == 3
    assert rates(app)[("EUR", "USD")] == ("1.0500", "2025-03-03")
    assert fetch_fx(app.ctx) == 0  # the same day again adds nothing
    host.csv = ecb_csv("04 March 2025", "1.0612")
    app.settings.fx_url = f"{host.url}/eurofxref.zip"
    assert scheduled_fx_import(app.ctx) == "3 rates added"
    assert rates(app)[("EUR", "USD")] == ("1.0612", "2025-03-04")
    with app.ctx.uow(read_only=True) as uow:
        sources = {s for *_, s, _ in uow.fx.latest()}
    assert sources == {f"ECB via {host.url}/eurofxref.zip 2025-03-04"}


def test_a_private_address_is_refused_and_a_scheduled_failure_alerts(app, host):
    app.settings.fx_url = f"{host.url}/eurofxref.csv"
    with pytest.raises(ConfigurationError):
        fetch_fx(app.ctx)
    assert host.hits == 0 and rates(app) == {}
    assert scheduled_fx_import(app.ctx).startswith("failed:")
    with app.ctx.uow(read_only=True) as uow:
        (alert,) = uow.alerts.recent()
    assert alert.kind == "fx.fetch_failed" and "FX rates not imported" in alert.message
    app.settings.fx_url = None
    assert scheduled_fx_import(app.ctx) == "no DROPBRIDGE_FX_URL"
    with pytest.raises(ConfigurationError, match="DROPBRIDGE_FX_URL"):
        fetch_fx(app.ctx)


def test_an_order_needing_a_stale_rate_is_held_then_routed_on_fresh_rates(app, host):
    app.settings.allow_private_hosts = True
    app.settings.fx_url = f"{host.url}/eurofxref.csv"
    scheduled = []
    app.ctx.enqueue = lambda job_id, delay=0: scheduled.append(job_id)
    add_store(app.ctx, "us", "headless", "http://127.0.0.1:9/e", {"webhook_secret": "s"}, {"currency": "USD"})
    add_supplier(app.ctx, "eu", "rest", "http://127.0.0.1:9", {"api_key": "k"}, {"currency": "EUR"})
    sync_feed(app.ctx, "eu", io.BytesIO(b"sku,qty,cost,currency\nTEE,10,8.00,EUR\n"), "eu.csv")
    host.csv = ecb_csv("03 March 2025")  # a Monday's rate
    fetch_fx(app.ctx)

    def order(n: str) -> int:
        return ingest_order(app.ctx, "us", ExternalOrder(
            external_id=n, currency="USD", ship_to=Address(name="J", address1="1", city="P", country_code="US"),
            lines=[ExternalOrderLine("1", "TEE", 1, Money(3000, "USD"))])).order_id

    # Thursday 10:00: the rate's day ended 58 h ago, within the 72 h limit.
    app.ctx.clock = lambda: datetime(2025, 3, 6, 10, tzinfo=UTC)
    assert route_order(app.ctx, order("N-1")) == "routed"
    # Friday 10:00: 82 h: held, alerted, nothing sent to the supplier.
    app.ctx.clock = lambda: datetime(2025, 3, 7, 10, tzinfo=UTC)
    held = order("N-2")
    assert route_order(app.ctx, held) == "on hold: fx"
    with app.ctx.uow(read_only=True) as uow:
        assert uow.supplier_orders.for_order(held) == []
        (alert,) = [a for a in uow.alerts.recent() if a.kind == "fx.stale"]
        o = uow.orders.by_external_id(1, "N-2")
        assert (o.status, o.hold_reason.split(":")[0]) == ("on_hold", "FX rate older than 72 h")
    assert "EUR->USD (2025-03-03)" in alert.message and alert.order_id == held
    app.settings.fx_max_age_hours = 200  # a looser limit is the merchant's to set
    assert route_order(app.ctx, order("N-3")) == "routed"
    app.settings.fx_max_age_hours = 72

    # Friday's rate arrives: the held order is scheduled for routing again, and routes at that rate.
    host.csv = ecb_csv("07 March 2025", "1.0800")
    before = len(scheduled)
    app.ctx.clock = lambda: datetime(2025, 3, 10, 9, tzinfo=UTC)  # Monday morning: Friday's rate is current
    assert scheduled_fx_import(app.ctx) == "3 rates added"
    assert len(scheduled) > before
    assert route_order(app.ctx, held) == "routed"
    with app.ctx.uow(read_only=True) as uow:
        o = uow.orders.by_external_id(1, "N-2")
        assert o.fx["EUR->USD"]["rate"] == "1.0800" and o.hold_reason is None
        assert [so.status for so in uow.supplier_orders.for_order(held)] == ["pending"]
    # The periodic checks close the alert: the order is no longer held.
    from dropbridge.services.alert_checks import check_supplier_orders

    check_supplier_orders(app.ctx)
    with app.ctx.uow(read_only=True) as uow:
        (alert,) = [a for a in uow.alerts.recent() if a.kind == "fx.stale"]
    assert alert.resolved_at is not None


def test_the_scheduler_imports_rates_when_it_starts(app, host):
    from dropbridge.jobs.queue import Ticker, build_huey, register_tasks

    app.settings.allow_private_hosts = True
    app.settings.fx_url = f"{host.url}/eurofxref.csv"
    huey = build_huey("memory://")
    huey.immediate = True  # tasks run where they are announced
    register_tasks(huey, app.ctx)
    assert huey.dropbridge_periodic["fx_import_seconds"].name == "dropbridge.import_fx"
    assert app.settings.fx_import_seconds == 86400 and app.settings.fx_max_age_hours == 72
    ticker = Ticker(app.ctx, huey)
    ticker.start()
    try:
        deadline = time.monotonic() + 10
        while not rates(app) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        ticker.stop()
    assert rates(app)[("EUR", "USD")] == ("1.0500", "2025-03-03")


def test_fx_fetch_on_the_command_line(tmp_path, monkeypatch, capsys, host):
    from dropbridge.cli import main

    db = f"sqlite:///{tmp_path / 'dropbridge.db'}"
    settings = make_settings(tmp_path, db)
    for key, value in {"DROPBRIDGE_DATA_DIR": str(tmp_path), "DROPBRIDGE_DATABASE_URL": db,
                       "DROPBRIDGE_QUEUE_URL": settings.resolved_queue_url,
                       "DROPBRIDGE_SECRET_KEYS": settings.secret_keys}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("dropbridge.bootstrap.configure_logging", lambda *a, **k: None)

    def cli(*args):
        monkeypatch.setattr(sys, "argv", ["dropbridge", *args])
        with pytest.raises(SystemExit) as done:
            main()
        out = capsys.readouterr()
        return done.value.code, out.out, out.err

    code, _, err = cli("fx", "fetch")
    assert code == 2 and "error: no DROPBRIDGE_FX_URL is set" in err
    monkeypatch.setenv("DROPBRIDGE_FX_URL", f"{host.url}/eurofxref.zip")
    code, _, err = cli("fx", "fetch")
    assert code == 2 and "error:" in err and host.hits == 0  # 127.0.0.1 refused by the address policy
    monkeypatch.setenv("DROPBRIDGE_ALLOW_PRIVATE_HOSTS", "1")
    code, out, _ = cli("fx", "fetch")
    assert (code, out.strip()) == (0, "3 rates added")
