"""Offers from suppliers and print-on-demand designs: `offers list|confirm|remap`, `designs attach|list`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum

import typer

from .output import console, table
from .runtime import load_app, person_ctx

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
    """Offers with cost, stock, reserved and available units; a quarantined offer (its supplier SKU now names
    another item) shows what changed and promises nothing; an absent one, since when its supplier's full feeds
    lack it."""
    from dropbridge.services.queries.offers import list_offers

    rows = list_offers(load_app().ctx, supplier=supplier, sku=sku, limit=limit)
    if fmt == Format.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    shown = [{**r, "quarantined": f"yes: {r['drift']}" if r["quarantined"] else "",
              "absent_since": (r["absent_since"] or "")[:10]} for r in rows]
    table(shown, ["supplier", "supplier_sku", "variant_sku", "cost", "currency", "stock", "reserved", "available",
                  "quarantined", "absent_since"], title="offers")




def _held(held: list[int]) -> None:
    if held:
        console.print(f"orders on hold for this item: {', '.join(map(str, held))} "
                      "(`dropbridge orders retry ID` routes one again)")


@offers_app.command("confirm")
def offers_confirm(supplier: str, sku: str = typer.Argument(..., help="the supplier's SKU")):
    """Accept what a quarantined supplier SKU now is: the mapping takes the new GTIN, parent or options, and
    the offer is routed to and promises stock again (pushed to the stores)."""
    from dropbridge.services.offer_drift import confirm_offer

    done = confirm_offer(person_ctx(), supplier, sku)
    console.print(f"{supplier} {sku}: confirmed ({done['accepted']}); stock and prices are pushed next",
                  markup=False, highlight=False)
    _held(done["held_orders"])


@offers_app.command("remap")
def offers_remap(supplier: str, sku: str = typer.Argument(..., help="the supplier's SKU"),
                 variant: str = typer.Option(..., "--variant", help="our variant SKU the supplier SKU now is")):
    """Map a supplier SKU to another of our variants (what it now sells under that SKU), and release it."""
    from dropbridge.services.offer_drift import remap_offer

    done = remap_offer(person_ctx(), supplier, sku, variant)
    console.print(f"{supplier} {sku}: now {done['to']} (was {done['from'] or 'unmapped'}); stock and prices are "
                  "pushed next", markup=False, highlight=False)
    _held(done["held_orders"])


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
