"""Run an ASGI app under uvicorn in a daemon thread, for tests and `dropbridge demo`."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

STARTUP_TIMEOUT = 10.0
# Emulators hold requests open on purpose (hang faults); stop() must not wait for them.
GRACEFUL_SHUTDOWN_SECONDS = 1


class _ThreadServer(uvicorn.Server):
    """A uvicorn server that never touches signal handlers: those belong to the main thread."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # uvicorn >= 0.29
        yield


class RunningServer:
    """A started server: `.url`, `.port`, `.stop()`; usable as a context manager."""

    def __init__(self, server: _ThreadServer, thread: threading.Thread, host: str, port: int):
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for its thread; safe to call twice."""
        self._server.should_exit = True
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                # Still draining after the grace period: cut the open connections.
                self._server.force_exit = True
                self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer({self.url})"


def start_server(app: Any, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start `app` on host:port (0 picks a free port) and return once it accepts connections."""
    # Bind here, not in uvicorn, so the real port is known even when port=0.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this on Linux; without it every small response waits ~40 ms for
    # delayed ACKs (Nagle), which made emulator round trips 40x slower.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = _ThreadServer(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit on startup failure included: report it, don't hang
            failure.append(exc)
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    thread = threading.Thread(target=run, name=f"uvicorn-{host}:{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"server on {host}:{bound_port} failed to start: {failure!r}")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            raise RuntimeError(f"server on {host}:{bound_port} did not start within {STARTUP_TIMEOUT}s")
        time.sleep(0.005)
    url_host = f"[{host}]" if family == socket.AF_INET6 else host
    running = RunningServer(server, thread, url_host, bound_port)
    return running
