"""The edge under attack: the real app (in process, or on a real port where streaming matters) on SQLite and
PostgreSQL, a headless store `shop` and a REST supplier `acme` with a loaded feed, and row counts to prove
that a refusal stored nothing."""

from __future__ import annotations

import asyncio
import io

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from dropbridge.api.app import create_app
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.sync_feed import sync_feed
from dropbridge.services.tokens import create_token
from dropbridge.storage import tables as t

STORE_SECRET = "store-secret"
SUPPLIER_SECRET = "supplier-secret"
SHIP_TO = {"name": "Jane Doe", "address1": "1 Main St", "city": "Springfield", "postal_code": "12345",
           "country_code": "US"}
TABLES = ("orders", "order_lines", "ledger_entries", "jobs", "webhook_events", "supplier_offers", "sync_runs",
          "sync_run_rejects", "fx_rates", "api_tokens", "audit_events")


@pytest.fixture
def edge(app):
    """(app, client, admin token): the API in process, with a store, a supplier and its feed."""
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9", {"webhook_secret": STORE_SECRET},
              {"payment_fee_percent": "2.9", "payment_fee_fixed": "0.30"})
    add_supplier(app.ctx, "acme", "rest", "http://127.0.0.1:9", {"api_key": "k", "webhook_secret": SUPPLIER_SECRET},
                 {"currency": "USD"})
    sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nTEE,10,8.50\n"), "acme.csv")
    app.ctx.enqueue = lambda job_id, delay=0: None
    token = create_token(app.ctx, "admin")
    with TestClient(create_app(app), headers={"Authorization": f"Bearer {token}"}) as client:
        yield app, client, token


def counts(app) -> dict[str, int]:
    with app.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(t.metadata.tables[name])).scalar()
                for name in TABLES}


def order_body(external_id="E-1", lines=(("TEE", 2, "24.00"),), **extra) -> dict:
    return {"store": "shop", "external_id": external_id, "currency": "USD", "email": "jane@example.com",
            "ship_to": dict(SHIP_TO), "shipping_price": "4.00",
            "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines], **extra}


def asgi_call(api, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    """Drive the ASGI app by hand: (status, body, how many body chunks the app pulled)."""
    incoming = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    pulled, sent = [], []

    async def receive():
        if incoming:
            pulled.append(1)
            return incoming.pop(0)
        await asyncio.sleep(3600)  # no disconnect: the app must answer without more body

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    asyncio.run(asyncio.wait_for(api(scope, receive, send), 30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, len(pulled)


@pytest.fixture
def db_kind(db_url) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"
