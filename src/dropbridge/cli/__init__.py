"""The `dropbridge` command: one module per command group, output helpers in `output`."""

from __future__ import annotations

import sys

import typer

from dropbridge.domain.errors import DropbridgeError

from . import admin, reports
from .catalog import designs_app, offers_app
from .connections import store_app, supplier_app
from .keys import keys_app
from .money import disputes_app, export_app, payables_app, reconcile
from .orders import orders_app
from .output import err_console
from .platforms import connectors, sandbox_app
from .po import po_app
from .prices import prices_app
from .reports import fx_app, report_app
from .shipments import shipments_app
from .sync import sync_app
from .tokens import token_app
from .users import user_app

app = typer.Typer(help="dropbridge: dropshipping integration, self-hosted.", no_args_is_help=True)
admin.register(app)
for sub, name in ((store_app, "store"), (supplier_app, "supplier"), (sync_app, "sync"), (orders_app, "orders"),
                  (token_app, "token"), (report_app, "report"), (fx_app, "fx"), (offers_app, "offers"),
                  (designs_app, "designs"), (sandbox_app, "sandbox"), (user_app, "user"), (keys_app, "keys"),
                  (po_app, "po"), (shipments_app, "shipments"), (prices_app, "prices"),
                  (disputes_app, "disputes"), (payables_app, "payables"), (export_app, "export")):
    app.add_typer(sub, name=name)
reports.register(app)
app.command()(connectors)
app.command()(reconcile)


def main() -> None:
    """Errors are one line on standard error: a wrong option or value exits 2 saying what is allowed (Typer
    validates choices), and so does an error of ours (DropbridgeError); never a traceback."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except typer.TyperException as exc:  # Typer's usage errors (its own copy of click's)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help text itself
            err_console.print(message, markup=False, highlight=False)
        else:
            err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except DropbridgeError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
