"""The purchase-order queue for suppliers ordered by hand: `po list`, `po export`, `po placed`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer

from .output import console, table
from .runtime import load_app

po_app = typer.Typer(help="Purchase orders waiting for a person (manual suppliers).", no_args_is_help=True)


class Format(StrEnum):
    csv = "csv"
    pdf = "pdf"


@po_app.command("list")
def po_list(supplier: str = typer.Option(None, help="only this supplier's"),
            status: str = typer.Option("waiting", help="waiting, sent, placed, pending, partially_shipped, shipped, "
                                                       "delivered, cancelled, rejected, failed, or all"),
            limit: int = typer.Option(200, min=1, max=10_000)):
    """Purchase orders (supplier orders) by status: `waiting` are those a person still has to order."""
    from dropbridge.services.purchase_orders import list_purchase_orders

    rows = list_purchase_orders(load_app().ctx, supplier=supplier, status=status, limit=limit)
    table(rows, ["id", "reference", "supplier", "status", "order", "lines", "ship_to", "external_id", "since"],
          title=f"purchase orders ({status})")


@po_app.command("export")
def po_export(supplier: str, fmt: Format = typer.Option(..., "--format", help="csv or pdf"),
              output: Path = typer.Option(None, "--output", "-o",
                                          help="file to write (default: CSV to stdout, PDF to "
                                               "po-SUPPLIER-TIME.pdf here)")):
    """What to order from SUPPLIER and where to ship it: its waiting POs as CSV (one row per line) or PDF (each
    PO, then its branded packing slip for the parcel)."""
    from dropbridge.connectors.kit import documents
    from dropbridge.services.purchase_orders import waiting_purchase_orders

    built = load_app()
    export = waiting_purchase_orders(built.ctx, supplier)
    if not export.requests:
        console.print(f"no purchase orders waiting for {supplier}")
        return
    now = datetime.now(UTC)
    if fmt == Format.csv:
        data = documents.po_csv(export.requests)
        if output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
    else:
        logos = documents.load_logos(export.requests, timeout=built.settings.http_timeout_seconds,
                                     allow_private=built.settings.images_allow_private_hosts)
        data = documents.purchase_order_pdf(export.requests, buyer=None, issued=now, logos=logos)
        output = output or Path(f"po-{supplier}-{now:%Y%m%d-%H%M%S}.pdf")
    output.write_bytes(data)
    console.print(f"wrote {len(export.requests)} purchase orders for {supplier} to {output}")


@po_app.command("placed")
def po_placed(po: str = typer.Argument(..., metavar="ID", help="the id `po list` shows, or the PO's reference"),
              external_id: str = typer.Option(..., "--external-id", help="the supplier's order number"),
              cost: str = typer.Option(None, help="what the supplier charged for the goods, e.g. 17.50 (the PO's "
                                                  "currency)")):
    """A person ordered the PO at the supplier: record its order number (and cost)."""
    from dropbridge.services.purchase_orders import mark_placed

    console.print(mark_placed(load_app().ctx, po, external_id, cost))
