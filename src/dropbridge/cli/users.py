"""Dashboard users: add, list, remove, change a password."""

from __future__ import annotations

import sys

import typer

from .output import console, table
from .runtime import load_app

user_app = typer.Typer(help="Dashboard users (roles: owner, staff, viewer).", no_args_is_help=True)


def _password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise typer.BadParameter("no password on standard input", param_hint="--password-stdin")
        return password
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(email: str, role: str = typer.Option(..., help="owner | staff | viewer"),
             password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin")):
    """Add a user who can log in to the dashboard (the password is prompted for, or read from stdin)."""
    from dropbridge.services.users import ROLES, add_user

    if role not in ROLES:
        raise typer.BadParameter(f"one of {', '.join(ROLES)}", param_hint="--role")
    password = _password(password_stdin)
    add_user(load_app().ctx, email, role, password)
    console.print(f"user {email.strip().lower()} added as {role}")


@user_app.command("list")
def user_list():
    """Users, their roles and last logins."""
    from dropbridge.services.users import list_users

    rows = [{**u, "created_at": f"{u['created_at']:%Y-%m-%d %H:%M}",
             "last_login_at": f"{u['last_login_at']:%Y-%m-%d %H:%M}" if u["last_login_at"] else "-"}
            for u in list_users(load_app().ctx)]
    table(rows, ["email", "role", "created_at", "last_login_at"])


@user_app.command("remove")
def user_remove(email: str):
    """Remove a user (their sessions end at once). The last owner cannot be removed."""
    from dropbridge.services.users import remove_user

    remove_user(load_app().ctx, email)
    console.print(f"user {email} removed")


@user_app.command("passwd")
def user_passwd(email: str,
                password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin")):
    """Set a new password (the user's sessions end)."""
    from dropbridge.services.users import set_password

    password = _password(password_stdin)
    set_password(load_app().ctx, email, password)
    console.print(f"password of {email} changed")
