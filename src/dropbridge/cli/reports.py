"""Currency rates, margin reports, alerts and the audit trail."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
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


@fx_app.command("fetch")
def fx_fetch():
    """Import ECB reference rates now from DROPBRIDGE_FX_URL (the scheduler does it every
    DROPBRIDGE_FX_IMPORT_SECONDS)."""
    from dropbridge.services.fx import fetch_fx

    console.print(f"{fetch_fx(load_app().ctx)} rates added")


class MarginBy(StrEnum):
    ORDER = "order"
    PRODUCT = "product"
    SUPPLIER = "supplier"
    STORE = "store"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@report_app.command("margin")
def report_margin(by: MarginBy = typer.Option(MarginBy.ORDER, help="what to group by"),
                  start: datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"],
                                                        help="first day (UTC) of ledger entries counted"),
                  end: datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"],
                                                      help="last day (UTC) of ledger entries counted"),
                  fmt: Format = typer.Option(Format.TABLE, "--format", help="how to print it")):
    """Margins from the ledger: realised (shipped, net of refunds) apart from expected (routed, not yet
    shipped), and held, unroutable, cancelled or unrouted orders apart from both. Tax collected is never
    revenue. By supplier: what each supplier costs, not a margin."""
    from dropbridge.services.exports import write_csv
    from dropbridge.services.margin_report import TOTAL, margin_summary

    report = margin_summary(load_app().ctx, by.value, start.date() if start else None, end.date() if end else None)
    totals = [{**row, by.value: TOTAL} for row in report["totals"]]
    cols = list(report["columns"])
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(report["rows"] + totals, indent=2) + "\n")
    elif fmt is Format.CSV:
        write_csv(sys.stdout, cols, ([row.get(c, "") for c in cols] for row in report["rows"] + totals))
    else:
        span = f" {report['from'] or '…'} to {report['to'] or '…'}" if start or end else ""
        title = f"{'supplier costs' if by is MarginBy.SUPPLIER else 'margin'} by {by.value}{span}"
        table(report["rows"] + totals, cols, title=title, headers=list(report["columns"].values()))


@report_app.command("vendors")
def report_vendors(start: datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"],
                                                         help="first day (UTC) of supplier orders placed"),
                   end: datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"],
                                                       help="last day (UTC) of supplier orders placed"),
                   fmt: Format = typer.Option(Format.TABLE, "--format", help="how to print it")):
    """Per supplier: orders placed, fill rate, refusals, on-time shipping against its promised lead time, lead
    time median and 90th percentile, time to carry tracking to the store, invoice accuracy (n/a until invoices
    are matched), cost variance and defective shipments. Figures without data read n/a."""
    from dropbridge.services.exports import write_csv
    from dropbridge.services.queries.vendors import vendor_performance

    report = vendor_performance(load_app().ctx, start.date() if start else None, end.date() if end else None)
    cols = list(report["columns"])
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(report["rows"], indent=2) + "\n")
        return
    rows = [{c: "n/a" if row[c] is None else row[c] for c in cols} for row in report["rows"]]
    if fmt is Format.CSV:
        write_csv(sys.stdout, cols, ([row[c] for c in cols] for row in rows))
    else:
        span = f" {report['from'] or '…'} to {report['to'] or '…'}" if start or end else ""
        table(rows, cols, title=f"vendor performance{span}", headers=list(report["columns"].values()))


def alerts(limit: int = 20):
    from dropbridge.services.order_view import list_alerts

    table(list_alerts(load_app().ctx, limit), ["id", "created_at", "severity", "kind", "message"])


def audit(limit: int = 30):
    from dropbridge.services.order_view import list_audit

    table(list_audit(load_app().ctx, limit), ["id", "at", "actor", "action", "subject", "correlation_id"])


