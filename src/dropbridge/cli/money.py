"""Supplier invoices and what we owe: `reconcile`, `disputes list|set|totals`, `payables list|batch|mark-paid`."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import typer

from .output import console, table
from .runtime import load_app

disputes_app = typer.Typer(help="Invoice discrepancies and their status (open, claimed, credited, written_off).",
                           no_args_is_help=True)
payables_app = typer.Typer(help="What we owe suppliers, payment batches and payments.", no_args_is_help=True)


class Status(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CREDITED = "credited"
    WRITTEN_OFF = "written_off"


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _print(rows: list[dict], cols: list[str], fmt: Format, title: str | None = None) -> None:
    from dropbridge.services.exports import write_csv

    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif fmt is Format.CSV:
        write_csv(sys.stdout, cols, ([r.get(c, "") for c in cols] for r in rows))
    else:
        table([{k: "" if v is None else v for k, v in r.items()} for r in rows], cols, title=title)


def reconcile(supplier: str, file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                                         help="CSV or XLSX (columns: the supplier's "
                                                              "invoice_columns) or an EDI 810"),
              fmt: Format = typer.Option(Format.TABLE, "--format", help="how to print the results")):
    """Match a supplier's invoice against our supplier orders and shipments: each line matched or flagged
    (price beyond tolerance, billed above shipped, billed never shipped, billed twice, shipping or fees off
    the quote, no such order), discrepancies opened as disputes, the ledger corrected to what was billed.
    Importing the same invoice again changes nothing. Exits 1 when a discrepancy was found."""
    from dropbridge.connectors.invoice_files import read_invoices
    from dropbridge.services.reconcile_invoice import DISCREPANCIES, import_invoice_file, result_view

    summaries = import_invoice_file(load_app().ctx, supplier, file.read_bytes(), file.name, read_invoices)
    rows = [{"invoice": s["invoice"], **result_view(r)} for s in summaries for r in s["results"]]
    if fmt is not Format.TABLE:
        _print(rows, ["invoice", "line", "kind", "sku", "quantity", "billed", "expected", "accepted", "currency",
                      "outcome", "dispute", "detail"], fmt)
    else:
        for s in summaries:
            state = "reconciled" if s["reconciled"] else "already reconciled: nothing changed"
            found = ", ".join(f"{n} {k}" for k, n in s["outcomes"].items())
            console.print(f"invoice {s['invoice']}: {state} ({found})")
            if s.get("unbilled"):
                console.print(f"  {s['unbilled']} shipped line(s) never billed within the billing lag")
        table(rows, ["invoice", "line", "kind", "sku", "quantity", "billed", "expected", "outcome", "detail"])
    if any(r["outcome"] in DISCREPANCIES for r in rows):
        raise typer.Exit(1)


@disputes_app.command("list")
def disputes_list(supplier: str | None = typer.Option(None, help="only this supplier"),
                  status: Status | None = typer.Option(None, help="only disputes in this status"),
                  fmt: Format = typer.Option(Format.TABLE, "--format")):
    """Discrepancies found by `reconcile`, with their amounts and status."""
    from dropbridge.services.reconcile_invoice import list_disputes

    rows = list_disputes(load_app().ctx, supplier, status.value if status else None)
    _print(rows, ["id", "supplier", "invoice", "line", "outcome", "status", "sku", "billed", "expected", "accepted",
                  "difference", "currency", "detail"], fmt)


@disputes_app.command("set")
def disputes_set(dispute_id: int = typer.Argument(..., help="the id `disputes list` shows"),
                 status: Status = typer.Argument(..., help="open, claimed, credited or written_off"),
                 note: str | None = typer.Option(None, help="e.g. the supplier's credit note number")):
    """Change a dispute's status: claimed (asked the supplier), credited (the supplier credited it), written_off
    (we pay it after all: the amount held back becomes payable)."""
    from dropbridge.services.reconcile_invoice import set_dispute

    out = set_dispute(load_app().ctx, dispute_id, status.value, note)
    console.print(f"dispute {dispute_id}: {out['from']} -> {out['status']}")


@disputes_app.command("totals")
def disputes_totals(supplier: str | None = typer.Option(None), fmt: Format = typer.Option(Format.TABLE, "--format")):
    """Reconciliation results per supplier and month: lines and amounts by outcome and dispute status."""
    from dropbridge.services.reconcile_invoice import dispute_totals

    _print(dispute_totals(load_app().ctx, supplier), ["supplier", "month", "outcome", "dispute", "lines", "billed",
                                                      "expected", "accepted", "difference", "currency"], fmt)


@payables_app.command("list")
def payables_list(supplier: str | None = typer.Option(None, help="only this supplier"),
                  due_before: datetime | None = typer.Option(None, "--due-before", formats=["%Y-%m-%d"],
                                                             help="due on or before this day"),
                  status: str = typer.Option("open", help="open, batched, paid or all"),
                  fmt: Format = typer.Option(Format.TABLE, "--format")):
    """What we owe suppliers, by due date."""
    from dropbridge.services.payables import list_payables

    rows = list_payables(load_app().ctx, supplier, due_before.date() if due_before else None, status)
    _print(rows, ["id", "supplier", "source", "amount", "currency", "due", "status", "batch", "memo"], fmt)


@payables_app.command("batch")
def payables_batch(supplier: str | None = typer.Option(None, help="only this supplier"),
                   due_before: datetime | None = typer.Option(None, "--due-before", formats=["%Y-%m-%d"],
                                                              help="what is due by this day (default today)"),
                   out: Path = typer.Option(Path("."), "--out", file_okay=False, help="folder for the files"),
                   debtor_name: str | None = typer.Option(None, envvar="DROPBRIDGE_PAYER_NAME",
                                                          help="our account holder name (SEPA)"),
                   debtor_iban: str | None = typer.Option(None, envvar="DROPBRIDGE_PAYER_IBAN",
                                                          help="our IBAN (SEPA)"),
                   debtor_bic: str | None = typer.Option(None, envvar="DROPBRIDGE_PAYER_BIC", help="our BIC (SEPA)")):
    """A payment batch of what is due: one payment per supplier and currency, written as
    payment-batch-ID.csv and, for EUR payments to suppliers with an IBAN and BIC (when our own account is
    given), payment-batch-ID.xml, a SEPA credit transfer (pain.001)."""
    from dropbridge.connectors.formats.sepa import sepa_xml
    from dropbridge.services.payables import batch_csv, create_batch

    batches = create_batch(load_app().ctx, supplier, due_before.date() if due_before else None)
    if not batches:
        console.print("nothing due")
        return
    out.mkdir(parents=True, exist_ok=True)
    for b in batches:
        path = out / f"payment-batch-{b.id}.csv"
        path.write_text(batch_csv(b), encoding="utf-8")
        console.print(f"batch {b.id}: {len(b.payments)} payment(s), {b.total} -> {path}")
        if b.currency == "EUR" and debtor_iban and debtor_bic:
            xml, skipped = sepa_xml(b, debtor_name or "dropbridge", debtor_iban, debtor_bic)
            if xml:
                xml_path = out / f"payment-batch-{b.id}.xml"
                xml_path.write_bytes(xml)
                console.print(f"  SEPA credit transfer -> {xml_path}")
            for name in skipped:
                console.print(f"  {name}: no IBAN/BIC configured, pay it from the CSV")


@payables_app.command("mark-paid")
def payables_mark_paid(batch: int | None = typer.Option(None, help="a batch id from `payables batch`"),
                       payable: list[int] = typer.Option([], "--payable", help="a payable id (repeatable)"),
                       reference: str | None = typer.Option(None, help="the bank's payment reference")):
    """Record a batch (or single payables) as paid."""
    from dropbridge.services.payables import mark_paid

    n = mark_paid(load_app().ctx, batch, payable or None, reference)
    console.print(f"{n} payable(s) marked paid")


export_app = typer.Typer(help="Exports for other tools.", no_args_is_help=True)


@export_app.command("journal")
def export_journal(start: datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"],
                                                         help="first day (UTC) of ledger entries exported"),
                   end: datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"],
                                                       help="last day (UTC) of ledger entries exported"),
                   accounts: Path | None = typer.Option(None, "--accounts", exists=True, dir_okay=False,
                                                        help="JSON: per ledger kind, the account and contra "
                                                             "account to post to (defaults for the rest)"),
                   out: Path | None = typer.Option(None, "--out", dir_okay=False, help="file (default: stdout)")):
    """The ledger as a double-entry journal CSV (date, entry, account, debit, credit, currency, description,
    order, store, supplier, kind): two balanced lines per ledger entry, for an accounting tool's import."""
    from dropbridge.services.exports import csv_chunks
    from dropbridge.services.journal import HEADER, accounts_from, journal_rows

    mapping = accounts_from(accounts.read_text(encoding="utf-8") if accounts else None,
                            str(accounts) if accounts else "the account mapping")
    rows = journal_rows(load_app().ctx, start.date() if start else None, end.date() if end else None, mapping)
    if out is None:
        for chunk in csv_chunks(HEADER, rows):
            sys.stdout.write(chunk)
        return
    with out.open("w", encoding="utf-8", newline="") as f:
        for chunk in csv_chunks(HEADER, rows):
            f.write(chunk)
    console.print(f"journal written to {out}")
