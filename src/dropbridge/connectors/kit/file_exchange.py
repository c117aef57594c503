"""File exchange with a trading partner, whatever carries it: the session interface the connectors use from
worker threads, temporary upload names, and a local folder (a VAN mailbox mounted on disk). SFTP is in
kit/sftp.py, imported only where a partner is reached by SFTP (asyncssh costs every process a quarter second).

What every transport guarantees:
- `put_new(folder, name, data)` writes under a temporary name in the same folder, then renames it to `name`
  with a rename that never overwrites: a crash mid-upload leaves only a temporary file (never a partial
  document under its final name), and two writers of the same name leave exactly one document.
- every call has a timeout; failures are classified (domain/errors.py) like HTTP ones.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from dropbridge.domain.errors import ConfigurationError, RetryableError

TEMP_PREFIX = "."
TEMP_SUFFIX = ".part"


def temp_name(name: str) -> str:
    """The temporary name an upload of `name` goes under (hidden, and ignored by `list_files`)."""
    return f"{TEMP_PREFIX}{name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"


def is_temp(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def temp_of(name: str, candidate: str) -> bool:
    """Whether `candidate` is a temporary upload of `name`."""
    return candidate.startswith(f"{TEMP_PREFIX}{name}.") and candidate.endswith(TEMP_SUFFIX)


class FileSession(Protocol):
    def list_files(self, folder: str) -> list[str]:
        """Regular files in `folder` (temporary uploads included: callers filter with `is_temp`)."""

    def read(self, path: str) -> bytes: ...

    def exists(self, path: str) -> bool: ...

    def put_new(self, folder: str, name: str, data: bytes) -> bool:
        """Upload to a temporary name, then rename to `name`; False (nothing changed) when `name` exists."""

    def move(self, source: str, target: str) -> bool:
        """Rename without overwriting; False when `target` exists (the source stays)."""

    def remove(self, path: str) -> None: ...


class FileTransport(Protocol):
    def session(self) -> contextlib.AbstractContextManager[FileSession]: ...

    def describe(self) -> str: ...


# ---- a local folder (a VAN mailbox mounted on disk) ------------------------------------------------------


class LocalFolderClient:
    """The same exchange over a directory tree: folders are paths under `root` ("/outbox" is root/outbox)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def describe(self) -> str:
        return f"folder {self.root}"

    @contextlib.contextmanager
    def session(self) -> Iterator[_FolderSession]:
        if not self.root.is_dir():
            raise ConfigurationError(f"{self.describe()}: not a folder (is the mailbox mounted?)")
        yield _FolderSession(self.root)


class _FolderSession:
    def __init__(self, root: Path):
        self._root = root

    def _path(self, path: str) -> Path:
        relative = posixpath.normpath("/" + path).lstrip("/")
        return self._root / relative

    def list_files(self, folder: str) -> list[str]:
        directory = self._path(folder)
        if not directory.is_dir():
            raise ConfigurationError(f"folder {directory} does not exist")
        return sorted(p.name for p in directory.iterdir() if p.is_file())

    def read(self, path: str) -> bytes:
        try:
            return self._path(path).read_bytes()
        except OSError as exc:
            raise RetryableError(f"read {path}: {exc}") from exc

    def exists(self, path: str) -> bool:
        return self._path(path).exists()

    def put_new(self, folder: str, name: str, data: bytes) -> bool:
        directory = self._path(folder)
        if not directory.is_dir():
            raise ConfigurationError(f"folder {directory} does not exist")
        if (directory / name).exists():
            return False
        temp = directory / temp_name(name)
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            return self._link(temp, directory / name)
        finally:
            temp.unlink(missing_ok=True)

    def move(self, source: str, target: str) -> bool:
        src, dst = self._path(source), self._path(target)
        if not self._link(src, dst):
            return False
        src.unlink(missing_ok=True)
        return True

    @staticmethod
    def _link(src: Path, dst: Path) -> bool:
        try:
            os.link(src, dst)  # atomic and never overwrites
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            raise RetryableError(f"rename {src} to {dst}: {exc}") from exc

    def remove(self, path: str) -> None:
        self._path(path).unlink(missing_ok=True)
