"""What dropbridge can connect to, and the emulators that stand in for it: `connectors`, `sandbox run`."""

from __future__ import annotations

import json
import signal
import sys
import threading
from enum import StrEnum

import typer
from rich.console import Console

from .output import table

sandbox_app = typer.Typer(help="Emulators of the platforms, for trying dropbridge without accounts.",
                          no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    json = "json"


def connectors(fmt: Format = typer.Option(Format.table, "--format", help="table or json")):
    """Every store platform and supplier kind: role, capabilities, credential keys, config schema."""
    from dropbridge.connectors.registry import Registry

    registry = Registry.default()
    rows = [{"name": k.name, "role": k.role, "capabilities": sorted(c.value for c in k.capabilities),
             "credentials": list(k.credentials), "optional_credentials": list(k.optional_credentials),
             "needs_url": k.needs_url, "config": k.config_schema, "summary": k.summary}
            for role in ("store", "supplier") for k in registry.kinds(role)]
    if fmt == Format.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table([{**r, "capabilities": ", ".join(r["capabilities"]), "credentials": ", ".join(r["credentials"]) or "-"}
           for r in rows], ["name", "role", "capabilities", "credentials", "summary"], title="connectors")


@sandbox_app.command("run")
def sandbox_run(name: str = typer.Argument(..., help="shopify, woocommerce, bigcommerce, headless, rest, ..."),
                port: int = typer.Option(0, help="port on 127.0.0.1 (0: any free port)"),
                webhook_url: str = typer.Option(None, help="where the emulator sends its events (this dropbridge's "
                                                           "webhook URL for it), where the platform sends any")):
    """Start one emulator on 127.0.0.1. The first line printed is its connection as JSON
    ({"name", "base_url", "credentials", "config"}), which `store add` / `supplier add` take as they are."""
    from dropbridge.sandbox import registry

    try:
        emulator = registry.build(name, **({"webhook_url": webhook_url} if webhook_url else {}))
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="NAME") from None
    emulator.start(port=port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sys.stdout.write(json.dumps(emulator.connection()) + "\n")
    sys.stdout.flush()
    Console(stderr=True).print(f"{name} emulator at {emulator.url}; Ctrl-C stops it")
    try:
        stop.wait()
    finally:
        emulator.stop()
