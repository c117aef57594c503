"""The data directory is created 0700; the SQLite database, the queue database, their WAL and shared-memory
files and the key file 0600 (they hold customer addresses, raw webhooks and the credential key). PostgreSQL
keeps its data on its server: the files here are the SQLite ones, and the key file and directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from cryptography.fernet import Fernet
from sqlalchemy import text

from dropbridge.bootstrap import bootstrap
from dropbridge.fileperms import private_file
from dropbridge.storage.migrate import upgrade

from ..conftest import make_settings


def mode(path) -> str:
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def test_a_new_data_directory_and_its_files_are_private(tmp_path):
    os.umask(0o022)  # the usual umask, which would give 0755 / 0644
    data = tmp_path / "data"
    env = {**os.environ, "DROPBRIDGE_DATA_DIR": str(data)}
    for name in ("DROPBRIDGE_DATABASE_URL", "DROPBRIDGE_QUEUE_URL", "DROPBRIDGE_SECRET_KEYS"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "dropbridge.cli", "init"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert mode(data) == "0o700"
    assert {p.name: mode(p) for p in data.iterdir()} == {
        "dropbridge.db": "0o600", "queue.db": "0o600", "secret.keys": "0o600"}


def test_wal_and_shm_files_are_private_while_the_database_is_open(tmp_path):
    os.umask(0o022)
    data = tmp_path / "data"
    settings = make_settings(data, f"sqlite:///{data / 'dropbridge.db'}")
    built = bootstrap(settings)
    try:
        upgrade(built.engine)
        with built.engine.connect() as conn:
            conn.execute(text("SELECT COUNT(*) FROM stores"))
            files = {p.name: mode(p) for p in data.iterdir()}
        built.huey.enqueue(built.huey.task()(lambda: None).s())  # the queue database opens its WAL too
        queue_files = {p.name: mode(p) for p in data.iterdir() if p.name.startswith("queue.db")}
    finally:
        built.close()
    assert mode(data) == "0o700"
    assert files["dropbridge.db"] == files["dropbridge.db-wal"] == files["dropbridge.db-shm"] == "0o600"
    assert set(queue_files.values()) == {"0o600"} and "queue.db" in queue_files


def test_files_left_readable_by_an_older_version_are_narrowed(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    keys = data / "secret.keys"
    keys.write_text(Fernet.generate_key().decode() + "\n")
    db = data / "dropbridge.db"
    db.touch()
    for path in (keys, db):
        os.chmod(path, 0o644)
    settings = make_settings(data, f"sqlite:///{db}", secret_keys=None)
    built = bootstrap(settings)
    built.close()
    assert (mode(keys), mode(db)) == ("0o600", "0o600")
    assert mode(data) == "0o755"  # a directory someone else made keeps the mode they chose
    private_file(db)
    assert mode(db) == "0o600"
