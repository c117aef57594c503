"""The `/_control` endpoints every store emulator shares (tests and the demo steer emulators through
them): inject throttling or failures, count API calls, read the webhooks delivered."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request


def add_common_controls(app: FastAPI, emu: Any) -> None:
    """`emu` has throttle_next(calls), fail_next(calls, status), api_calls() and webhook_deliveries()."""

    @app.post("/_control/throttle")
    async def control_throttle(request: Request):
        emu.throttle_next(int((await request.json()).get("calls", 1)))
        return {"ok": True}

    @app.post("/_control/fail")
    async def control_fail(request: Request):
        body = await request.json()
        emu.fail_next(int(body.get("calls", 1)), int(body.get("status", 500)))
        return {"ok": True}

    @app.get("/_control/calls")
    async def control_calls():
        return {"calls": emu.api_calls()}

    @app.get("/_control/deliveries")
    async def control_deliveries():
        return emu.webhook_deliveries()


def add_fault_controls(app: FastAPI, emu: Any, error: Any) -> None:
    """`POST /_control/faults {"mode", "count": 1, "operation": ..., "seconds": 30, "retry_after": 1}` queues
    faults on `emu.faults` (a FaultQueue); `error(status, message)` answers in the platform's envelope."""

    @app.post("/_control/faults")
    async def control_faults(request: Request):
        try:
            body = await request.json()
            kwargs = {"seconds": float(body.get("seconds", 30.0)), "retry_after": float(body.get("retry_after", 1.0))}
            if body.get("operation"):
                kwargs["operation"] = str(body["operation"])
            emu.faults.inject(body["mode"], int(body.get("count", 1)), **kwargs)
        except (ValueError, KeyError, TypeError) as exc:
            return error(422, str(exc))
        return {"queued": emu.faults.pending()}
