"""The dashboard's pages (GET) and actions (POST; each checks the role, is audited with the user's name
and answers with a redirect back to the page, so a reload never repeats it)."""

from __future__ import annotations

import csv
import io
import itertools
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from dropbridge.domain.errors import DropbridgeError, NotFound
from dropbridge.services import alert_delivery, connections, manage_alerts, tokens, users
from dropbridge.services.cancel_order import cancel_order
from dropbridge.services.order_actions import reroute_order, retry_order
from dropbridge.services.order_view import sync_run_detail
from dropbridge.services.queries.alerts import alerts_page
from dropbridge.services.queries.audit import audit_page
from dropbridge.services.queries.margins import BREAKDOWNS, RANGES, margins
from dropbridge.services.queries.orders import order_page, orders_page
from dropbridge.services.queries.overview import overview
from dropbridge.services.queries.products import products_page
from dropbridge.services.queries.settings import settings_page
from dropbridge.services.queries.suppliers import supplier_page, suppliers_overview
from dropbridge.services.sync_catalog import sync_catalog
from dropbridge.services.sync_feed import rejects_csv, sync_feed

from . import charts
from .app import Dashboard, back
from .security import CSRF_COOKIE, check_form_token, refusal_page

ORDER_ACTIONS = {
    "retry": "Retry routing and sending",
    "accept-low-margin": "Accept the low margin and retry",
    "reroute": "Re-route, excluding a supplier",
    "cancel": "Cancel the order",
}


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute URL (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or urlsplit(value).netloc:
        return "/"
    return value


def _int(value: str | None, default: int = 1) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def add_views(api: FastAPI, board: Dashboard) -> None:
    ctx = board.ctx
    html = {"include_in_schema": False, "response_class": HTMLResponse}

    def page(request: Request, template: str, build, **extra):
        """Render a page; a bad filter or a missing record is shown as a message, not a stack trace."""
        board.user(request)
        try:
            data = build()
        except NotFound as exc:
            return board.render(request, "error.html", status_code=404, message=str(exc))
        except DropbridgeError as exc:
            return board.render(request, "error.html", status_code=400, message=str(exc))
        return board.render(request, template, **data, **extra)

    # Login and logout.
    @api.get("/login", **html)
    def login_form(request: Request, next: str = "/"):
        return board.render(request, "login.html", next=_safe_next(next), email="")

    @api.post("/login", **html)
    def login(request: Request, email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/"):
        address = request.client.host if request.client else "unknown"
        try:
            session_id = users.log_in(ctx, email, password, address, hours=board.settings.session_hours)
        except users.LoginRefused as exc:
            return board.render(request, "login.html", status_code=429 if exc.limited else 401,
                                next=_safe_next(next), email=email, error=str(exc))
        response = RedirectResponse(_safe_next(next), status_code=303)
        board.cookie.set(response, request, session_id)
        return response

    @api.post("/logout", **html)
    def logout(request: Request):
        from .security import SESSION_COOKIE

        session_id = board.cookie.load(request.cookies.get(SESSION_COOKIE))
        if session_id:
            users.log_out(ctx, session_id)
        response = RedirectResponse("/login", status_code=303)
        board.cookie.clear(response)
        return response

    # Overview.
    @api.get("/", **html)
    def home(request: Request):
        return page(request, "overview.html", lambda: {"o": overview(ctx)}, nav="overview")

    # Orders.
    @api.get("/orders", **html)
    def orders(request: Request, status: str = "", store: str = "", supplier: str = "", since: str = "",
               until: str = "", q: str = ""):
        p = _int(request.query_params.get("page"))
        filters = {"status": status, "store": store, "supplier": supplier, "since": since, "until": until, "q": q}
        return page(request, "orders.html",
                    lambda: orders_page(ctx, status=status or None, store=store or None, supplier=supplier or None,
                                        since=since or None, until=until or None, q=q or None, page=p),
                    nav="orders", filters=filters)

    @api.get("/orders/{order_id}", **html)
    def order(request: Request, order_id: int):
        return page(request, "order.html", lambda: {"o": order_page(ctx, order_id)}, nav="orders",
                    actions=ORDER_ACTIONS)

    @api.get("/orders/{order_id}/confirm/{action}", **html)
    def confirm_order_action(request: Request, order_id: int, action: str):
        board.actor(request)
        if action not in ORDER_ACTIONS:
            return board.render(request, "error.html", status_code=404, message=f"no action {action!r}")
        return page(request, "confirm.html", lambda: {"o": order_page(ctx, order_id)}, nav="orders",
                    action=action, label=ORDER_ACTIONS[action])

    @api.post("/orders/{order_id}/{action}", **html)
    def order_action(request: Request, order_id: int, action: str,
                     exclude: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = ""):
        user, actx = board.actor(request)
        url = f"/orders/{order_id}"
        try:
            if action == "retry":
                done = retry_order(actx, order_id)
            elif action == "accept-low-margin":
                done = retry_order(actx, order_id, accept_low_margin=True)
            elif action == "reroute":
                done = reroute_order(actx, order_id, exclude=[exclude] if exclude else [])
            elif action == "cancel":
                done = [cancel_order(actx, order_id, reason.strip() or f"cancelled by {user.email}")]
            else:
                return board.render(request, "error.html", status_code=404, message=f"no action {action!r}")
        except DropbridgeError as exc:
            return back(url, err=str(exc))
        return back(url, msg="; ".join(done))

    # Suppliers and feeds.
    @api.get("/suppliers", **html)
    def suppliers(request: Request):
        return page(request, "suppliers.html", lambda: {"suppliers": suppliers_overview(ctx)},
                    nav="suppliers")

    @api.get("/suppliers/{name}", **html)
    def supplier(request: Request, name: str, q: str = ""):
        p = _int(request.query_params.get("page"))
        return page(request, "supplier.html", lambda: {"s": supplier_page(ctx, name, q, p)}, nav="suppliers")

    @api.post("/suppliers/{name}/feeds", **html)
    def upload_feed(request: Request, name: str, file: Annotated[UploadFile, File()],
                    mode: Annotated[str, Form()] = "full", csrftoken: Annotated[str, Form()] = ""):
        _, actx = board.actor(request)
        if not check_form_token(board.csrf_secret, request.cookies.get(CSRF_COOKIE), csrftoken):
            return HTMLResponse(refusal_page(), status_code=403)
        if mode not in ("full", "delta"):
            return back(f"/suppliers/{name}", err="mode is full or delta")
        if not file.filename:
            return back(f"/suppliers/{name}", err="choose a feed file to upload")
        try:
            outcome = sync_feed(actx, name, file.file, file.filename, mode=mode)
        except DropbridgeError as exc:
            return back(f"/suppliers/{name}", err=str(exc))
        return back(f"/sync-runs/{outcome.run_id}", msg=f"feed {outcome.status}: read {outcome.rows_read}, "
                    f"changed {outcome.changed}, rejected {outcome.rejected}")

    @api.post("/suppliers/{name}/catalog", **html)
    def pull_catalog(request: Request, name: str):
        """Pull an API supplier's catalog now (`sync catalog`)."""
        _, actx = board.actor(request)
        try:
            result = sync_catalog(actx, name)
        except DropbridgeError as exc:
            return back(f"/suppliers/{name}", err=str(exc))
        return back(f"/sync-runs/{result.run_id}", msg=f"catalog {result.status}: read {result.rows_read}, "
                    f"changed {result.changed}, rejected {result.rejected}")

    @api.post("/suppliers/{name}/fetch-feed", **html)
    def fetch_feed_now(request: Request, name: str):
        from dropbridge.services.feed_sources import fetch_feed_url

        _, actx = board.actor(request)
        try:
            outcome = fetch_feed_url(actx, name)
        except DropbridgeError as exc:
            return back(f"/suppliers/{name}", err=str(exc))
        if outcome is None:
            return back(f"/suppliers/{name}", msg="the feed has not changed since the last fetch")
        return back(f"/sync-runs/{outcome.run_id}", msg=f"feed {outcome.status}")

    @api.get("/sync-runs/{run_id}", **html)
    def sync_run(request: Request, run_id: int):
        def build():
            run = sync_run_detail(ctx, run_id, rejects=500)
            with ctx.uow(read_only=True) as uow:
                sup = next((s.name for s in uow.suppliers.all() if s.id == run["supplier_id"]), "?")
            return {"run": run, "supplier": sup}

        return page(request, "sync_run.html", build, nav="suppliers")

    @api.get("/sync-runs/{run_id}/rejects.csv", include_in_schema=False)
    def sync_run_rejects(request: Request, run_id: int):
        board.user(request)
        try:
            chunks = rejects_csv(ctx, run_id)
            first = next(chunks)
        except NotFound as exc:
            return board.render(request, "error.html", status_code=404, message=str(exc))
        disposition = f'attachment; filename="sync-run-{run_id}-rejects.csv"'
        return StreamingResponse(itertools.chain([first], chunks), media_type="text/csv",
                                 headers={"Content-Disposition": disposition})

    # Products and listings.
    @api.get("/products", **html)
    def products(request: Request, q: str = ""):
        p = _int(request.query_params.get("page"))
        return page(request, "products.html", lambda: products_page(ctx, q, p), nav="products")

    @api.post("/products/threshold", **html)
    def set_threshold(request: Request, sku: Annotated[str, Form()], threshold: Annotated[str, Form()] = "",
                      q: Annotated[str, Form()] = ""):
        _, actx = board.actor(request)
        url = f"/products?q={q or sku}"
        try:
            value = int(threshold) if threshold.strip() else None
            manage_alerts.set_low_stock_threshold(actx, sku, value)
        except ValueError:
            return back(url, err="a threshold is a whole number")
        except DropbridgeError as exc:
            return back(url, err=str(exc))
        return back(url, msg=f"{sku}: low-stock threshold {'set to ' + str(value) if value is not None else 'default'}")

    # Margins.
    @api.get("/margins", **html)
    def margins_view(request: Request, days: int = 30, store: str = "", view: str = "overview"):
        def build():
            if view == "product":  # per SKU reads each line: its own tab
                data = margins(ctx, days, by=("product",), store=store or None)
                data["tables"]["product"] = data["tables"]["product"][:100]
                return {"m": data, "ranges": RANGES, "view": "product"}
            data = margins(ctx, days, store=store or None)
            day_rows = data["tables"]["day"]
            currencies = sorted({r["currency"] for r in day_rows}, key=lambda c: -sum(
                r["revenue_minor"] for r in day_rows if r["currency"] == c))
            cur = currencies[0] if currencies else None
            data["charts"] = {} if cur is None else {
                "time": charts.margin_over_time(day_rows, cur),
                "store": charts.margin_by(data["tables"]["store"], cur, "store"),
                "supplier": charts.margin_by(data["tables"]["supplier"], cur, "supplier")}
            return {"m": data, "ranges": RANGES, "view": "overview"}

        return page(request, "margins.html", build, nav="margins")

    @api.get("/margins.csv", include_in_schema=False)
    def margins_csv(request: Request, by: str = "day", days: int = 30, store: str = ""):
        board.user(request)
        if by not in BREAKDOWNS:
            return board.render(request, "error.html", status_code=400, message=f"by is one of {BREAKDOWNS}")
        try:
            data = margins(ctx, days, by=(by,), store=store or None)
        except DropbridgeError as exc:
            return board.render(request, "error.html", status_code=400, message=str(exc))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([by, "currency", "revenue", "costs", "margin", "margin_pct"])
        for r in data["tables"][by]:
            writer.writerow([r["key"], r["currency"], r["revenue"], r["costs"], r["margin"], r["margin_pct"]])
        return StreamingResponse(iter([out.getvalue()]), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="margin-by-{by}-{days}d.csv"'})

    # Alerts.
    @api.get("/alerts", **html)
    def alerts(request: Request, state: str = "open", kind: str = ""):
        p = _int(request.query_params.get("page"))
        return page(request, "alerts.html", lambda: alerts_page(ctx, state, kind, p), nav="alerts")

    @api.post("/alerts/{verb}", **html)
    async def alert_action(request: Request, verb: str):
        form = await request.form()
        ids = [int(v) for v in form.getlist("alert_id") if str(v).isdigit()]
        resolution = str(form.get("resolution") or "")
        url = _safe_next(str(form.get("next") or "/alerts"))
        _, actx = board.actor(request)
        try:
            if verb == "acknowledge":
                n = manage_alerts.acknowledge_alerts(actx, ids)
            elif verb == "resolve":
                n = manage_alerts.resolve_alerts(actx, ids, resolution)
            else:
                return board.render(request, "error.html", status_code=404, message=f"no action {verb!r}")
        except DropbridgeError as exc:
            return back(url, err=str(exc))
        return back(url, msg=f"{n} alert(s) {'acknowledged' if verb == 'acknowledge' else 'resolved'}")

    # Audit.
    @api.get("/audit", **html)
    def audit(request: Request, q: str = ""):
        p = _int(request.query_params.get("page"))
        return page(request, "audit.html", lambda: audit_page(ctx, q, p), nav="audit")

    # Settings (owners change them; staff and viewers see them).
    @api.get("/settings", **html)
    def settings(request: Request):
        return page(request, "settings.html", lambda: {"s": settings_page(ctx)}, nav="settings")

    def _settings_action(request: Request, fn):
        _, actx = board.actor(request, need="owner")
        try:
            result = fn(actx)
        except DropbridgeError as exc:
            return back("/settings", err=str(exc))
        if isinstance(result, Response):
            return result
        return back("/settings", msg=result)

    def _json(value: str, what: str) -> dict:
        import json

        from dropbridge.domain.errors import ValidationError

        if not value.strip():
            return {}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{what} must be JSON: {exc}", what) from None
        if not isinstance(parsed, dict):
            raise ValidationError(f"{what} must be a JSON object", what)
        return parsed

    @api.post("/settings/connections", **html)
    def save_connection(request: Request, what: Annotated[str, Form()], name: Annotated[str, Form()],
                        type_: Annotated[str, Form(alias="type")], url: Annotated[str, Form()] = "",
                        credentials: Annotated[str, Form()] = "", config: Annotated[str, Form()] = ""):
        def run(actx):
            creds, cfg = _json(credentials, "credentials"), _json(config, "config")
            if what == "store":
                connections.add_store(actx, name.strip(), type_, url.strip(), creds, cfg)
            else:
                connections.add_supplier(actx, name.strip(), type_, url.strip(), creds, cfg)
            return f"{what} {name} saved" + (" (credentials stored encrypted)" if creds else "")

        return _settings_action(request, run)

    @api.post("/settings/users", **html)
    def add_user(request: Request, email: Annotated[str, Form()], role: Annotated[str, Form()],
                 password: Annotated[str, Form()]):
        return _settings_action(request, lambda actx: (users.add_user(actx, email, role, password),
                                                       f"user {email} added as {role}")[1])

    @api.post("/settings/users/remove", **html)
    def remove_user(request: Request, email: Annotated[str, Form()]):
        return _settings_action(request, lambda actx: (users.remove_user(actx, email), f"user {email} removed")[1])

    @api.post("/settings/tokens", **html)
    def create_token(request: Request, name: Annotated[str, Form()]):
        def run(actx):
            token = tokens.create_token(actx, name.strip() or "default")
            # Shown once, in this response (never in a URL); only its hash is stored.
            return board.render(request, "settings.html", s=settings_page(ctx), nav="settings", new_token=token,
                                msg=f"token {name} created: copy it now, it is not shown again")

        return _settings_action(request, run)

    @api.post("/settings/tokens/revoke", **html)
    def revoke_token(request: Request, name: Annotated[str, Form()]):
        return _settings_action(request, lambda actx: (tokens.revoke_token(actx, name), f"token {name} revoked")[1])

    @api.post("/settings/recipients", **html)
    def add_recipient(request: Request, name: Annotated[str, Form()], channel: Annotated[str, Form()],
                      target: Annotated[str, Form()], kinds: Annotated[str, Form()] = "*",
                      schedule: Annotated[str, Form()] = "immediate", min_severity: Annotated[str, Form()] = "info",
                      secret: Annotated[str, Form()] = ""):
        return _settings_action(request, lambda actx: (alert_delivery.add_recipient(
            actx, name, channel, target, kinds=kinds.replace(",", " ").split(), schedule_=schedule,
            min_severity=min_severity, secret=secret or None), f"recipient {name} added")[1])

    @api.post("/settings/recipients/remove", **html)
    def remove_recipient(request: Request, recipient_id: Annotated[int, Form()]):
        return _settings_action(
            request, lambda actx: f"recipient {alert_delivery.remove_recipient(actx, recipient_id)} removed")
