"""What every emulator shares: start on a free port of 127.0.0.1 in a background thread, background
workers (shipping, webhooks) that stop with it, faults, and the connection dropbridge needs to use it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .faults import COMMON_MODES, FaultQueue
from .server import RunningServer, start_server
from .webhooks import WebhookSender


class Emulator:
    """Subclasses build `self.app` (a FastAPI app) in their __init__ and may add background loops with
    `self.every(seconds, fn)`; `connection()` says what `store add` / `supplier add` need."""

    name = "emulator"
    fault_modes: tuple[str, ...] = COMMON_MODES

    def __init__(self, *, webhook_retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0), webhook_timeout: float = 5.0,
                 webhook_success: range = range(200, 300)):
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.faults = FaultQueue(self.fault_modes)
        self.sender = WebhookSender(self.name, retry_delays=webhook_retry_delays, timeout=webhook_timeout,
                                    success=webhook_success)
        self._loops: list[tuple[float, Callable[[], None]]] = []
        self._threads: list[threading.Thread] = []
        self._server: RunningServer | None = None
        self.app: Any = None

    # ---- lifecycle ---------------------------------------------------------------------------------

    def every(self, seconds: float, fn: Callable[[], None]) -> None:
        """Run `fn` every `seconds` while started (shipping clocks, asynchronous effects)."""
        self._loops.append((seconds, fn))

    def start(self, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
        if self._server is not None:
            return self._server
        self.stopping.clear()
        self.sender.start()
        self._server = start_server(self.app, host, port)
        self._threads = [threading.Thread(target=self._loop, args=(s, fn), daemon=True,
                                          name=f"{self.name}-{getattr(fn, '__name__', 'loop')}")
                         for s, fn in self._loops]
        for thread in self._threads:
            thread.start()
        return self._server

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(5)
        self._threads = []
        self.sender.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.name} emulator not started")
        return self._server.url

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _loop(self, seconds: float, fn: Callable[[], None]) -> None:
        while not self.stopping.wait(seconds):
            fn()

    # ---- what dropbridge needs -----------------------------------------------------------------------

    def connection(self) -> dict[str, Any]:
        """`{"name", "base_url", "credentials", "config"}`, as `sandbox run` prints it and `supplier add` /
        `store add` accept it."""
        raise NotImplementedError
