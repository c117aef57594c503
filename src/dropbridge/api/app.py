"""The HTTP surface. `def` endpoints with sync SQLAlchemy (FastAPI runs them in its thread pool)."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from typing import Annotated

from fastapi import Depends, FastAPI, File, Header, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from dropbridge.domain.errors import Conflict, DropbridgeError, NotFound, ValidationError, WebhookRejected
from dropbridge.domain.money import Money
from dropbridge.services import order_view
from dropbridge.services.inbound_events import WebhookDelivery, receive_webhooks
from dropbridge.services.ingest_order import IntakeRequest, ingest_orders
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.records import correlation_id, new_correlation_id
from dropbridge.services.sync_feed import rejects_csv, sync_feed
from dropbridge.services.tokens import TokenCache, check_token, hash_token

from .catalog_routes import catalog_router
from .group_commit import GroupCommit
from .schemas import OrderIn, document_json_bodies, json_body_doc, parse_json_body
from .shipment_routes import shipment_router

# How long a confirmed API token is remembered in process: a deleted token keeps working that long.
TOKEN_CACHE_SECONDS = 5.0


class Correlate:
    """A correlation id per request and the latency histogram. A pure ASGI middleware: starlette's
    BaseHTTPMiddleware (`@app.middleware("http")`) runs each request through an extra task and memory
    streams, which cost about as much CPU as storing an order."""

    def __init__(self, app, latency: Histogram):
        self.app = app
        self.latency = latency

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        new_correlation_id()
        path = scope["path"]
        route = path.split("/")[1] if path != "/" else "root"
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.latency.labels(route).observe(time.perf_counter() - started)


def create_app(app_ctx) -> FastAPI:
    """`app_ctx` is the bootstrap App (settings, engine, ctx)."""
    ctx = app_ctx.ctx
    api = FastAPI(title="dropbridge", version="0.1.0",
                  description="Dropshipping integration: orders, routing, supplier orders, tracking, margins.")
    registry = CollectorRegistry()
    orders_in = Counter("dropbridge_orders_received_total", "Orders received", ["source", "created"],
                        registry=registry)
    webhooks_in = Counter("dropbridge_webhooks_total", "Webhooks received", ["source", "outcome"],
                          registry=registry)
    latency = Histogram("dropbridge_http_request_seconds", "Request latency", ["route"], registry=registry)

    api.add_middleware(Correlate, latency=latency)

    @api.exception_handler(ClientDisconnect)
    def _client_gone(request: Request, exc: ClientDisconnect):
        # Nobody is left to answer (nginx logs this as 499); nothing was read, so nothing was stored.
        return Response(status_code=499)

    @api.exception_handler(DropbridgeError)
    def _domain_error(request: Request, exc: DropbridgeError):
        if isinstance(exc, ValidationError):
            return JSONResponse({"detail": [{"loc": ["body", *(exc.field or "").split(".")],
                                             "msg": str(exc), "type": "value_error"}]}, status_code=422)
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    tokens = TokenCache(ttl=TOKEN_CACHE_SECONDS)

    async def require_token(authorization: Annotated[str | None, Header()] = None) -> str:
        # async, so a remembered token costs no trip to the thread pool; a database check still goes there.
        name = None
        if authorization and authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
            name = tokens.get(hash_token(token)) if token else None
            if name is None:
                name = await run_in_threadpool(check_token, ctx, token, tokens)
        if name is None:
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
        return name

    Auth = Depends(require_token)

    @api.get("/healthz", tags=["ops"])
    def healthz():
        with app_ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "database": app_ctx.engine.dialect.name}

    @api.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # Orders posted at the same moment share one transaction (see group_commit.py).
    intake = GroupCommit(lambda requests: ingest_orders(ctx, requests), name="intake-writer")

    @api.post("/api/v1/orders", status_code=201, tags=["orders"], dependencies=[Auth],
              openapi_extra=json_body_doc(OrderIn))
    async def create_order(request: Request,
                           idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
        """Headless stores create orders here. Send an `Idempotency-Key`: repeating the request with the
        same key returns the first response and creates nothing."""
        body = await parse_json_body(request, OrderIn)
        ext = ExternalOrder(
            external_id=body.external_id,
            currency=body.currency,
            email=body.email,
            ship_to=Address(**body.ship_to.model_dump()),
            shipping_price=Money.parse(body.shipping_price, body.currency, field="shipping_price"),
            lines=[ExternalOrderLine(external_id=ln.external_id or str(i + 1), sku=ln.sku, quantity=ln.quantity,
                                     unit_price=Money.parse(ln.unit_price, body.currency,
                                                            field=f"lines.{i}.unit_price"))
                   for i, ln in enumerate(body.lines)],
        )
        digest = hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
        result = await intake.submit(IntakeRequest(body.store, ext, idempotency_key, digest, "api",
                                                   correlation_id.get()))
        orders_in.labels("api", str(result.created).lower()).inc()
        # A ready JSONResponse skips FastAPI's generic encoding of the returned value.
        return JSONResponse(result.response, status_code=201,
                            headers=None if result.created else {"Idempotent-Replayed": "true"})

    @api.get("/api/v1/orders", tags=["orders"], dependencies=[Auth])
    def list_orders(limit: int = Query(50, le=500), status: str | None = None):
        return {"orders": order_view.list_orders(ctx, limit, status)}

    @api.get("/api/v1/orders/{order_id}", tags=["orders"], dependencies=[Auth])
    def get_order(order_id: int):
        """Lines, the routing decision with every candidate and reason, supplier orders, shipments, margin."""
        return order_view.order_detail(ctx, order_id)

    @api.get("/api/v1/reports/margin", tags=["reports"], dependencies=[Auth])
    def margin(by: str = Query("order", pattern="^(order|product|supplier|store)$")):
        return {"by": by, "rows": order_view.margin_report(ctx, by)}

    @api.get("/api/v1/alerts", tags=["ops"], dependencies=[Auth])
    def alerts(limit: int = Query(50, le=500)):
        return {"alerts": order_view.list_alerts(ctx, limit)}

    @api.get("/api/v1/audit", tags=["ops"], dependencies=[Auth])
    def audit(limit: int = Query(100, le=1000)):
        return {"events": order_view.list_audit(ctx, limit)}

    @api.post("/api/v1/suppliers/{supplier}/feeds", tags=["feeds"], dependencies=[Auth])
    def upload_feed(supplier: str, file: Annotated[UploadFile, File()], mode: str = Query("full",
                                                                                          pattern="^(full|delta)$")):
        outcome = sync_feed(ctx, supplier, file.file, file.filename or "upload", mode=mode)
        return JSONResponse(order_view.sync_run_detail(ctx, outcome.run_id),
                            status_code=200 if outcome.status == "applied" else 422)

    @api.get("/api/v1/sync-runs/{run_id}", tags=["feeds"], dependencies=[Auth])
    def sync_run(run_id: int):
        return order_view.sync_run_detail(ctx, run_id, rejects=1000)

    @api.get("/api/v1/sync-runs/{run_id}/rejects.csv", tags=["feeds"], dependencies=[Auth],
             response_class=StreamingResponse)
    def sync_run_rejects(run_id: int):
        """Every stored rejected row of the run: line, field, reason, raw."""
        chunks = rejects_csv(ctx, run_id)
        first = next(chunks)  # raises NotFound (404) before the response starts
        disposition = f'attachment; filename="sync-run-{run_id}-rejects.csv"'
        return StreamingResponse(itertools.chain([first], chunks), media_type="text/csv",
                                 headers={"Content-Disposition": disposition})

    @api.post("/webhooks/suppliers/{supplier}", tags=["webhooks"])
    async def supplier_webhook(supplier: str, request: Request):
        return await _webhook(request, "supplier", supplier)

    @api.post("/webhooks/{platform}/{store}", tags=["webhooks"])
    async def store_webhook(platform: str, store: str, request: Request):
        return await _webhook(request, "store", store, platform)

    # Webhooks received at the same moment are stored in one transaction too.
    webhook_intake = GroupCommit(lambda deliveries: receive_webhooks(ctx, deliveries), name="webhook-writer")

    async def _webhook(request: Request, kind: str, name: str, platform: str | None = None):
        raw = await request.body()  # the exact bytes: signatures are over them
        try:
            outcome = await webhook_intake.submit(WebhookDelivery(kind, name, dict(request.headers), raw, platform))
        except WebhookRejected as exc:
            webhooks_in.labels(kind, "rejected").inc()
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        webhooks_in.labels(kind, outcome).inc()
        return {"status": outcome}

    api.include_router(catalog_router(ctx, Auth))
    api.include_router(shipment_router(ctx, Auth))
    document_json_bodies(api, OrderIn)
    return api
