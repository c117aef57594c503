"""The Shopify emulator's HTTP surface.

- `POST /admin/oauth/access_token`: the client-credentials grant (storefronts.md §1.1).
- `POST /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token` (§1.1). Every version in
  `api_versions` is served, and its rules applied; an older, retired dated version falls forward to the
  oldest one served ([U]: `fall_forward`, else 404); the version served is in `X-Shopify-API-Version`.
- Any other path: 404 `{"errors": "Not Found"}`, the REST envelope (§1.8); a wrong or expired token: 401
  with §1.1's body.
- `/_control/*` (no auth, tests and the demo): `POST orders`, `POST orders/{id}/cancel`, `POST throttle
  {"calls"}`, `POST fail {"calls", "status"}` (or `POST faults`, the same), `POST tokens/expire`,
  `GET calls`, `GET inventory`, `GET fulfillments`, `GET stats`, `GET deliveries`, `GET products`,
  `GET subscriptions`.
"""

from __future__ import annotations

import copy
import hmac
import json
import re
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from dropbridge.sandbox.kit.controls import add_common_controls
from dropbridge.sandbox.kit.errors import install_error_envelope

from .values import INVALID_TOKEN_BODY

DATED_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")  # §1.1: date-named, quarterly


def not_found(request: Request | None = None, status: int = 404, why: str = "") -> Response:
    """Shopify's REST error envelope (§1.8); 406 and the like carry their reason phrase."""
    text = {404: "Not Found", 400: "Bad Request", 406: "Not Acceptable"}.get(status, "Not Found")
    return JSONResponse({"errors": text}, status_code=status)


def build_app(emu: Any) -> FastAPI:
    app = FastAPI(title=f"Shopify emulator ({emu.domain})", docs_url=None, redoc_url=None, openapi_url=None)
    # Shopify answers a method a path does not take with 404 Not Found, as for an unknown path ([S]).
    install_error_envelope(app, not_found, method_not_allowed=404)

    @app.post("/admin/oauth/access_token")
    async def access_token(request: Request) -> Response:
        ctype = request.headers.get("content-type", "")
        raw = await request.body()
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        elif ctype.startswith("application/json"):
            try:
                form = json.loads(raw or b"{}")
            except ValueError:
                form = {}
        else:
            return JSONResponse({"error": "invalid_request",
                                 "error_description": "Unsupported content type"}, status_code=400)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type",
                                 "error_description": "The grant type is not supported"}, status_code=400)
        if not (hmac.compare_digest(str(form.get("client_id", "")), emu.client_id)
                and hmac.compare_digest(str(form.get("client_secret", "")), emu.client_secret)):
            return JSONResponse({"error": "invalid_client",
                                 "error_description": "Client authentication failed"}, status_code=401)
        token = emu.grant_token()
        body: dict[str, Any] = {"access_token": token, "scope": emu.scopes}
        if emu.report_expires_in:
            body["expires_in"] = int(emu.token_lifetime)
        return JSONResponse(body)

    @app.post("/admin/api/{version}/graphql.json")
    async def graphql(version: str, request: Request) -> Response:
        served = emu.served_version(version)
        if served is None:
            return not_found()
        if not emu._token_ok(request.headers.get("x-shopify-access-token")):
            with emu._lock:
                emu.stats["unauthorized"] += 1
            return JSONResponse(INVALID_TOKEN_BODY, status_code=401)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, status_code=400)
        status, out = emu.graphql(body, served)
        headers = {"X-Shopify-API-Version": served}
        if status == 429:
            cost = out.get("extensions", {}).get("cost", {})
            need = (cost.get("requestedQueryCost") or 0) - cost.get("throttleStatus", {}).get(
                "currentlyAvailable", 0)
            headers["Retry-After"] = f"{max(0.0, need / emu.restore_rate):.2f}"
        return JSONResponse(out, status_code=status, headers=headers)

    @app.post("/_control/orders")
    async def control_create_order(request: Request) -> Response:
        spec = await request.json()
        lines = spec.pop("lines")
        return JSONResponse(emu.create_order(lines, **spec))

    @app.post("/_control/orders/{order_id}/refunds")
    async def control_refund(order_id: int, request: Request) -> Response:
        spec = await request.json()
        return JSONResponse(emu.refund_order(order_id, spec.pop("lines", None), **spec))

    @app.post("/_control/orders/{order_id}/cancel")
    def control_cancel(order_id: int, reason: str = "customer") -> Response:
        return JSONResponse(emu.cancel_order(order_id, reason))

    @app.post("/_control/faults")
    async def control_faults(request: Request) -> Response:
        spec = await request.json()
        emu.fail_next(int(spec.get("calls", 1)), int(spec.get("status", 503)))
        return JSONResponse({"ok": True})

    @app.post("/_control/tokens/expire")
    def control_expire() -> Response:
        emu.expire_tokens()
        return JSONResponse({"ok": True})

    @app.get("/_control/inventory")
    def control_inventory() -> Response:
        return JSONResponse(emu.inventory_levels())

    @app.get("/_control/fulfillments")
    def control_fulfillments() -> Response:
        with emu._lock:
            return JSONResponse(list(copy.deepcopy(list(emu.fulfillments.values()))))

    @app.get("/_control/products")
    def control_products() -> Response:
        with emu._lock:
            ids = list(emu.products)
        return JSONResponse([emu.product(p) for p in ids])

    @app.get("/_control/subscriptions")
    def control_subscriptions() -> Response:
        with emu._lock:
            return JSONResponse(list(emu.subscriptions.values()))

    @app.get("/_control/stats")
    def control_stats() -> Response:
        with emu._lock:
            return JSONResponse(dict(emu.stats))


    add_common_controls(app, emu)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    async def unknown(path: str) -> Response:
        return not_found()

    return app
