"""Currency rates, margin reports, alerts and the audit trail."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer

from .output import console, table
from .runtime import load_app

report_app = typer.Typer(help="Reports.", no_args_is_help=True)
fx_app = typer.Typer(help="Currency rates.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(alerts)
    app.command()(audit)


@fx_app.command("import")
def fx_import(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="the ECB eurofxref.csv")):
    """Import ECB reference rates (EUR based; cross rates are derived)."""
    from dropbridge.services.fx import import_ecb_csv

    added = import_ecb_csv(load_app().ctx, path.read_text(encoding="utf-8-sig"), source=f"ECB {path.name}")
    console.print(f"{added} rates added")


@report_app.command("margin")
def report_margin(by: str = typer.Option("order", help="order | product | supplier | store"),
                  fmt: str = typer.Option("table", "--format", help="table | csv | json")):
    """Margins from the ledger."""
    from dropbridge.services.order_view import margin_report

    rows = margin_report(load_app().ctx, by)
    cols = [by, "currency", "revenue", "costs", "margin", "margin_pct"]
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=cols)
        writer.writeheader()
        writer.writerows(rows)
    else:
        table(rows, cols, title=f"margin by {by}")


def alerts(limit: int = 20):
    from dropbridge.services.order_view import list_alerts

    table(list_alerts(load_app().ctx, limit), ["id", "created_at", "severity", "kind", "message"])


def audit(limit: int = 30):
    from dropbridge.services.order_view import list_audit

    table(list_audit(load_app().ctx, limit), ["id", "at", "actor", "action", "subject", "correlation_id"])


