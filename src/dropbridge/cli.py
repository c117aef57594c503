"""The `dropbridge` command."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .domain.errors import DropbridgeError

app = typer.Typer(help="dropbridge: dropshipping integration, self-hosted.", no_args_is_help=True)
store_app = typer.Typer(help="Store connections.", no_args_is_help=True)
supplier_app = typer.Typer(help="Supplier connections.", no_args_is_help=True)
sync_app = typer.Typer(help="Feed sync and stock push.", no_args_is_help=True)
orders_app = typer.Typer(help="Orders.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
for sub, name in ((store_app, "store"), (supplier_app, "supplier"), (sync_app, "sync"), (orders_app, "orders"),
                  (token_app, "token"), (report_app, "report")):
    app.add_typer(sub, name=name)

console = Console()


def _app(migrate: bool = True):
    from .bootstrap import bootstrap, configure_logging
    from .config import Settings

    settings = Settings()
    configure_logging(settings.log_level)
    built = bootstrap(settings)
    if migrate:
        from .storage.migrate import upgrade

        upgrade(built.engine)
    return built


def _json_opt(value: str | None, what: str) -> dict:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{what} must be JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter(f"{what} must be a JSON object")
    return parsed


@app.command()
def init():
    """Create the database (or bring it up to date) and the secret key file."""
    built = _app()
    console.print(f"database ready: {built.engine.url.render_as_string(hide_password=True)}")


@app.command()
def migrate():
    """Upgrade the database schema to the latest migration."""
    from .storage.migrate import current

    built = _app()
    console.print(f"schema at revision {current(built.engine)}")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = typer.Option(None, help="job threads"),
          sandbox: bool = typer.Option(False, help="also start the emulators and connect them")):
    """API, dashboard, worker and scheduler in one process (the embedded default)."""
    import uvicorn

    from .api.app import create_app
    from .jobs.queue import Ticker

    built = _app()
    consumer = built.huey.create_consumer(workers=workers or built.settings.worker_threads, worker_type="thread")
    ticker = Ticker(built.ctx, built.huey)
    emulators = None
    if sandbox:
        from .sandbox.demo_env import DemoEnvironment

        emulators = DemoEnvironment(built.ctx, api_url=f"http://{host}:{port}")
        emulators.start()
    consumer.start()
    ticker.start()
    try:
        uvicorn.run(create_app(built), host=host, port=port, log_level="info")
    finally:
        ticker.stop()
        consumer.stop(graceful=True)
        if emulators:
            emulators.stop()


@app.command()
def worker(threads: int = typer.Option(None, help="job threads"),
           scheduler: bool = typer.Option(True, help="also run the sweeper and tracking poll (one per deployment)")):
    """Job workers only, for scaled deployments (point DROPBRIDGE_QUEUE_URL at Redis)."""
    from .jobs.queue import Ticker
    from .jobs.runner import sweep

    built = _app(migrate=False)
    consumer = built.huey.create_consumer(workers=threads or built.settings.worker_threads, worker_type="thread")
    ticker = Ticker(built.ctx, built.huey) if scheduler else None
    sweep(built.ctx, grace_seconds=0)  # recover what a crashed predecessor left
    if ticker:
        ticker.start()
    try:
        consumer.run()  # handles SIGINT/SIGTERM gracefully
    finally:
        if ticker:
            ticker.stop()


@app.command()
def demo(keep_running: bool = typer.Option(False, help="leave the emulators and API up afterwards")):
    """Run a complete day of a store against local emulators and print what happened."""
    from .bootstrap import configure_logging
    from .sandbox.demo import run_demo

    built = _app()
    configure_logging("ERROR")  # the demo prints its own story
    code = run_demo(built, console, keep_running=keep_running)
    raise typer.Exit(code)


@token_app.command("create")
def token_create(name: str = typer.Argument("default")):
    """Create an API bearer token (shown once; stored hashed)."""
    from .services.tokens import create_token

    console.print(create_token(_app().ctx, name))


@store_app.command("add")
def store_add(name: str, platform: str = typer.Option(..., help="headless | shopify | woocommerce | bigcommerce"),
              url: str = typer.Option(..., help="the store's base or event URL"),
              credentials: str = typer.Option(None, help="JSON object, stored encrypted"),
              config: str = typer.Option(None, help="JSON object"),
              public_url: str = typer.Option(None, help="where the platform can reach this dropbridge: "
                                                         "subscribes the store's order webhooks")):
    """Add or update a store connection."""
    from .services.connections import add_store, subscribe_store_webhooks

    ctx = _app().ctx
    store_id = add_store(ctx, name, platform, url, _json_opt(credentials, "credentials"), _json_opt(config, "config"))
    console.print(f"store {name} (id {store_id}) saved")
    if public_url:
        ids = subscribe_store_webhooks(ctx, name, public_url)
        console.print(f"{len(ids)} webhook subscriptions in place" if ids else f"{platform} stores push orders "
                      "to our API; nothing to subscribe")


@store_app.command("list")
def store_list():
    from .services.connections import describe

    built = _app()
    with built.ctx.uow(read_only=True) as uow:
        rows = [describe(s) for s in uow.stores.all()]
    _table(rows, ["id", "name", "platform", "base_url", "has_credentials"])


@supplier_app.command("add")
def supplier_add(name: str, kind: str = typer.Option(..., help="rest | csv | ..."),
                 url: str = typer.Option("", help="API base URL"),
                 credentials: str = typer.Option(None, help="JSON object, stored encrypted"),
                 config: str = typer.Option(None, help="JSON object: currency, buffer, shipping_per_order, feed")):
    """Add or update a supplier connection."""
    from .services.connections import add_supplier

    supplier_id = add_supplier(_app().ctx, name, kind, url, _json_opt(credentials, "credentials"),
                               _json_opt(config, "config"))
    console.print(f"supplier {name} (id {supplier_id}) saved")


@supplier_app.command("list")
def supplier_list():
    from .services.connections import describe

    built = _app()
    with built.ctx.uow(read_only=True) as uow:
        rows = [describe(s) for s in uow.suppliers.all()]
    _table(rows, ["id", "name", "kind", "base_url", "has_credentials"])


@sync_app.command("feed")
def sync_feed_cmd(supplier: str, source: str = typer.Argument(..., metavar="PATH_OR_URL"),
                  mode: str = typer.Option("full", help="full (absent SKUs go to zero) or delta"),
                  dry_run: bool = typer.Option(False, "--dry-run", help="show how the first rows map; change nothing")):
    """Sync a supplier feed file. Exits 1 when the feed is quarantined or unreadable."""
    from .services.sync_feed import sync_feed

    built = _app()
    if source.startswith(("http://", "https://")):
        from .services.feed_sources import fetch_feed_url, set_feed_url

        set_feed_url(built.ctx, supplier, source)
        outcome = fetch_feed_url(built.ctx, supplier)
        if outcome is None:
            console.print("not modified since the last fetch (ETag / Last-Modified): nothing to do")
            return
        _print_outcome(outcome)
        return
    path = Path(source)
    if not path.is_file():
        raise typer.BadParameter(f"no such file: {source}")
    if dry_run:
        from .connectors.feeds.reader import dry_run as preview
        from .connectors.feeds.reader import dry_run_table
        from .services.connections import supplier_by_name
        from .services.sync_feed import feed_spec_for

        spec = feed_spec_for(supplier_by_name(built.ctx, supplier))
        with path.open("rb") as fh:
            rows = dry_run_table(preview(fh, path.name, spec))
        _table(rows, list(rows[0]) if rows else [], title=f"{path.name}: first rows as dropbridge reads them")
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} rows"),
                  TimeElapsedColumn(), console=console, transient=True) as progress, path.open("rb") as fh:
        task = progress.add_task(f"sync {path.name}", total=None)
        outcome = sync_feed(built.ctx, supplier, fh, str(path), mode=mode,
                            progress=lambda n: progress.advance(task, n))
    _print_outcome(outcome)


def _print_outcome(outcome) -> None:
    console.print(f"sync run {outcome.run_id}: {outcome.status} - read {outcome.rows_read:,}, changed "
                  f"{outcome.changed:,}, unchanged {outcome.unchanged:,}, zeroed {outcome.zeroed:,}, "
                  f"rejected {outcome.rejected:,}")
    for line, field, reason in outcome.rejects or []:
        console.print(f"  line {line}: {field or '-'}: {reason}")
    if outcome.status != "applied":
        console.print(f"[bold red]{outcome.status}[/]: {outcome.reason}")
        raise typer.Exit(1)


@sync_app.command("rejects")
def sync_rejects(run_id: int):
    """The rejected rows of a sync run as CSV (line, field, reason, raw) on standard output."""
    from .services.sync_feed import rejects_csv

    for chunk in rejects_csv(_app().ctx, run_id):
        sys.stdout.write(chunk)


@sync_app.command("push")
def sync_push(store: str = typer.Argument(None, help="one store; default: every store"),
              publish: bool = typer.Option(True, help="also list offered variants the store lacks")):
    """Push available-to-promise stock (only what changed) and publish new products to stores."""
    from .services.publish_listings import publish_products, push_stock

    ctx = _app().ctx
    with ctx.uow(read_only=True) as uow:
        names = [store] if store else [s.name for s in uow.stores.all()]
    for name in names:
        if publish:
            skus = publish_products(ctx, name)
            console.print(f"{name}: published {len(skus)} variants")
        summary = push_stock(ctx, name)
        console.print(f"{name}: {summary.changes} stock changes of {summary.listings} listings in "
                      f"{summary.calls} calls; {len(summary.failed)} failed")
        for vid, reason in summary.failed[:20]:
            console.print(f"   {vid}: {reason}")


@orders_app.command("list")
def orders_list(limit: int = 20, status: str = typer.Option(None)):
    from .services.order_view import list_orders

    _table(list_orders(_app().ctx, limit, status), ["id", "store", "external_id", "status", "lines", "created_at"])


@orders_app.command("show")
def orders_show(order_id: int, as_json: bool = typer.Option(False, "--json")):
    """An order: lines with their routing decision and reasons, supplier orders, shipments, margin."""
    from .services.order_view import order_detail

    detail = order_detail(_app().ctx, order_id)
    if as_json:
        console.print_json(json.dumps(detail))
        return
    print_order(detail)


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


@orders_app.command("retry")
def orders_retry(order_id: int, accept_low_margin: bool = typer.Option(False, help="waive the margin floor")):
    """Route held lines again and resend supplier orders that gave up (the supplier is asked first)."""
    from .services.order_actions import retry_order

    for action in retry_order(_app().ctx, order_id, accept_low_margin=accept_low_margin):
        console.print(action)


@orders_app.command("reroute")
def orders_reroute(order_id: int, exclude: list[str] = typer.Option([], help="supplier to avoid (repeatable)")):
    """Send lines not yet at a supplier back to routing, optionally avoiding suppliers."""
    from .services.order_actions import reroute_order

    for action in reroute_order(_app().ctx, order_id, exclude=exclude):
        console.print(action)


@orders_app.command("cancel")
def orders_cancel(order_id: int, reason: str = typer.Option("cancelled by the merchant")):
    """Cancel an order: supplier orders not yet shipped are cancelled, stock released, refund recorded."""
    from .services.cancel_order import cancel_order

    console.print(cancel_order(_app().ctx, order_id, reason))


fx_app = typer.Typer(help="Currency rates.", no_args_is_help=True)
app.add_typer(fx_app, name="fx")


@fx_app.command("import")
def fx_import(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="the ECB eurofxref.csv")):
    """Import ECB reference rates (EUR based; cross rates are derived)."""
    from .services.fx import import_ecb_csv

    added = import_ecb_csv(_app().ctx, path.read_text(encoding="utf-8-sig"), source=f"ECB {path.name}")
    console.print(f"{added} rates added")


@report_app.command("margin")
def report_margin(by: str = typer.Option("order", help="order | product | supplier | store"),
                  fmt: str = typer.Option("table", "--format", help="table | csv | json")):
    """Margins from the ledger."""
    from .services.order_view import margin_report

    rows = margin_report(_app().ctx, by)
    cols = [by, "currency", "revenue", "costs", "margin", "margin_pct"]
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=cols)
        writer.writeheader()
        writer.writerows(rows)
    else:
        _table(rows, cols, title=f"margin by {by}")


@app.command()
def alerts(limit: int = 20):
    from .services.order_view import list_alerts

    _table(list_alerts(_app().ctx, limit), ["id", "created_at", "severity", "kind", "message"])


@app.command()
def audit(limit: int = 30):
    from .services.order_view import list_audit

    _table(list_audit(_app().ctx, limit), ["id", "at", "actor", "action", "subject", "correlation_id"])


def _table(rows: list[dict], cols: list[str], title: str | None = None) -> None:
    table = Table(*cols, title=title)
    for row in rows:
        table.add_row(*[str(row.get(c, "")) for c in cols])
    console.print(table)


def main() -> None:
    try:
        app()
    except DropbridgeError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
