"""Feed sync and stock push."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .output import console, table
from .runtime import load_app

sync_app = typer.Typer(help="Feed sync and stock push.", no_args_is_help=True)


class Mode(StrEnum):
    FULL = "full"
    DELTA = "delta"


STAGES = {"parse": "parse", "stage": "stage (duplicates, indexes)", "catalog": "catalog (products, variants)",
          "images": "images queued", "apply": "apply (one transaction)"}


@sync_app.command("feed")
def sync_feed_cmd(supplier: str, source: str = typer.Argument(..., metavar="PATH_OR_URL"),
                  mode: Mode = typer.Option(Mode.FULL, help="full (absent SKUs go to zero) or delta"),
                  dry_run: bool = typer.Option(False, "--dry-run", help="show how the first rows map; change nothing")):
    """Sync a supplier feed file. Exits 1 when the feed is quarantined or unreadable."""
    from dropbridge.services.sync_feed import sync_feed

    built = load_app()
    if source.startswith(("http://", "https://")):
        from dropbridge.services.feed_sources import fetch_feed_url, set_feed_url

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
        _dry_run(built, supplier, path)
        return
    from dropbridge.services.connections import supplier_by_name
    from dropbridge.services.sync_feed import feed_spec_for

    feed_spec_for(built.ctx, supplier_by_name(built.ctx, supplier))  # a config it cannot use: one line, before any bar
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} rows"),
                  TimeElapsedColumn(), console=console, transient=True) as progress, path.open("rb") as fh:
        task = progress.add_task(f"sync {path.name}", total=None)

        def stage(name: str) -> None:  # the bar says what runs now, so it never looks frozen
            progress.update(task, description=f"sync {path.name}: {STAGES.get(name, name)}")

        outcome = sync_feed(built.ctx, supplier, fh, str(path), mode=mode.value,
                            progress=lambda n: progress.advance(task, n), on_stage=stage)
    _print_outcome(outcome)


def _dry_run(built, supplier: str, path: Path) -> None:
    """The first rows as the sync would read them; when the file cannot be mapped, its first rows as they
    are and the problem (exit 1). Nothing is stored."""
    from dropbridge.connectors.formats.feeds.reader import dry_run_table, preview_feed
    from dropbridge.services.connections import supplier_by_name
    from dropbridge.services.sync_feed import feed_spec_for

    spec = feed_spec_for(built.ctx, supplier_by_name(built.ctx, supplier))
    with path.open("rb") as fh:
        preview = preview_feed(fh, path.name, spec, max_bytes=built.settings.feed_max_bytes)
    if preview.items:
        rows = dry_run_table(preview.items)
        table(rows, list(rows[0]), title=f"{path.name}: first rows as dropbridge reads them")
    elif preview.raw:
        table(preview.raw, list(preview.raw[0]), title=f"{path.name}: first rows as they are in the file")
    if preview.problem is not None:
        console.print(f"[bold red]problem:[/] {preview.problem}", highlight=False)
        raise typer.Exit(1)
    if not preview.items:
        console.print(f"{path.name}: no rows to show")


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
    from dropbridge.services.sync_feed import rejects_csv

    for chunk in rejects_csv(load_app().ctx, run_id):
        sys.stdout.write(chunk)


@sync_app.command("push")
def sync_push(store: str = typer.Argument(None, help="one store; default: every store"),
              publish: bool = typer.Option(True, help="also list offered variants the store lacks")):
    """Push available-to-promise stock and delivery windows (only what changed) and publish new products to stores."""
    from dropbridge.services.follow_variants import follow_variants
    from dropbridge.services.publish_listings import publish_products, push_stock
    from dropbridge.services.push_delivery import push_delivery

    ctx = load_app().ctx
    with ctx.uow(read_only=True) as uow:
        names = [store] if store else [s.name for s in uow.stores.all()]
    for name in names:
        if publish:
            skus = publish_products(ctx, name)
            console.print(f"{name}: published {len(skus)} variants")
            followed = follow_variants(ctx, name)
            if followed.products:
                console.print(f"{name}: variants followed on {followed.products} products: {followed.added} added, "
                              f"{followed.renamed} renamed, {followed.retired} retired, {followed.restored} restored, "
                              f"{followed.repointed} listings repointed; {len(followed.failed)} failed")
            for sku, reason in followed.failed[:20]:
                console.print(f"   {sku}: {reason}")
        summary = push_stock(ctx, name)
        console.print(f"{name}: {summary.changes} stock changes of {summary.listings} listings in "
                      f"{summary.calls} calls; {len(summary.failed)} failed")
        for vid, reason in summary.failed[:20]:
            console.print(f"   {vid}: {reason}")
        delivery = push_delivery(ctx, name)
        if delivery.supported:
            console.print(f"{name}: {delivery.changes} delivery windows of {delivery.listings} listings in "
                          f"{delivery.calls} calls; {len(delivery.failed)} failed")
            for vid, reason in delivery.failed[:20]:
                console.print(f"   {vid}: {reason}")


@sync_app.command("catalog")
def sync_catalog_cmd(supplier: str, dry_run: bool = typer.Option(False, "--dry-run",
                                                                   help="pull and compare; change nothing")):
    """Pull an API supplier's catalog, stock and costs through the feed engine. Exits 1 if quarantined."""
    from dropbridge.services.sync_catalog import preview_catalog, sync_catalog

    ctx = load_app().ctx
    if dry_run:
        preview = preview_catalog(ctx, supplier)
        console.print(f"{supplier}: {preview.offers:,} offers, {preview.new:,} new, {preview.changed:,} changed "
                      "(dry run: nothing applied)")
        table(preview.sample, ["sku", "stock", "cost_minor", "currency", "title"], title="first offers")
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} offers"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"pull {supplier}", total=None)
        outcome = sync_catalog(ctx, supplier, progress=lambda n: progress.advance(task, n))
    _print_outcome(outcome)
