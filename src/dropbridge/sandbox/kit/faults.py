"""Injectable faults, shared by every emulator: a queue of faults that the next calls of an operation
consume in order, and a hang that does not block the event loop.

The modes every emulator understands (an emulator may add its own):
- `none`: answer normally (lets a test script a sequence such as none, hang, none, error_500);
- `hang_after_accept`: do the work, then hold the answer `seconds` (the client times out, the effect stays);
- `timeout_before_accept`: hold, then answer 504 without doing the work;
- `error_500`: answer 500 without doing the work;
- `rate_limit`: answer 429 with `Retry-After: retry_after`;
- `reject`: refuse the request as the platform refuses it (out of stock, say);
- `token_expired`: answer as the platform does when the access token has expired."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

COMMON_MODES = ("none", "hang_after_accept", "timeout_before_accept", "error_500", "rate_limit", "reject",
                "token_expired")


@dataclass(frozen=True)
class Fault:
    mode: str
    seconds: float = 30.0
    retry_after: float = 1.0


class FaultQueue:
    """Faults per operation name ("orders.create", "catalog", ...): `inject` queues, `take` pops one."""

    def __init__(self, modes: tuple[str, ...] = COMMON_MODES):
        self.modes = modes
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = defaultdict(deque)

    def inject(self, mode: str, count: int = 1, *, operation: str = "orders.create", seconds: float = 30.0,
               retry_after: float = 1.0) -> None:
        if mode not in self.modes:
            raise ValueError(f"unknown fault mode {mode!r}; one of {self.modes}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._queues[operation].extend(Fault(mode, float(seconds), float(retry_after)) for _ in range(count))

    def take(self, operation: str) -> Fault | None:
        with self._lock:
            queue = self._queues.get(operation)
            return queue.popleft() if queue else None

    def pending(self) -> dict[str, list[str]]:
        with self._lock:
            return {op: [f.mode for f in q] for op, q in self._queues.items() if q}

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()


async def hold(seconds: float, stop: threading.Event) -> None:
    """Hang a request without blocking others; end early when the emulator stops, so shutdown neither
    waits for the full hang nor logs cancelled tasks."""
    deadline = time.monotonic() + seconds
    try:
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(0.05, left))
    except asyncio.CancelledError:
        pass  # server shutting down: the answer goes nowhere anyway
