"""Offers from suppliers and print-on-demand designs: `offers list`, `designs attach|list`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum

import typer

from .output import console, table
from .runtime import load_app

offers_app = typer.Typer(help="Supplier offers: what each supplier sells, at what cost, with what stock.",
                         no_args_is_help=True)
designs_app = typer.Typer(help="Print on demand: designs attached to SKUs.", no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    json = "json"


@offers_app.command("list")
def offers_list(supplier: str = typer.Option(None, help="one supplier"),
                sku: str = typer.Option(None, help="a supplier SKU or our variant SKU"),
                limit: int = typer.Option(100, min=1, max=10_000),
                fmt: Format = typer.Option(Format.table, "--format", help="table or json")):
    """Offers with cost, stock, reserved and available units."""
    from dropbridge.services.queries.offers import list_offers

    rows = list_offers(load_app().ctx, supplier=supplier, sku=sku, limit=limit)
    if fmt == Format.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table(rows, ["supplier", "supplier_sku", "variant_sku", "cost", "currency", "stock", "reserved", "available"],
          title="offers")


@designs_app.command("attach")
def designs_attach(sku: str, placement: str = typer.Option(..., help="front, back, sleeve_left, ..."),
                   file: str = typer.Option(..., help="the print file's URL"),
                   technique: str = typer.Option(None, help="dtg, embroidery, ...")):
    """Attach a design to a SKU: it travels on every order line of that SKU to print-on-demand suppliers."""
    from dropbridge.services.designs import attach_design

    design = attach_design(load_app().ctx, sku, placement, file, technique)
    console.print(f"{design['sku']}: {design['placement']} -> {design['file']}")


@designs_app.command("list")
def designs_list(sku: str = typer.Argument(None)):
    from dropbridge.services.designs import list_designs

    table(list_designs(load_app().ctx, sku), ["sku", "placement", "technique", "file"], title="designs")
