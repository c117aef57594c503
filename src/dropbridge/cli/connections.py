"""Store and supplier connections."""

from __future__ import annotations

import typer

from .output import console, json_option, table
from .runtime import load_app

store_app = typer.Typer(help="Store connections.", no_args_is_help=True)
supplier_app = typer.Typer(help="Supplier connections.", no_args_is_help=True)


@store_app.command("add")
def store_add(name: str,
              platform: str = typer.Option(..., help="a store platform (`dropbridge connectors` lists them)"),
              url: str = typer.Option("", help="the store's base or event URL (not needed for bigcommerce)"),
              credentials: str = typer.Option(None, help="JSON object, stored encrypted"),
              config: str = typer.Option(None, help="JSON object"),
              public_url: str = typer.Option(None, help="where the platform can reach this dropbridge: "
                                                         "subscribes the store's order webhooks")):
    """Add or update a store connection."""
    from dropbridge.services.connections import add_store, subscribe_store_webhooks

    ctx = load_app().ctx
    store_id = add_store(ctx, name, platform, url, json_option(credentials, "credentials"),
                         json_option(config, "config"))
    console.print(f"store {name} (id {store_id}) saved")
    if public_url:
        ids = subscribe_store_webhooks(ctx, name, public_url)
        console.print(f"{len(ids)} webhook subscriptions in place" if ids else f"{platform} stores push orders "
                      "to our API; nothing to subscribe")


@store_app.command("list")
def store_list():
    from dropbridge.services.connections import describe

    built = load_app()
    with built.ctx.uow(read_only=True) as uow:
        rows = [describe(s) for s in uow.stores.all()]
    table(rows, ["id", "name", "platform", "base_url", "has_credentials"])


@supplier_app.command("add")
def supplier_add(name: str,
                 kind: str = typer.Option(None, help="a supplier kind (`dropbridge connectors` lists them)"),
                 url: str = typer.Option("", help="API base URL"),
                 credentials: str = typer.Option(None, help="JSON object, stored encrypted"),
                 config: str = typer.Option(None, help="JSON object: currency, buffer, shipping_per_order, feed"),
                 preset: str = typer.Option(None, help="start from a preset (`dropbridge supplier presets`): kind, "
                                                       "feed mapping and order path in one step")):
    """Add or update a supplier connection."""
    from dropbridge.services.connections import add_supplier

    settings = json_option(config, "config")
    if preset:
        from dropbridge.connectors.presets import merge_preset, supplier_preset

        kind, settings = merge_preset(supplier_preset(preset), kind, settings)
    if not kind:
        raise typer.BadParameter("give --kind (or --preset)", param_hint="--kind")
    supplier_id = add_supplier(load_app().ctx, name, kind, url, json_option(credentials, "credentials"), settings)
    console.print(f"supplier {name} (id {supplier_id}) saved" + (f" ({kind}, preset {preset})" if preset else ""))


@supplier_app.command("presets")
def supplier_presets():
    """Presets for `supplier add --preset`: order path (kind), feed mapping and whether it is verified."""
    from dropbridge.connectors.presets import PRESETS

    table([{"preset": p.name, "kind": p.kind, "mapping": p.mapping or "-", "mapping is": p.mapping_status,
            "note": p.note + (f" (still needs {p.needs})" if p.needs else "")} for p in PRESETS.values()],
          ["preset", "kind", "mapping", "mapping is", "note"], title="supplier presets")


@supplier_app.command("list")
def supplier_list():
    from dropbridge.services.connections import describe

    built = load_app()
    with built.ctx.uow(read_only=True) as uow:
        rows = [describe(s) for s in uow.suppliers.all()]
    table(rows, ["id", "name", "kind", "base_url", "has_credentials"])

