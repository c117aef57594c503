"""Webhook delivery for emulators: one background thread sends each delivery, retries failures with the
platform's backoff (same body and event id each time), and records every attempt for tests to read.

What differs between platforms is passed in, not built in: a header factory called per attempt (to re-sign
or re-stamp), a body that may be built when the delivery is first sent (WooCommerce builds it then), a
predicate that can drop a queued delivery (a hook deleted or disabled meanwhile), and a callback told each
attempt's outcome (to count failures, or to deactivate a hook after the last retry)."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

# (raw body, attempt number from 0) -> headers, so a platform can re-sign or re-stamp each attempt
HeaderFactory = Callable[[bytes, int], dict[str, str]]
# Built at the first attempt; None drops the delivery (the resource is gone).
BodyFactory = Callable[[], "bytes | None"]
# (delivery record, outcome: HTTP status or exception name) after each attempt
OutcomeHook = Callable[[dict[str, Any], "int | str"], None]


class WebhookSender:
    def __init__(self, name: str, *, retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0), timeout: float = 5.0,
                 success: range = range(200, 300)):
        self.name = name
        self.success = success  # statuses that count as delivered (WooCommerce also takes 300-302)
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

    def send(self, url: str, body: bytes | BodyFactory, headers: HeaderFactory, *, event_id: str = "",
             delay: float = 0.0, wanted: Callable[[], bool] | None = None, on_outcome: OutcomeHook | None = None,
             retry_delays: tuple[float, ...] | None = None, **meta: Any) -> dict[str, Any]:
        """Queue one delivery; returns its record (updated as attempts happen). `retry_delays` overrides the
        sender's for this delivery (an unsigned ping is never retried, say)."""
        delivery = {"event_id": event_id, "url": url, "body": body, "headers": headers, "attempts": [],
                    "done": False, "gave_up": False, "dropped": False, "_wanted": wanted, "_on_outcome": on_outcome,
                    "_retry_delays": self.retry_delays if retry_delays is None else tuple(retry_delays), **meta}
        with self._lock:
            self.deliveries.append(delivery)
        self._schedule(delivery, delay)
        return delivery

    def clear(self) -> None:
        """Forget the record of past deliveries (an emulator's reset); queued ones still go."""
        with self._lock:
            self.deliveries = [d for d in self.deliveries if not (d["done"] or d["gave_up"] or d["dropped"])]

    def records(self) -> list[dict[str, Any]]:
        """What was delivered, without the callables: for `/_control/deliveries` and tests."""
        with self._lock:
            return [{k: v for k, v in d.items() if k not in ("headers", "body") and not k.startswith("_")}
                    | {"body": d["body"].decode() if isinstance(d["body"], bytes) else None}
                    for d in self.deliveries]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every queued delivery is delivered or given up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(d["done"] or d["gave_up"] or d["dropped"] for d in self.deliveries):
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
            with contextlib.suppress(Exception):
                self._attempt(delivery)

    def _attempt(self, delivery: dict[str, Any]) -> None:
        attempt = len(delivery["attempts"])
        try:
            if delivery["_wanted"] is not None and not delivery["_wanted"]():
                self._drop(delivery)
                return
            if callable(delivery["body"]):
                body = delivery["body"]()
                if body is None:
                    self._drop(delivery)
                    return
                with self._lock:
                    delivery["body"] = body  # retries resend these bytes
            headers = delivery["headers"](delivery["body"], attempt)
        except Exception:  # an emulator bug must not stop every later delivery
            self._drop(delivery)
            raise
        try:
            response = self._client.post(delivery["url"], content=delivery["body"], headers=headers)
            outcome: int | str = response.status_code
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        ok = isinstance(outcome, int) and outcome in self.success
        delays = delivery["_retry_delays"]
        with self._lock:
            delivery["attempts"].append({"at": time.time(), "outcome": outcome, "headers": headers})
            retry = not ok and attempt < len(delays)
        if delivery["_on_outcome"] is not None:
            delivery["_on_outcome"](delivery, outcome)
        with self._lock:  # flags last, so wait_idle returns only after on_outcome has run
            delivery["done"] = ok
            delivery["gave_up"] = not ok and not retry
        if retry:
            self._schedule(delivery, delays[attempt])

    def _drop(self, delivery: dict[str, Any]) -> None:
        with self._lock:
            delivery["dropped"] = True
