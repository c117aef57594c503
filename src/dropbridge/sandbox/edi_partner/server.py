"""A real SFTP server (asyncssh) on 127.0.0.1, chrooted to a folder, with password login and a host key of
its own, run on its own event loop in a background thread. Faults (sandbox/kit FaultQueue, operation
"orders.create") are taken when a client starts uploading a purchase order (opens a temporary 850 for
writing in the outbox):

- `hang_after_accept`: the upload and the rename happen, then the rename's answer is held `seconds`
  (the client times out; the 850 is there);
- `hang_during_upload`: half the bytes are written, then the write's answer is held `seconds` (a client
  killed meanwhile leaves a partial temporary file and no 850);
- `timeout_before_accept`: the open is held `seconds`, then refused; nothing is written;
- `error_500`: the open is refused with SSH_FX_FAILURE; nothing is written;
- `rate_limit`: the server drops the session with SSH_DISCONNECT_TOO_MANY_CONNECTIONS ("retry after N
  seconds"), as servers limiting concurrent sessions do; nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dropbridge.sandbox.kit import FaultQueue, hold

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import asyncssh

ORDER_OPERATION = "orders.create"


class _Auth(asyncssh.SSHServer):
    def __init__(self, username: str, password: str):
        self._username, self._password = username, password

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == (self._username, self._password)


class SftpServer:
    """`start()` returns the port; `stop()` shuts it down. `is_order_upload(path)` says which uploads take
    faults; `stopping` ends holds early."""

    def __init__(self, root: Path, username: str, password: str, faults: FaultQueue, stopping: threading.Event,
                 is_order_upload: Callable[[str], bool]):
        self.root = root
        self.username, self.password = username, password
        self.faults = faults
        self.stopping = stopping
        self.is_order_upload = is_order_upload
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.public_host_key = self.host_key.export_public_key().decode().strip()
        self.port = 0
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncssh.create_server(
                    lambda: self._connection(), host, port, server_host_keys=[self.host_key],
                    sftp_factory=self._sftp_factory, allow_scp=False, process_factory=None))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"sftp-{host}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise RuntimeError(f"SFTP server failed to start: {failure[0]!r}")
        return self.port

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def close() -> None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)
        self._thread = None
        self._loop = None

    def _connection(self) -> asyncssh.SSHServer:
        self.connections += 1
        return _Auth(self.username, self.password)

    def _sftp_factory(self, chan) -> asyncssh.SFTPServer:
        return _FaultySftp(chan, self)


class _FaultySftp(asyncssh.SFTPServer):
    def __init__(self, chan, owner: SftpServer):
        super().__init__(chan, chroot=str(owner.root).encode())
        self._owner = owner
        self._chan = chan
        self._armed: dict[bytes, Any] = {}  # temp path -> the fault its upload took
        self._paths: dict[Any, bytes] = {}  # open file -> the path it was opened as

    async def _take(self, path: bytes, writing: bool):
        owner = self._owner
        if not writing or not owner.is_order_upload(path.decode(errors="replace")):
            return None
        fault = owner.faults.take(ORDER_OPERATION)
        if fault is None or fault.mode == "none":
            return None
        if fault.mode == "error_500":
            raise asyncssh.SFTPFailure("internal server error")
        if fault.mode == "timeout_before_accept":
            await hold(fault.seconds, owner.stopping)
            raise asyncssh.SFTPFailure("gateway timeout")
        if fault.mode == "rate_limit":
            conn = self._chan.get_connection()
            # Say why, then let the client hang up. `conn.disconnect()` closes the channel and aborts the
            # socket at once; a client that has not read the DISCONNECT yet loses it to the TCP reset, and
            # "busy, come back in N seconds" reads as a dropped connection.
            conn._send_disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS,  # noqa: SLF001 (no public send-only)
                                  f"too many connections, retry after {fault.retry_after:g} seconds", "en-US")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(conn.wait_closed(), 5)
            conn.abort()
            raise asyncssh.SFTPFailure("too many connections")
        self._armed[path] = fault  # hang_after_accept, hang_during_upload: act later in the upload
        return fault

    async def open(self, path, pflags, attrs):  # SFTP v3
        await self._take(path, bool(pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_CREAT)))
        file_obj = super().open(path, pflags, attrs)
        self._paths[file_obj] = path
        return file_obj

    async def open56(self, path, desired_access, flags, attrs):  # SFTP v5/v6
        await self._take(path, bool(desired_access & (asyncssh.ACE4_WRITE_DATA | asyncssh.ACE4_APPEND_DATA)))
        file_obj = super().open56(path, desired_access, flags, attrs)
        self._paths[file_obj] = path
        return file_obj

    async def write(self, file_obj, offset, data):
        fault = self._armed.get(self._paths.get(file_obj, b""))
        if fault is not None and fault.mode == "hang_during_upload":
            super().write(file_obj, offset, data[: max(1, len(data) // 2)])
            file_obj.flush()
            await hold(fault.seconds, self._owner.stopping)
            raise asyncssh.SFTPFailure("upload interrupted")
        return super().write(file_obj, offset, data)

    def close(self, file_obj):
        self._paths.pop(file_obj, None)
        return super().close(file_obj)

    async def rename(self, oldpath, newpath):
        fault = self._armed.pop(oldpath, None)
        super().rename(oldpath, newpath)
        if fault is not None and fault.mode == "hang_after_accept":
            await hold(fault.seconds, self._owner.stopping)  # done, but the answer is late
