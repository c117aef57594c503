"""File exchange with a trading partner: SFTP (asyncssh) and a local folder (a VAN mailbox mounted on disk),
behind one small synchronous interface the connectors use from worker threads.

What both guarantee:
- `put_new(folder, name, data)` writes under a temporary name in the same folder, then renames it to `name`
  with a rename that never overwrites: a crash mid-upload leaves only a temporary file (never a partial
  document under its final name), and two writers of the same name leave exactly one document.
- every call has a timeout; failures are classified (domain/errors.py) like HTTP ones: a timeout or a
  dropped connection is retryable (the outcome of a write may be unknown), a refused login is AuthExpired,
  an unverifiable host key or a missing folder is a ConfigurationError, a server saying it is busy
  (SSH_DISCONNECT_TOO_MANY_CONNECTIONS) is RateLimited.

SFTP always verifies the server's host key against the one configured (never trust-on-first-use).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import re
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from dropbridge.domain.errors import (
    AuthExpired,
    ConfigurationError,
    PermanentError,
    RateLimited,
    RetryableError,
)

with warnings.catch_warnings():  # asyncssh imports DSA support that cryptography marks deprecated
    warnings.simplefilter("ignore")
    import asyncssh

TEMP_PREFIX = "."
TEMP_SUFFIX = ".part"
BUSY_RETRY_SECONDS = 30.0  # when a busy server does not say how long to wait
_RETRY_AFTER = re.compile(r"retry after (\d+(?:\.\d+)?)", re.I)


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


# ---- SFTP ------------------------------------------------------------------------------------------------


def _classify(exc: BaseException, what: str, timeout: float) -> Exception:
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return RetryableError(f"{what}: no answer within {timeout:g}s")
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthExpired(f"{what}: login refused: {exc.reason}")
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return ConfigurationError(f"{what}: the server's host key is not the one configured: {exc.reason}")
    if isinstance(exc, asyncssh.DisconnectError):
        if exc.code == asyncssh.DISC_TOO_MANY_CONNECTIONS:
            found = _RETRY_AFTER.search(exc.reason or "")
            return RateLimited(f"{what}: server busy: {exc.reason}",
                               retry_after=float(found.group(1)) if found else BUSY_RETRY_SECONDS)
        return RetryableError(f"{what}: disconnected: {exc.reason}")
    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        return ConfigurationError(f"{what}: no such file or folder on the server: {exc.reason}")
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return PermanentError(f"{what}: permission denied on the server: {exc.reason}")
    if isinstance(exc, asyncssh.SFTPError):  # a failure the server reports: like a 5xx
        return RetryableError(f"{what}: server failed: {exc.reason}")
    if isinstance(exc, OSError | asyncssh.Error):
        return RetryableError(f"{what}: {type(exc).__name__}: {exc}")
    return RetryableError(f"{what}: {type(exc).__name__}: {exc}")


class _Watcher(asyncssh.SSHClient):
    """Keeps why the server dropped the connection: an SFTP request in flight only sees "connection
    closed", while the disconnect's reason code says whether the server was busy."""

    def __init__(self):
        self.lost: BaseException | None = None
        self.closed = asyncio.Event()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc
        self.closed.set()

    def cause(self, loop: asyncio.AbstractEventLoop, exc: BaseException) -> BaseException:
        """What to classify: the server's disconnect reason where it sent one. A request that saw the channel
        close can fail before the loop ran the connection's own `connection_lost` (under load, often): give
        the loop a moment to deliver it, or a busy server would read as a failed one."""
        if self.lost is None and isinstance(exc, asyncssh.SFTPConnectionLost | asyncssh.ConnectionLost):
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.wait_for(self.closed.wait(), 1.0))
        return self.lost if isinstance(self.lost, asyncssh.DisconnectError) else exc


