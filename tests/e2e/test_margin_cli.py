"""`dropbridge report margin` as a user types it: date range, day/week/month, totals, headers that say what
each figure is (the supplier view shows costs, not losses), and a bad date refused with exit 2."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime

import pytest

from dropbridge.cli import main
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine

from ..conftest import make_settings


def test_report_margin_ranges_periods_totals_and_headers(tmp_path, monkeypatch, capsys):
    from dropbridge.bootstrap import bootstrap
    from dropbridge.storage.migrate import upgrade

    db = f"sqlite:///{tmp_path / 'dropbridge.db'}"
    settings = make_settings(tmp_path, db)
    app = bootstrap(settings)
    upgrade(app.engine)
    app.ctx.enqueue = lambda job_id, delay=0: None
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/e", {"webhook_secret": "s"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k"})
    for n, day in ((1, datetime(2025, 3, 3, 10, tzinfo=UTC)), (2, datetime(2025, 3, 20, 10, tzinfo=UTC))):
        app.ctx.clock = lambda day=day: day
        ingest_order(app.ctx, "shop", ExternalOrder(
            external_id=f"C-{n}", currency="EUR", taxes_included=True, total_tax=Money(200, "EUR"),
            ship_to=Address(name="J", address1="1", city="P", country_code="FR"),
            lines=[ExternalOrderLine("1", "TEE", 1, Money(1200, "EUR"), tax=Money(200, "EUR"))]))
    app.close()

    for key, value in {"DROPBRIDGE_DATA_DIR": str(tmp_path), "DROPBRIDGE_DATABASE_URL": db, "COLUMNS": "200",
                       "DROPBRIDGE_QUEUE_URL": settings.resolved_queue_url,
                       "DROPBRIDGE_SECRET_KEYS": settings.secret_keys}.items():
        monkeypatch.setenv(key, value)

    # Logging stays as the suite set it: configured here it would write to this test's captured stderr,
    # closed once the test ends, under every later test.
    monkeypatch.setattr("dropbridge.bootstrap.configure_logging", lambda *a, **k: None)

    def cli(*args):
        """The command in this process (as `dropbridge report margin ...`): (exit code, stdout, stderr)."""
        monkeypatch.setattr(sys, "argv", ["dropbridge", "report", "margin", *args])
        with pytest.raises(SystemExit) as done:
            main()
        out = capsys.readouterr()
        return done.value.code, out.out, out.err

    code, out, _ = cli("--by", "week", "--format", "json")
    assert code == 0
    assert [(r["week"], r["basis"], r["revenue"], r["tax_collected"]) for r in json.loads(out)] == [
        ("2025-W10", "pending", "10.00", "2.00"), ("2025-W12", "pending", "10.00", "2.00"),
        ("TOTAL", "pending", "20.00", "4.00")]
    _, out, _ = cli("--by", "month", "--from", "2025-03-01", "--to", "2025-03-10", "--format", "csv")
    assert [(r["month"], r["revenue"], r["margin"]) for r in csv.DictReader(io.StringIO(out))] == [
        ("2025-03", "10.00", "10.00"), ("TOTAL", "10.00", "10.00")]
    _, table, _ = cli("--by", "day")
    assert "revenue (net of tax)" in table and "tax collected" in table and "TOTAL" in table
    _, table, _ = cli("--by", "supplier")
    assert "supplier costs by supplier" in table and "total cost" in table
    code, _, err = cli("--from", "2025-13-01")
    assert code == 2 and "error:" in err and "--from" in err
    code, _, err = cli("--from", "2025-03-10", "--to", "2025-03-01")
    assert code == 2 and "error: --to is before --from" in err
