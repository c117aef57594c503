"""Group commit for order intake.

Under load, orders arrive faster than one transaction per order can be committed: each costs its round trips
and its commit. Here requests hand their order to a writer thread and wait; the writer takes everything that
queued up while it was busy and writes it as one batch, one transaction, then wakes each request with its
own answer. Alone, a request is written at once; thirty at a time cost about one commit. A request is only
answered once its order is committed, as before."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any


class GroupCommit:
    """`await group.submit(item)` -> what `write([... item ...])` answered for it. `write` takes a batch and
    returns one result per item, in order; a result that is an exception is raised in the request."""

    def __init__(self, write: Callable[[list[Any]], Sequence[Any]], *, max_batch: int = 100, writers: int = 1,
                 name: str = "group-commit"):
        self._write = write
        self._max_batch = max_batch
        self._writers = writers
        self._name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()

    async def submit(self, item: Any) -> Any:
        self._start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((item, future, loop))
        return await future

    def _start(self) -> None:
        if self._started:
            return
        with self._lock:
            if not self._started:
                for n in range(self._writers):
                    threading.Thread(target=self._run, name=f"{self._name}-{n}", daemon=True).start()
                self._started = True

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                results = list(self._write([item for item, _, _ in batch]))
            except BaseException as exc:  # noqa: BLE001 - never leave a request waiting
                results = [exc] * len(batch)
            # One wake-up per event loop for the whole batch, not one per request.
            by_loop: dict[asyncio.AbstractEventLoop, list] = {}
            for (_, future, loop), result in zip(batch, results, strict=True):
                by_loop.setdefault(loop, []).append((future, result))
            for loop, settled in by_loop.items():
                loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future, Any]]) -> None:
    for future, result in settled:
        if future.done():  # the client went away; its order is stored all the same
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
