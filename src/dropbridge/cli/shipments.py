"""Tracking entered by hand or from a file, for any supplier: `shipments import`, `shipments add`."""

from __future__ import annotations

from pathlib import Path

import typer

from .output import console
from .runtime import load_app

shipments_app = typer.Typer(help="Tracking from a file or typed in; pushed to the store as fulfillments.",
                            no_args_is_help=True)


@shipments_app.command("import")
def shipments_import(supplier: str, file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True)):
    """Tracking CSV: reference (or order_number), carrier, tracking_number, optional tracking_url, shipped_at,
    sku, quantity. Bad rows are reported with their line numbers, good rows applied; exits 1 when any row
    was rejected."""
    from dropbridge.services.import_shipments import import_shipments

    outcome = import_shipments(load_app().ctx, supplier, file.read_bytes(), source=str(file))
    console.print(f"recorded {outcome.recorded} shipments, {outcome.known} already recorded, "
                  f"{len(outcome.rejected)} rows rejected")
    for line, field, reason in outcome.rejected:
        console.print(f"  line {line}: {field}: {reason}")
    if outcome.rejected:
        raise typer.Exit(1)


def _line(value: str) -> tuple[str, int]:
    sku, sep, qty = value.rpartition(":")
    if not sep or not sku or not qty.isdigit() or int(qty) <= 0:
        raise typer.BadParameter(f"{value!r}: give SKU:QUANTITY, e.g. TEE-BLK-M:2", param_hint="--line")
    return sku, int(qty)


@shipments_app.command("add")
def shipments_add(supplier: str,
                  order: str = typer.Argument(..., help="our reference (the PO number) or the supplier's order "
                                                        "number"),
                  carrier: str = typer.Option(..., help="e.g. UPS, USPS, DHL"),
                  tracking_number: str = typer.Option(..., "--tracking-number"),
                  tracking_url: str = typer.Option(None, "--tracking-url"),
                  line: list[str] = typer.Option([], "--line", help="SKU:QUANTITY in the parcel (repeatable; none: "
                                                                    "the whole order)")):
    """Record one shipment with its tracking number; the store gets the fulfillment."""
    from dropbridge.services.import_shipments import add_shipment
    from dropbridge.services.ports import SupplierOrderItem

    items = [SupplierOrderItem(*_line(value)) for value in line]
    shipment_id, key = add_shipment(load_app().ctx, supplier, order, carrier=carrier, tracking_number=tracking_number,
                                    tracking_url=tracking_url, items=items)
    if shipment_id is None:
        console.print(f"{tracking_number} is already recorded for {key}")
    else:
        console.print(f"shipment {shipment_id} recorded for {key}: {carrier} {tracking_number}")
