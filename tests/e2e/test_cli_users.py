"""`dropbridge user ...` as an operator types it (a real subprocess on a fresh data directory)."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.fernet import Fernet


def test_user_commands(tmp_path):
    env = {**os.environ, "DROPBRIDGE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
           "DROPBRIDGE_SECRET_KEYS": Fernet.generate_key().decode()}
    env.pop("DROPBRIDGE_DATABASE_URL", None)
    env.pop("DROPBRIDGE_QUEUE_URL", None)

    def run(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "dropbridge.cli", "user", *args], env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    added = run("add", "Ann@Shop.test", "--role", "owner", "--password-stdin", stdin="first-password-1\n")
    assert added.returncode == 0 and "user ann@shop.test added as owner" in added.stdout
    short = run("add", "bob@shop.test", "--role", "staff", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    bad_role = run("add", "bob@shop.test", "--role", "admin", "--password-stdin", stdin="long-enough-pass\n")
    assert bad_role.returncode == 2
    assert run("add", "bob@shop.test", "--role", "viewer", "--password-stdin", stdin="bob-password-1\n").returncode == 0
    listed = run("list").stdout
    assert "ann@shop.test" in listed and "owner" in listed and "bob@shop.test" in listed and "viewer" in listed
    assert "password" not in listed.lower().replace("passwd", "")
    last = run("remove", "ann@shop.test")
    assert last.returncode == 2 and "last owner" in last.stderr
    assert run("passwd", "bob@shop.test", "--password-stdin", stdin="new-password-22\n").returncode == 0
    assert run("remove", "bob@shop.test").returncode == 0
    assert "bob@shop.test" not in run("list").stdout
