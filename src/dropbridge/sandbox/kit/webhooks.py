"""Webhook delivery for emulators: one background thread sends each delivery, retries failures with the
platform's backoff (same body and event id each time), and records every attempt for tests to read."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

# (raw body, attempt number from 0) -> headers, so a platform can re-sign or re-stamp each attempt
HeaderFactory = Callable[[bytes, int], dict[str, str]]


class WebhookSender:
    def __init__(self, name: str, *, retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0), timeout: float = 5.0):
        self.name = name
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.deliveries: list[dict[str, Any]] = []  # each: event_id, url, attempts [{at, outcome}], done, gave_up
        self._lock = threading.Lock()
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stopped = True
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopped = False
        self._client = httpx.Client(timeout=httpx.Timeout(self.timeout, connect=1.0), follow_redirects=False)
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(self, url: str, body: bytes, headers: HeaderFactory, *, event_id: str = "", delay: float = 0.0,
             **meta: Any) -> dict[str, Any]:
        """Queue one delivery; returns its record (updated as attempts happen)."""
        delivery = {"event_id": event_id, "url": url, "body": body, "headers": headers, "attempts": [],
                    "done": False, "gave_up": False, **meta}
        with self._lock:
            self.deliveries.append(delivery)
        self._schedule(delivery, delay)
        return delivery

    def records(self) -> list[dict[str, Any]]:
        """What was delivered, without the callables: for `/_control/deliveries` and tests."""
        with self._lock:
            return [{k: v for k, v in d.items() if k not in ("headers", "body")} | {"body": d["body"].decode()}
                    for d in self.deliveries]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every queued delivery is delivered or given up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(d["done"] or d["gave_up"] for d in self.deliveries):
                    return True
            time.sleep(0.02)
        return False

    def _schedule(self, delivery: dict[str, Any], delay: float) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), delivery))
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopped:
                    return
                _, _, delivery = heapq.heappop(self._heap)
            self._attempt(delivery)

    def _attempt(self, delivery: dict[str, Any]) -> None:
        attempt = len(delivery["attempts"])
        headers = delivery["headers"](delivery["body"], attempt)
        try:
            response = self._client.post(delivery["url"], content=delivery["body"], headers=headers)
            outcome: int | str = response.status_code
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        ok = isinstance(outcome, int) and 200 <= outcome < 300
        with self._lock:
            delivery["attempts"].append({"at": time.time(), "outcome": outcome})
            delivery["done"] = ok
            retry = not ok and attempt < len(self.retry_delays)
            delivery["gave_up"] = not ok and not retry
        if retry:
            self._schedule(delivery, self.retry_delays[attempt])
