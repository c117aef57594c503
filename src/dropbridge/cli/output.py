"""How the CLI prints: one console, tables, an order's story."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def json_option(value: str | None, what: str) -> dict:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{what} must be JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter(f"{what} must be a JSON object")
    return parsed



def table(rows: list[dict], cols: list[str], title: str | None = None, headers: list[str] | None = None) -> None:
    table = Table(*(headers or cols), title=title)
    for row in rows:
        table.add_row(*[str(row.get(c, "")) for c in cols])
    console.print(table)



def print_order(d: dict) -> None:
    console.print(f"[bold]order {d['external_id']}[/] (id {d['id']}, store {d['store']}) status [bold]{d['status']}[/]")
    for ln in d["lines"]:
        r = ln["routing"] or {}
        console.print(f"  line {ln['line_no']}: {ln['quantity']} x {ln['sku']} @ {ln['unit_price']} -> {ln['status']}"
                      f" ({r.get('reason', 'not routed yet')})")
        for c in r.get("candidates", []):
            mark = "*" if c["chosen"] else " "
            console.print(f"     {mark} {c['supplier']:<12} available {c['available']:>4}  landed "
                          f"{c['landed_cost'] or '-':>12}  {c['reason']}")
    for so in d["supplier_orders"]:
        console.print(f"  supplier order {so['reference']} -> {so['supplier']} {so['status']} "
                      f"(supplier ref {so['external_id'] or '-'})")
    for sh in d["shipments"]:
        console.print(f"  shipment {sh['carrier']} {sh['tracking_number']} "
                      f"{'pushed to store' if sh['pushed_to_store'] else 'not yet pushed'}")
    m = d["margin"]
    console.print(f"  margin {m['margin']} {d['currency']} = revenue {m['revenue_total']} - costs {m['cost_total']}")

