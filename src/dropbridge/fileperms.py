"""Files that hold customer data or secrets are the owner's alone: the data directory 0700, database files
(SQLite, its WAL and shared-memory files, the queue) and the key file 0600. SQLite creates its WAL and SHM
files with the database file's own permissions, so creating the database file 0600 first covers them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create `path` (and its parents) with the directory itself 0700; a directory we did not create keeps
    its mode (someone chose it)."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)  # whatever the umask


def private_file(path: Path) -> None:
    """Create `path` empty and 0600 if absent; an existing one of ours open to others is narrowed to 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _narrow(path)
        return
    os.close(fd)


def _narrow(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, FILE_MODE)


def private_sqlite(path: Path) -> None:
    """A SQLite database file (and whatever companions already exist) private before SQLite opens it."""
    private_dir(path.parent)
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        _narrow(path.with_name(path.name + suffix))
