"""The emulator kit's webhook sender, as the store emulators use it: bodies built when first sent, queued
deliveries dropped when no longer wanted, an outcome hook per attempt, per-delivery retry schedules, and
what counts as delivered."""

from __future__ import annotations

import threading

from fastapi import FastAPI, Request
from fastapi.responses import Response

from dropbridge.sandbox.kit import WebhookSender
from dropbridge.sandbox.kit.server import start_server


def receiver(statuses: list[int]):
    got: list[tuple[dict, bytes]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request):
        got.append((dict(request.headers), await request.body()))
        return Response(status_code=statuses.pop(0) if statuses else 200)

    return got, start_server(app)


def test_body_built_at_first_send_resent_on_retry_and_outcomes_reported():
    got, server = receiver([500, 200])
    sender = WebhookSender("t", retry_delays=(0.01,))
    sender.start()
    state = {"n": 1}
    outcomes: list = []
    try:
        record = sender.send(server.url + "/hook", lambda: f"state={state['n']}".encode(),
                             lambda body, attempt: {"X-Attempt": str(attempt)},
                             on_outcome=lambda d, outcome: outcomes.append(outcome), event_id="e1", delay=0.3)
        state["n"] = 2  # changed before the first send: the body carries it
        assert sender.wait_idle(5)
        assert [b for _, b in got] == [b"state=2", b"state=2"]  # the retry resends the first bytes
        assert [h["x-attempt"] for h, _ in got] == ["0", "1"]
        assert outcomes == [500, 200] and record["done"] and not record["gave_up"]
        assert [a["headers"]["X-Attempt"] for a in sender.records()[0]["attempts"]] == ["0", "1"]
    finally:
        sender.stop()
        server.stop()


def test_unwanted_or_bodiless_deliveries_are_dropped_without_sending():
    got, server = receiver([])
    sender = WebhookSender("t")
    sender.start()
    try:
        sender.send(server.url + "/hook", b"x", lambda b, a: {}, wanted=lambda: False)
        sender.send(server.url + "/hook", lambda: None, lambda b, a: {})
        assert sender.wait_idle(5)
        assert got == [] and [d["dropped"] for d in sender.records()] == [True, True]
    finally:
        sender.stop()
        server.stop()


def test_success_range_and_a_delivery_without_retries():
    got, server = receiver([302, 302])
    done = threading.Event()
    lenient = WebhookSender("woo", retry_delays=(0.01,), success=range(200, 303))
    strict = WebhookSender("bc", retry_delays=(0.01, 0.01))
    for sender in (lenient, strict):
        sender.start()
    try:
        lenient.send(server.url + "/hook", b"a", lambda b, a: {})
        assert lenient.wait_idle(5) and lenient.records()[0]["done"]  # 302 counts for WooCommerce
        strict.send(server.url + "/hook", b"b", lambda b, a: {}, retry_delays=(),
                    on_outcome=lambda d, o: done.set())
        assert strict.wait_idle(5) and done.is_set()
        assert strict.records()[0]["gave_up"] and len(strict.records()[0]["attempts"]) == 1
    finally:
        for sender in (lenient, strict):
            sender.stop()
        server.stop()
