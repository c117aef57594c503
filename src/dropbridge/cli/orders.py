"""Orders: list, show, retry, reroute, cancel, report-defect."""

from __future__ import annotations

import json
from enum import StrEnum

import typer

from dropbridge.domain.states import OrderStatus
from dropbridge.services.report_defect import DEFECT_KINDS

from .output import console, print_order, table
from .runtime import load_app, person_ctx

orders_app = typer.Typer(help="Orders.", no_args_is_help=True)


@orders_app.command("list")
def orders_list(limit: int = typer.Option(20, min=1, max=1000),
                status: OrderStatus = typer.Option(None, case_sensitive=False, help="only orders in this status")):
    from dropbridge.services.order_view import list_orders

    table(list_orders(load_app().ctx, limit, status.value if status else None),
          ["id", "store", "external_id", "status", "lines", "created_at"])


@orders_app.command("show")
def orders_show(order_id: int, as_json: bool = typer.Option(False, "--json")):
    """An order: lines with their routing decision and reasons, supplier orders, shipments, margin."""
    from dropbridge.services.order_view import order_detail

    detail = order_detail(load_app().ctx, order_id)
    if as_json:
        console.print_json(json.dumps(detail))
        return
    print_order(detail)


@orders_app.command("retry")
def orders_retry(order_id: int, accept_low_margin: bool = typer.Option(False, help="waive the margin floor")):
    """Route held lines again and resend supplier orders that gave up (the supplier is asked first)."""
    from dropbridge.services.order_actions import retry_order

    for action in retry_order(load_app().ctx, order_id, accept_low_margin=accept_low_margin):
        console.print(action)


@orders_app.command("reroute")
def orders_reroute(order_id: int, exclude: list[str] = typer.Option([], help="supplier to avoid (repeatable)")):
    """Send lines not yet at a supplier back to routing, optionally avoiding suppliers."""
    from dropbridge.services.order_actions import reroute_order

    for action in reroute_order(load_app().ctx, order_id, exclude=exclude):
        console.print(action)


@orders_app.command("cancel")
def orders_cancel(order_id: int, reason: str = typer.Option("cancelled by the merchant")):
    """Cancel an order: supplier orders not yet shipped are cancelled, stock released, refund recorded."""
    from dropbridge.services.cancel_order import cancel_order

    console.print(cancel_order(load_app().ctx, order_id, reason))



DefectKind = StrEnum("DefectKind", {k: k for k in DEFECT_KINDS})


@orders_app.command("report-defect")
def orders_report_defect(order_id: int,
                         supplier: str = typer.Option(..., help="the supplier whose shipment it was"),
                         kind: DefectKind = typer.Option(..., help="what was wrong"),
                         note: str = typer.Option("", help="what the customer said")):
    """Record that a supplier's shipment on this order arrived with a wrong item, an item missing, or damaged
    (the supplier's newest shipment on the order); counted in `report vendors`."""
    from dropbridge.services.report_defect import report_defect

    done = report_defect(person_ctx(), order_id, supplier, kind.value, note)
    console.print(f"defect {done['id']} recorded: {done['kind']} on shipment {done['shipment_id']} "
                  f"of {done['supplier']} (order {done['order_id']})")