class SftpClient:
    """One trading partner's SFTP server. Each `session()` is one SSH connection on a private event loop."""

    def __init__(self, host: str, port: int, username: str, *, host_key: str, password: str | None = None,
                 private_key: str | None = None, passphrase: str | None = None, timeout: float = 15.0):
        if not host_key:
            raise ConfigurationError("SFTP needs the server's host key (config host_key, OpenSSH format)")
        if not username:
            raise ConfigurationError("SFTP needs credentials.username")
        if not password and not private_key:
            raise ConfigurationError("SFTP needs credentials.password or credentials.private_key")
        try:
            self._host_key = asyncssh.import_public_key(host_key)
            self._client_keys = [asyncssh.import_private_key(private_key, passphrase)] if private_key else None
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise ConfigurationError(f"SFTP key cannot be read: {exc}") from None
        self.host, self.port, self.username = host, port, username
        self._password = password
        self.timeout = timeout

    def describe(self) -> str:
        return f"sftp://{self.username}@{self.host}:{self.port}"

    @contextlib.contextmanager
    def session(self) -> Iterator[_SftpSession]:
        loop = asyncio.new_event_loop()
        what = self.describe()
        conn = sftp = None
        watcher = _Watcher()
        try:
            try:
                conn, _ = loop.run_until_complete(asyncio.wait_for(asyncssh.create_connection(
                    lambda: watcher, self.host, self.port, username=self.username, password=self._password,
                    client_keys=self._client_keys, known_hosts=([self._host_key], [], []),
                    agent_path=None, preferred_auth="publickey,password" if self._client_keys else "password",
                    connect_timeout=self.timeout), self.timeout))
                sftp = loop.run_until_complete(asyncio.wait_for(conn.start_sftp_client(), self.timeout))
            except Exception as exc:
                raise _classify(watcher.cause(loop, exc), what, self.timeout) from exc
            yield _SftpSession(loop, sftp, what, self.timeout, watcher)
        finally:
            if sftp is not None:
                sftp.exit()
            if conn is not None:
                conn.abort()  # no graceful close: after a timeout the channel may be stuck
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.wait_for(conn.wait_closed(), 2))
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


class _SftpSession:
    def __init__(self, loop: asyncio.AbstractEventLoop, sftp: Any, what: str, timeout: float, watcher: _Watcher):
        self._loop, self._sftp, self._what, self._timeout = loop, sftp, what, timeout
        self._watcher = watcher

    def _error(self, exc: BaseException, action: str) -> Exception:
        return _classify(self._watcher.cause(self._loop, exc), f"{self._what}: {action}", self._timeout)

    def _run(self, coro, action: str):
        try:
            return self._loop.run_until_complete(asyncio.wait_for(coro, self._timeout))
        except Exception as exc:
            raise self._error(exc, action) from exc

    def list_files(self, folder: str) -> list[str]:
        async def names():
            entries = await self._sftp.readdir(folder)
            return sorted(e.filename for e in entries
                          if e.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR and e.filename not in (".", ".."))
        return self._run(names(), f"list {folder}")

    def read(self, path: str) -> bytes:
        async def read():
            async with self._sftp.open(path, "rb") as f:
                return await f.read()
        return self._run(read(), f"read {path}")

    def exists(self, path: str) -> bool:
        return self._run(self._sftp.exists(path), f"stat {path}")

    def put_new(self, folder: str, name: str, data: bytes) -> bool:
        final = posixpath.join(folder, name)
        if self.exists(final):
            return False
        temp = posixpath.join(folder, temp_name(name))

        async def write():
            async with self._sftp.open(temp, "wb") as f:
                await f.write(data)
        self._run(write(), f"upload {temp}")
        if self.move(temp, final):
            return True
        self._remove_quietly(temp)  # someone else's upload of the same document won
        return False

    def move(self, source: str, target: str) -> bool:
        try:
            # SSH_FXP_RENAME (not posix-rename): the server refuses to overwrite an existing target.
            self._loop.run_until_complete(asyncio.wait_for(self._sftp.rename(source, target), self._timeout))
            return True
        except asyncssh.SFTPError as exc:
            if self.exists(target):
                return False
            raise self._error(exc, f"rename {source} to {target}") from exc
        except Exception as exc:
            raise self._error(exc, f"rename {source} to {target}") from exc

    def remove(self, path: str) -> None:
        self._run(self._sftp.remove(path), f"remove {path}")

    def _remove_quietly(self, path: str) -> None:
        with contextlib.suppress(Exception):
            self.remove(path)


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
