"""Wrong values on the command line: Typer-validated choices, exit 2 and one line on standard error saying
what is allowed, nothing on standard output, nothing stored. The feed progress shows its stages."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from dropbridge.domain.model import SyncRun
from dropbridge.services.connections import add_supplier
from dropbridge.services.sync_feed import sync_feed

from .cli_tools import cli_env, run_cli

CASES = [
    (["sync", "feed", "acme", "{feed}", "--mode", "partial"],
     "error: Invalid value for '--mode': Value error, 'partial' is not one of 'full', 'delta'."),
    (["report", "margin", "--by", "year"],
     "error: Invalid value for '--by': Value error, 'year' is not one of 'order', 'product', 'supplier', 'store', "
     "'day', 'week', 'month'."),
    (["report", "margin", "--format", "xml"],
     "error: Invalid value for '--format': Value error, 'xml' is not one of 'table', 'csv', 'json'."),
    (["orders", "list", "--status", "bogus"],
     "error: Invalid value for '--status': Value error, 'bogus' is not one of 'accepted', 'routed', 'on_hold', "
     "'submitted', 'partially_shipped', 'shipped', 'delivered', 'cancelled', 'refunded'."),
]


@pytest.mark.parametrize("args,line", CASES, ids=["mode", "by", "format", "status"])
def test_a_wrong_choice_exits_2_with_one_line_saying_what_is_allowed(app, tmp_path, args, line):
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"}, {"currency": "USD"})
    feed = tmp_path / "a.csv"
    feed.write_text("sku,qty,cost\nA,1,1.00\n")
    ran = run_cli([a.replace("{feed}", str(feed)) for a in args], cli_env(app.settings))
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert ran.stderr.splitlines() == [line]
    with app.ctx.uow(read_only=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(SyncRun)) == 0


def test_an_unknown_supplier_is_one_line_too(app, tmp_path):
    feed = tmp_path / "a.csv"
    feed.write_text("sku,qty,cost\nA,1,1.00\n")
    ran = run_cli(["sync", "feed", "nobody", str(feed)], cli_env(app.settings))
    assert (ran.returncode, ran.stdout, ran.stderr.splitlines()) == (2, "", ["error: no supplier named 'nobody'"])


def test_valid_choices_still_work(app):
    ran = run_cli(["report", "margin", "--by", "supplier", "--format", "json"], cli_env(app.settings))
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "[]\n", "")
    ran = run_cli(["orders", "list", "--status", "on_hold"], cli_env(app.settings))
    assert ran.returncode == 0 and ran.stderr == ""


def test_the_feed_progress_names_each_stage(app):
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"}, {"currency": "USD"})
    stages, rows = [], []
    out = sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nA,1,1.00\nB,2,2.00\n"), "a.csv",
                    progress=rows.append, on_stage=stages.append)
    assert out.status == "applied"
    assert stages == ["parse", "stage", "apply"] and sum(rows) == 2
