"""API tokens."""

from __future__ import annotations

import typer

from .output import console
from .runtime import load_app

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@token_app.command("create")
def token_create(name: str = typer.Argument("default")):
    """Create an API bearer token (shown once; stored hashed)."""
    from dropbridge.services.tokens import create_token

    console.print(create_token(load_app().ctx, name))

