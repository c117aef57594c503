"""SFTP file exchange with a trading partner (asyncssh), behind kit/file_exchange.py's session interface.

Failures are classified (domain/errors.py) like HTTP ones: a timeout or a dropped connection is retryable (the
outcome of a write may be unknown), a refused login is AuthExpired, an unverifiable host key or a missing
folder is a ConfigurationError, a server saying it is busy (SSH_DISCONNECT_TOO_MANY_CONNECTIONS) is
RateLimited. The server's host key is always verified against the one configured (never trust-on-first-use).
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import re
import warnings
from collections.abc import Iterator
from typing import Any

from dropbridge.domain.errors import (
    AuthExpired,
    ConfigurationError,
    PermanentError,
    RateLimited,
    RetryableError,
)

from .file_exchange import temp_name

with warnings.catch_warnings():  # asyncssh imports DSA support that cryptography marks deprecated
    warnings.simplefilter("ignore")
    import asyncssh

BUSY_RETRY_SECONDS = 30.0  # when a busy server does not say how long to wait
_RETRY_AFTER = re.compile(r"retry after (\d+(?:\.\d+)?)", re.I)


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


