"""The HTTP surface. `def` endpoints with sync SQLAlchemy (FastAPI runs them in its thread pool)."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from datetime import date
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.requests import ClientDisconnect

from dropbridge.dashboard import mount_dashboard
from dropbridge.domain import limits
from dropbridge.domain.errors import Conflict, DropbridgeError, NotFound, ValidationError, WebhookRejected
from dropbridge.domain.limits import MAX_DB_ID
from dropbridge.domain.money import MAX_AMOUNT_MINOR, Money, out_of_range
from dropbridge.services import order_view
from dropbridge.services.inbound_events import WebhookDelivery, receive_webhooks, webhook_receiver
from dropbridge.services.ingest_order import IntakeRequest, ingest_orders
from dropbridge.services.margin_report import margin_summary
from dropbridge.services.ports import REQUEST_QUERY, Address, ExternalOrder, ExternalOrderLine
from dropbridge.services.queries.vendors import vendor_performance
from dropbridge.services.records import correlation_id, new_correlation_id
from dropbridge.services.sync_feed import rejects_csv, sync_feed
from dropbridge.services.tokens import Principal, TokenCache, check_token, hash_token

from .catalog_routes import add_catalog_routes
from .edge import UNAUTHORIZED, BodyRejected, EdgeGuard, too_large
from .group_commit import GroupCommit
from .money_routes import add_money_routes
from .ops_metrics import OpsCollector
from .price_routes import add_price_routes
from .schemas import OrderIn, Problem, document_json_bodies, json_body_doc, parse_json_body
from .shipment_routes import add_shipment_routes

# How long a confirmed API token is remembered in process: a deleted token keeps working that long.
TOKEN_CACHE_SECONDS = 5.0


class Correlate:
    """A correlation id per request and the latency histogram, labelled by route template (every unknown path
    shares "unmatched", so random paths add no series). A pure ASGI middleware: starlette's
    BaseHTTPMiddleware (`@app.middleware("http")`) runs each request through an extra task and memory
    streams, which cost about as much CPU as storing an order."""

    def __init__(self, app, latency: Histogram):
        self.app = app
        self.latency = latency

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        new_correlation_id()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")  # set by the router on a match
            self.latency.labels(getattr(route, "path", None) or "unmatched").observe(time.perf_counter() - started)


# What each status means, for the OpenAPI document: every endpoint lists every status it can answer.
_STATUS = {
    400: "The body is not UTF-8, or the request is malformed",
    401: "Missing or invalid bearer token (or, on webhooks, signature)",
    403: "The token lacks the scope, or is limited to other stores or suppliers",
    404: "No such resource",
    409: "The Idempotency-Key was used with another body",
    413: "The body is larger than the limit",
    422: "Validation error, naming each field",
}


def _responses(*codes: int) -> dict:
    return {code: {"model": Problem, "description": _STATUS[code]} if code != 422 else
            {"description": _STATUS[code]} for code in codes}


ID = Annotated[int, Path(ge=1, le=MAX_DB_ID)]
NAME = Annotated[str, Path(min_length=1, max_length=limits.STORE_NAME_MAX)]


def _amount(value, currency: str, field: str) -> Money | None:
    return Money.parse(value, currency, field=field) if value is not None else None


IMAGE_NAME = re.compile(r"([0-9a-f]{64})\.(jpg|webp)")


def create_app(app_ctx) -> FastAPI:
    """`app_ctx` is the bootstrap App (settings, engine, ctx)."""
    ctx = app_ctx.ctx
    settings = app_ctx.settings
    # /docs and /redoc from assets installed with fastapi-offline: nothing loads from the internet.
    api = FastAPIOffline(title="dropbridge", version="0.1.0",
                  description="Dropshipping integration: orders, routing, supplier orders, tracking, margins.")
    registry = CollectorRegistry()
    orders_in = Counter("dropbridge_orders_received_total", "Orders received", ["source", "created"],
                        registry=registry)
    webhooks_in = Counter("dropbridge_webhooks_total", "Webhooks received", ["source", "outcome"],
                          registry=registry)
    latency = Histogram("dropbridge_http_request_seconds", "Request latency", ["route"], registry=registry)

    tokens = TokenCache(ttl=TOKEN_CACHE_SECONDS)

    async def authenticate(header: bytes | None) -> Principal | None:
        # A remembered token costs no trip to the thread pool; a database check still goes there.
        if not header:
            return None
        scheme, _, token = header.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        principal = tokens.get(hash_token(token))
        return principal if principal is not None else await run_in_threadpool(check_token, ctx, token, tokens)

    # Outermost first: Correlate sees every request, EdgeGuard refuses before any endpoint or body.
    api.add_middleware(EdgeGuard, authenticate=authenticate, max_body=settings.max_body_bytes,
                       max_upload=settings.max_upload_bytes, upload_path=r"^/api/v1/suppliers/[^/]+/feeds$")
    api.add_middleware(Correlate, latency=latency)

    @api.exception_handler(ClientDisconnect)
    def _client_gone(request: Request, exc: ClientDisconnect):
        # Nobody is left to answer (nginx logs this as 499); nothing was read, so nothing was stored.
        return Response(status_code=499)

    @api.exception_handler(BodyRejected)
    def _body_rejected(request: Request, exc: BodyRejected):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @api.exception_handler(DropbridgeError)
    def _domain_error(request: Request, exc: DropbridgeError):
        if isinstance(exc, ValidationError):
            return JSONResponse({"detail": [{"loc": ["body", *(exc.field or "").split(".")], "msg": str(exc),
                                             "type": "value_error"}]}, status_code=422)
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    bearer = HTTPBearer(auto_error=False, description="An API token: `dropbridge token create NAME`.")

    def needs(scope: str):
        """The dependency of an endpoint that needs `scope` (EdgeGuard authenticated the token already)."""
        async def check(request: Request, _: object = Security(bearer)) -> Principal:
            principal = request.scope.get("state", {}).get("principal")
            if principal is None:
                raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
            if not principal.allows(scope):
                raise HTTPException(403, f"token {principal.name!r} lacks the {scope!r} scope "
                                         f"(it has: {', '.join(sorted(principal.scopes)) or 'none'})")
            return principal
        return check

    # Dependencies as defaults, not in Annotated: this module's annotations are strings, resolved at module level.
    read, admin = Depends(needs("read")), Depends(needs("admin"))

    def unrestricted(principal: Principal, what: str) -> None:
        if principal.restricted:
            raise HTTPException(403, f"token {principal.name!r} is limited to named stores or suppliers; "
                                     f"{what} spans all of them")

    def for_store(principal: Principal, store: str) -> None:
        if not principal.may_use_store(store):
            raise HTTPException(403, f"token {principal.name!r} may not use store {store!r}")

    def for_supplier(principal: Principal, supplier: str) -> None:
        if not principal.may_use_supplier(supplier):
            raise HTTPException(403, f"token {principal.name!r} may not use supplier {supplier!r}")

    @api.get("/images/{name}", include_in_schema=False)
    def image(name: str):
        """The processed catalog images (resized, watermarked), public as a store's product page shows them:
        stores that fetch images by URL are given `{public_url}/images/<sha256>.<ext>`. Content-addressed, so
        cached for good."""
        found = IMAGE_NAME.fullmatch(name)
        if found is None:
            raise HTTPException(404, "no such image")
        try:
            data = ctx.images.read_named(found.group(1), found.group(2))
        except FileNotFoundError:
            raise HTTPException(404, "no such image") from None
        return Response(data, media_type="image/jpeg" if found.group(2) == "jpg" else "image/webp",
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})

    @api.get("/healthz", tags=["ops"], responses={503: {"description": "The database does not answer"}})
    def healthz():
        try:
            with app_ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return JSONResponse({"status": "unavailable", "database": app_ctx.engine.dialect.name}, status_code=503)
        return {"status": "ok", "database": app_ctx.engine.dialect.name}

    @api.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # Orders posted at the same moment share one transaction (see group_commit.py).
    intake = GroupCommit(lambda requests: ingest_orders(ctx, requests), name="intake-writer")

    @api.post("/api/v1/orders", status_code=201, tags=["orders"], openapi_extra=json_body_doc(OrderIn),
              responses=_responses(400, 401, 403, 404, 409, 413, 422))
    async def create_order(request: Request, principal: Principal = Depends(needs("orders:write")),
                           idempotency_key: Annotated[str | None, Header(max_length=limits.IDEMPOTENCY_KEY_MAX,
                                                                         pattern=limits.CODE_PATTERN)] = None):
        """Headless stores create orders here. Send an `Idempotency-Key`: repeating the request with the
        same key returns the first response and creates nothing."""
        body = await parse_json_body(request, OrderIn)
        for_store(principal, body.store)
        lines = []
        for i, ln in enumerate(body.lines):
            price = Money.parse(ln.unit_price, body.currency, field=f"lines.{i}.unit_price")
            if abs(price.amount * ln.quantity) > MAX_AMOUNT_MINOR:
                raise ValidationError(out_of_range(body.currency, f"lines.{i}: unit_price x quantity"), f"lines.{i}")
            lines.append(ExternalOrderLine(
                external_id=ln.external_id or str(i + 1), sku=ln.sku, quantity=ln.quantity, unit_price=price,
                discount=_amount(ln.discount, body.currency, f"lines.{i}.discount"),
                tax=_amount(ln.tax, body.currency, f"lines.{i}.tax")))
        ext = ExternalOrder(
            external_id=body.external_id,
            currency=body.currency,
            email=body.email,
            ship_to=Address(**body.ship_to.model_dump()),
            shipping_price=Money.parse(body.shipping_price, body.currency, field="shipping_price"),
            lines=lines,
            total_tax=_amount(body.total_tax, body.currency, "total_tax"),
            total_discounts=_amount(body.total_discounts, body.currency, "total_discounts"),
            taxes_included=body.taxes_included,
        )
        digest = hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
        # checked: OrderIn holds every limit of check_order (domain/limits.py), and the line totals are above.
        result = await intake.submit(IntakeRequest(body.store, ext, idempotency_key, digest, "api",
                                                   correlation_id.get(), checked=True))
        orders_in.labels("api", str(result.created).lower()).inc()
        # A ready JSONResponse skips FastAPI's generic encoding of the returned value.
        return JSONResponse(result.response, status_code=201,
                            headers=None if result.created else {"Idempotent-Replayed": "true"})

    @api.get("/api/v1/orders", tags=["orders"], responses=_responses(401, 403, 422))
    def list_orders(principal: Principal = read, limit: int = Query(50, ge=1, le=500),
                    status: str | None = Query(None, max_length=30, pattern=limits.CODE_PATTERN)):
        return {"orders": order_view.list_orders(ctx, limit, status, principal.stores)}

    @api.get("/api/v1/orders/{order_id}", tags=["orders"], responses=_responses(401, 403, 404, 422))
    def get_order(order_id: ID, principal: Principal = read):
        """Lines, the routing decision with every candidate and reason, supplier orders, shipments, margin."""
        detail = order_view.order_detail(ctx, order_id)
        for_store(principal, detail["store"])
        return detail

    @api.get("/api/v1/reports/margin", tags=["reports"], responses=_responses(401, 403, 422))
    def margin(principal: Principal = read,
               by: str = Query("order", pattern="^(order|product|supplier|store|day|week|month)$"),
               start: date | None = Query(None, alias="from", description="first UTC day of entries counted"),
               end: date | None = Query(None, alias="to", description="last UTC day of entries counted")):
        """Sums of ledger entries per key and basis (realised, expected, held, unroutable, cancelled,
        pending), with `columns` naming each figure and `totals` per basis and currency. Tax collected is
        its own column, never revenue; by supplier the figures are costs, not margins."""
        unrestricted(principal, "the margin report")
        return margin_summary(ctx, by, start, end)

    @api.get("/api/v1/reports/vendors", tags=["reports"], responses=_responses(401, 403, 422))
    def vendors(principal: Principal = read,
                start: date | None = Query(None, alias="from", description="first UTC day of supplier orders placed"),
                end: date | None = Query(None, alias="to", description="last UTC day of supplier orders placed")):
        """Per supplier: orders placed, fill rate, refusal rate, on-time ship rate against the promised lead time,
        lead time median and 90th percentile, time from shipment to tracking upload, invoice accuracy (null
        until invoices are matched: see `notes`), cost variance and defective shipments; `columns` names each
        figure. Rates are percentages; a figure without data is null."""
        unrestricted(principal, "the vendor report")
        return vendor_performance(ctx, start, end)

    @api.get("/api/v1/alerts", tags=["ops"], responses=_responses(401, 403, 422))
    def alerts(principal: Principal = read, limit: int = Query(50, ge=1, le=500)):
        unrestricted(principal, "the alert list")
        return {"alerts": order_view.list_alerts(ctx, limit)}

    @api.get("/api/v1/audit", tags=["ops"], responses=_responses(401, 403, 422))
    def audit(principal: Principal = admin, limit: int = Query(100, ge=1, le=1000)):
        unrestricted(principal, "the audit trail")
        return {"events": order_view.list_audit(ctx, limit)}

    @api.post("/api/v1/suppliers/{supplier}/feeds", tags=["feeds"], openapi_extra=_UPLOAD_DOC,
              responses={200: {"description": "The sync run: applied"},
                         **_responses(400, 401, 403, 404, 413),
                         422: {"description": "Quarantined (the sync run's report says why) or a validation error"}})
    async def upload_feed(request: Request, supplier: NAME, principal: Principal = Depends(needs("feeds:write")),
                          mode: str = Query("full", pattern="^(full|delta)$")):
        """A feed file (CSV, TSV, XLSX, JSON, JSONL, EDI 846) as the multipart field `file`. The body is read
        only after the token is known to be allowed to feed this supplier, spooled to disk as it arrives."""
        for_supplier(principal, supplier)
        async with request.form(max_files=1, max_fields=5) as form:
            file = form.get("file")
            if not isinstance(file, StarletteUploadFile):
                raise RequestValidationError([{"type": "missing", "loc": ("body", "file"), "input": None,
                                               "msg": "a multipart field `file` holding the feed is required"}])
            outcome = await run_in_threadpool(sync_feed, ctx, supplier, file.file, file.filename or "upload",
                                              mode=mode)
        return JSONResponse(order_view.sync_run_detail(ctx, outcome.run_id),
                            status_code=200 if outcome.status == "applied" else 422)

    @api.get("/api/v1/sync-runs/{run_id}", tags=["feeds"], responses=_responses(401, 403, 404, 422))
    def sync_run(run_id: ID, principal: Principal = read):
        for_supplier(principal, order_view.sync_run_supplier(ctx, run_id))
        return order_view.sync_run_detail(ctx, run_id, rejects=1000)

    @api.get("/api/v1/sync-runs/{run_id}/rejects.csv", tags=["feeds"], response_class=StreamingResponse,
             responses=_responses(401, 403, 404, 422))
    def sync_run_rejects(run_id: ID, principal: Principal = read):
        """Every stored rejected row of the run: line, field, reason, raw."""
        for_supplier(principal, order_view.sync_run_supplier(ctx, run_id))
        chunks = rejects_csv(ctx, run_id)
        first = next(chunks)  # raises NotFound (404) before the response starts
        disposition = f'attachment; filename="sync-run-{run_id}-rejects.csv"'
        return StreamingResponse(itertools.chain([first], chunks), media_type="text/csv",
                                 headers={"Content-Disposition": disposition})

    webhook_responses = {200: {"description": "accepted, duplicate or ignored (a handshake)"},
                         **_responses(400, 401, 404, 413, 422)}

    @api.post("/webhooks/suppliers/{supplier}", tags=["webhooks"], responses=webhook_responses)
    async def supplier_webhook(supplier: NAME, request: Request):
        """Authenticated by the supplier's signature, not a token."""
        return await _webhook(request, "supplier", supplier)

    @api.post("/webhooks/{platform}/{store}", tags=["webhooks"], responses=webhook_responses)
    async def store_webhook(platform: Annotated[str, Path(max_length=30)], store: NAME, request: Request):
        """Authenticated by the store platform's signature, not a token."""
        return await _webhook(request, "store", store, platform)

    # Webhooks received at the same moment are stored in one transaction too.
    webhook_intake = GroupCommit(lambda deliveries: receive_webhooks(ctx, deliveries), name="webhook-writer")
    receivers: dict[tuple, tuple[object, float]] = {}  # (kind, name, platform) -> (connector, known until)

    async def _receiver(kind: str, name: str, platform: str | None):
        key = (kind, name, platform)
        hit = receivers.get(key)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        connector = await run_in_threadpool(webhook_receiver, ctx, kind, name, platform)
        if len(receivers) > 1024:
            receivers.clear()
        receivers[key] = (connector, time.monotonic() + TOKEN_CACHE_SECONDS)
        return connector

    async def _webhook(request: Request, kind: str, name: str, platform: str | None = None):
        try:
            # What the headers can tell comes first: an unknown sender or a delivery without its signature
            # headers is refused before a byte of its body is read.
            connector = await _receiver(kind, name, platform)
            precheck = getattr(connector, "webhook_body_limit", None)
            raw = await read_body(request, precheck(request.headers) if precheck else None)
            # The query string travels under a key no header can have: platforms that sign nothing are
            # authenticated by a secret in the callback URL (services/ports.py REQUEST_QUERY).
            headers = {**request.headers, REQUEST_QUERY: request.url.query}
            outcome = await webhook_intake.submit(WebhookDelivery(kind, name, headers, raw, platform))
        except WebhookRejected as exc:
            webhooks_in.labels(kind, "rejected").inc()
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        webhooks_in.labels(kind, outcome).inc()
        return {"status": outcome}

    add_catalog_routes(api.router, ctx, read, admin, for_supplier)
    add_shipment_routes(api.router, ctx, Depends(needs("orders:write")), for_supplier)
    add_price_routes(api.router, ctx, read, Depends(needs("prices:write")), for_store)
    add_money_routes(api.router, ctx, read, Depends(needs("invoices:write")), for_supplier, unrestricted,
                     _responses)
    document_json_bodies(api, OrderIn)
    registry.register(OpsCollector(ctx))
    mount_dashboard(api, app_ctx)
    for route in api.routes:  # what EdgeGuard may answer before an endpoint runs
        if isinstance(route, APIRoute):
            body = (400, 413) if route.methods - {"GET", "HEAD", "OPTIONS"} else ()
            for code in body + ((401,) if route.path.startswith("/api/") else ()):
                route.responses.setdefault(code, _responses(code)[code])
    return api


_UPLOAD_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "the feed file"}}}}}}}


async def read_body(request: Request, limit: int | None) -> bytes:
    """The body (the exact bytes: signatures are over them), refused with 413 beyond `limit` when it is tighter
    than the server's (EdgeGuard enforces that one)."""
    if limit is None:
        return await request.body()
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise BodyRejected(413, too_large(limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyRejected(413, too_large(limit))
        chunks.append(chunk)
    return b"".join(chunks)
