"""Secret keys: rotate the key credentials are encrypted with."""

from __future__ import annotations

import typer

from .output import console
from .runtime import load_app

keys_app = typer.Typer(help="Secret keys for credentials at rest.", no_args_is_help=True)


@keys_app.command("rotate")
def keys_rotate(new_key: bool = typer.Option(False, "--new-key", help="first put a newly generated key at the "
                                             "head of the key file (not with DROPBRIDGE_SECRET_KEYS)"),
                prune: bool = typer.Option(False, "--prune", help="afterwards remove the older keys from the key "
                                           "file (not with DROPBRIDGE_SECRET_KEYS)")):
    """Re-encrypt every stored credential with the newest key; the older keys can then be removed."""
    from dropbridge.config import Settings
    from dropbridge.secrets import new_key as generate
    from dropbridge.secrets import read_key_file, write_key_file
    from dropbridge.services.keys import rotate_credentials

    settings = Settings()
    path = settings.secret_keys_file
    from_file = not settings.secret_keys
    if (new_key or prune) and not from_file:
        raise typer.BadParameter("--new-key and --prune edit the key file; with DROPBRIDGE_SECRET_KEYS put the new "
                                 "key first there, rotate, then drop the old ones yourself")
    if new_key:
        if not path.exists():
            raise typer.BadParameter(f"no key file at {path} (run `dropbridge init` first)")
        write_key_file(path, [generate(), *read_key_file(path)])
    built = load_app()
    counts = rotate_credentials(built.ctx)
    console.print(f"re-encrypted {counts['store']} store and {counts['supplier']} supplier credentials and "
                  f"{counts['runtime']} runtime secrets (access tokens) with the newest key")
    older = built.ctx.vault.key_count - 1
    if prune and older:
        write_key_file(path, read_key_file(path)[:1])
        console.print(f"removed {older} older keys from {path}")
    elif older:
        where = str(path) if from_file else "DROPBRIDGE_SECRET_KEYS"
        console.print(f"{older} older keys are no longer needed: remove them from {where} (or rerun with --prune)")
