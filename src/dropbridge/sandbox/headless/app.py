"""The headless store's HTTP surface: `POST /dropbridge/events` (signed events from dropbridge), an optional
`GET /orders?cursor=` order list, and `/_control/...`. Every answer, unknown routes included, is in the
store's envelope `{"error": {"code", "message", "field"?}}`."""

from __future__ import annotations

import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from dropbridge.sandbox.kit.errors import install_error_envelope

from .signing import TOLERANCE_SECONDS, signature


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status, headers=headers)


def _routing_error(request: Request, status: int, why: str) -> Response:
    if status == 404:
        return error(404, "not_found", f"no route {request.method} {request.url.path}")
    if status == 405:
        return error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")
    return error(400, "invalid", why)


def _changed_at(order: dict[str, Any]) -> datetime:
    stamp = order.get("updated_at") or order.get("created_at")
    if not stamp:
        return datetime.min.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def build_app(emu: Any) -> FastAPI:
    app = FastAPI(title="Headless store emulator", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_envelope(app, _routing_error)

    @app.post("/dropbridge/events")
    async def events(request: Request):
        raw = await request.body()
        h = request.headers
        event = h.get("x-dropbridge-event", "")
        delivery = h.get("x-dropbridge-delivery", "")

        def log(status: int, duplicate: bool = False) -> None:
            with emu._lock:
                emu._deliveries.append({"delivery_id": delivery, "event": event, "status": status,
                                        "duplicate": duplicate})

        fault = emu.faults.take("events")
        if fault is not None:
            if fault.mode == "rate_limit":
                log(429)
                return error(429, "rate_limited", "slow down", {"Retry-After": f"{fault.retry_after:g}"})
            log(500)
            return error(500, "internal", "injected server error")

        timestamp = h.get("x-dropbridge-timestamp", "")
        given = h.get("x-dropbridge-signature", "")
        try:
            fresh = abs(time.time() - int(timestamp)) <= TOLERANCE_SECONDS
        except ValueError:
            fresh = False
        if not fresh:
            log(401)
            return error(401, "stale", "missing or stale X-Dropbridge-Timestamp")
        if not hmac.compare_digest(given.encode(), signature(emu.secret, timestamp, raw).encode()):
            log(401)
            return error(401, "bad_signature", "X-Dropbridge-Signature does not match")
        if not delivery or not event:
            log(400)
            return error(400, "invalid", "X-Dropbridge-Delivery and X-Dropbridge-Event are required")

        # The lock spans look-up and record, so two racing repeats still record once.
        with emu._lock:
            if delivery in emu._results:
                _, result = emu._results[delivery]
                log(200, duplicate=True)
                return JSONResponse(result, 200)
            try:
                body = json.loads(raw)
            except ValueError:
                log(400)
                return error(400, "invalid", "body is not JSON")
            status, result = emu._handle(event, body)
            if 200 <= status < 300:
                emu._results[delivery] = (status, result)
            log(status)
        return JSONResponse(result, status)

    @app.get("/orders")
    async def list_orders(request: Request, cursor: str | None = None, since: str | None = None):
        if emu.orders_token is not None:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token, emu.orders_token):
                return error(401, "unauthorized", "missing or wrong bearer token")
        try:
            start = int(cursor) if cursor else 0
            after = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        except ValueError:
            return error(400, "invalid", "bad cursor or since", field="cursor" if cursor else "since")
        with emu._lock:
            # `since`: orders created or changed at or after that time (their `updated_at`, else `created_at`)
            listed = [o for o in emu._orders if after is None or _changed_at(o) >= after]
            page = json.loads(json.dumps(listed[start: start + emu.page_size]))
            more = start + emu.page_size < len(listed)
        return {"orders": page, "next_cursor": str(start + emu.page_size) if more else None}

    @app.post("/_control/orders")
    async def control_add_order(request: Request):
        emu.add_order(json.loads(await request.body()))
        return {"added": True}

    @app.post("/_control/faults")
    async def control_faults(request: Request):
        try:
            body = json.loads(await request.body())
            emu.inject(body["mode"], int(body.get("count", 1)), float(body.get("retry_after", 1.0)))
        except (ValueError, KeyError, TypeError) as exc:
            return error(422, "invalid", str(exc), field="mode")
        return {"queued": emu.faults.pending().get("events", [])}

    @app.get("/_control/fulfillments")
    async def control_fulfillments():
        return {"fulfillments": emu.fulfillments()}

    @app.get("/_control/deliveries")
    async def control_deliveries():
        return {"deliveries": emu.deliveries()}

    @app.post("/_control/reset")
    async def control_reset():
        emu.reset()
        return {"reset": True}

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    async def unknown(path: str, request: Request):
        return _routing_error(request, 404, "")

    return app
