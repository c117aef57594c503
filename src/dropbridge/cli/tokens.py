"""API tokens."""

from __future__ import annotations

from enum import StrEnum

import typer

from .output import console, table
from .runtime import load_app

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


class Scope(StrEnum):  # the choices Typer checks; the same list as services.tokens.SCOPES
    read = "read"
    orders_write = "orders:write"
    feeds_write = "feeds:write"
    prices_write = "prices:write"
    invoices_write = "invoices:write"
    admin = "admin"


@token_app.command("create")
def token_create(name: str = typer.Argument("default"),
                 scope: list[Scope] = typer.Option(None, "--scope", help="what the token may do (repeatable); "
                                                   "default admin, which implies every scope"),
                 store: list[str] = typer.Option(None, "--store", help="limit the token to this store (repeatable)"),
                 supplier: list[str] = typer.Option(None, "--supplier",
                                                    help="limit the token to this supplier (repeatable)")):
    """Create an API bearer token (shown once; stored hashed). A second token with a taken name is refused."""
    from dropbridge.services.tokens import DEFAULT_SCOPES, create_token

    scopes = [s.value for s in scope] if scope else list(DEFAULT_SCOPES)
    console.print(create_token(load_app().ctx, name, scopes, store or (), supplier or ()), soft_wrap=True)


@token_app.command("list")
def token_list():
    """Every token's name, scopes and limits (never the token itself)."""
    from dropbridge.services.tokens import list_tokens

    rows = [{"name": t["name"], "scopes": " ".join(t["scopes"]),
             "stores": "all" if t["stores"] is None else " ".join(t["stores"]) or "-",
             "suppliers": "all" if t["suppliers"] is None else " ".join(t["suppliers"]) or "-",
             "created_at": t["created_at"].strftime("%Y-%m-%d %H:%M") if t["created_at"] else "",
             "last_used_at": t["last_used_at"].strftime("%Y-%m-%d %H:%M") if t["last_used_at"] else ""}
            for t in list_tokens(load_app().ctx)]
    table(rows, ["name", "scopes", "stores", "suppliers", "created_at", "last_used_at"])


@token_app.command("revoke")
def token_revoke(name: str):
    """Delete a token; API processes stop accepting it within 5 seconds."""
    from dropbridge.services.tokens import revoke_token

    revoke_token(load_app().ctx, name)
    console.print(f"token {name} revoked")
