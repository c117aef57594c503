"""The `dropbridge` command: one module per command group, output helpers in `output`."""

from __future__ import annotations

import sys

import typer

from dropbridge.domain.errors import DropbridgeError

from . import admin, reports
from .catalog import designs_app, offers_app
from .connections import store_app, supplier_app
from .orders import orders_app
from .output import console
from .platforms import connectors, sandbox_app
from .po import po_app
from .reports import fx_app, report_app
from .shipments import shipments_app
from .sync import sync_app
from .tokens import token_app

app = typer.Typer(help="dropbridge: dropshipping integration, self-hosted.", no_args_is_help=True)
admin.register(app)
for sub, name in ((store_app, "store"), (supplier_app, "supplier"), (sync_app, "sync"), (orders_app, "orders"),
                  (token_app, "token"), (report_app, "report"), (fx_app, "fx"), (offers_app, "offers"),
                  (designs_app, "designs"), (sandbox_app, "sandbox"), (po_app, "po"), (shipments_app, "shipments")):
    app.add_typer(sub, name=name)
reports.register(app)
app.command()(connectors)


def main() -> None:
    try:
        app()
    except DropbridgeError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
