"""The approval queue of price changes: `prices pending|approve|reject`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum

import typer

from dropbridge.domain.errors import ValidationError

from .output import console, table
from .runtime import load_app, person_ctx

prices_app = typer.Typer(help="Price changes waiting for approval (beyond the tolerance, zero cost, under a floor).",
                         no_args_is_help=True)

COLUMNS = ["id", "store", "sku", "old_price", "new_price", "new_compare_at", "landed_cost", "reason"]


class Format(StrEnum):
    table = "table"
    json = "json"




@prices_app.command("pending")
def prices_pending(store: str = typer.Option(None, help="one store"),
                   fmt: Format = typer.Option(Format.table, "--format", help="table or json")):
    """Price changes waiting for approval, oldest first."""
    from dropbridge.services.price_approvals import pending_prices

    rows = pending_prices(load_app().ctx, store)
    if fmt == Format.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table(rows, COLUMNS, title="price changes waiting for approval")


def _decide(ids: list[int] | None, every: bool, store: str | None, approve: bool) -> None:
    from dropbridge.services.price_approvals import decide_prices

    if bool(ids) == every:
        raise ValidationError("give the ids of price changes, or --all (not both)", "id")
    decided = decide_prices(person_ctx(), None if every else list(ids or []), approve=approve, store_name=store)
    verb = "approved" if approve else "rejected"
    for row in decided:
        console.print(f"{row['id']}: {row['store']} {row['sku']} {row['old_price']} -> {row['new_price']} {verb}")
    console.print(f"{len(decided)} {verb}" + ("; the prices go live with the next push" if approve and decided else ""))


@prices_app.command("approve")
def prices_approve(ids: list[int] = typer.Argument(None, help="price change ids (from `prices pending`)"),
                   every: bool = typer.Option(False, "--all", help="every pending change"),
                   store: str = typer.Option(None, help="with --all: only this store's")):
    """Let pending price changes go live (a push is scheduled at once)."""
    _decide(ids, every, store, approve=True)


@prices_app.command("reject")
def prices_reject(ids: list[int] = typer.Argument(None, help="price change ids (from `prices pending`)"),
                  every: bool = typer.Option(False, "--all", help="every pending change"),
                  store: str = typer.Option(None, help="with --all: only this store's")):
    """Keep the store's prices: the same change is not proposed again."""
    _decide(ids, every, store, approve=False)
