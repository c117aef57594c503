"""Feed URLs fetched with conditional requests from a real local HTTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dropbridge.domain.model import SupplierOffer, SyncRun
from dropbridge.sandbox.kit.server import start_server
from dropbridge.services.connections import add_supplier
from dropbridge.services.feed_sources import due_feed_sources, fetch_feed_url


class FeedHost:
    """Serves one CSV with an ETag and Last-Modified, answering 304 to a matching conditional GET."""

    def __init__(self):
        self.body = b""
        self.modified = "Mon, 04 Mar 2024 10:00:00 GMT"
        self.requests: list[dict] = []
        self.server = start_server(Starlette(routes=[Route("/feeds/stock.csv", self.feed)]))

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    async def feed(self, request: Request) -> Response:
        self.requests.append({"if_none_match": request.headers.get("if-none-match"),
                              "if_modified_since": request.headers.get("if-modified-since")})
        headers = {"ETag": self.etag, "Last-Modified": self.modified}
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type="text/csv", headers=headers)


@pytest.fixture(autouse=True)
def private_feed_hosts(app):
    """The feed host here listens on 127.0.0.1, which dropbridge refuses unless allowed."""
    app.settings.allow_private_hosts = True


@pytest.fixture
def host():
    h = FeedHost()
    yield h
    h.server.stop()


def csv_body(rows) -> bytes:
    return ("sku,qty,cost\n" + "".join(f"{s},{q},{c}\n" for s, q, c in rows)).encode()


def offers(app) -> dict[str, tuple[int, int]]:
    with app.ctx.uow(read_only=True) as uow:
        return {o.supplier_sku: (o.stock, o.cost_minor) for o in uow.session.scalars(select(SupplierOffer))}


def runs(app) -> int:
    with app.ctx.uow(read_only=True) as uow:
        return len(list(uow.session.scalars(select(SyncRun))))


def source(app) -> dict:
    with app.ctx.uow(read_only=True) as uow:
        return dict(uow.suppliers.by_name("acme").config["feed_source"])


ROWS = [("A-1", 5, "1.00"), ("A-2", 7, "2.50"), ("A-3", 0, "3.00")]


def test_first_fetch_applies_then_304_changes_nothing_then_a_new_file_applies(app, host):
    url = f"{host.server.url}/feeds/stock.csv"
    add_supplier(app.ctx, "acme", "feed", "", {}, {"currency": "USD", "feed_source": {"url": url}})
    host.body = csv_body(ROWS)

    first = fetch_feed_url(app.ctx, "acme")
    assert (first.status, first.rows_read, first.changed, first.inserted) == ("applied", 3, 3, 3)
    assert offers(app) == {"A-1": (5, 100), "A-2": (7, 250), "A-3": (0, 300)}
    assert host.requests[0] == {"if_none_match": None, "if_modified_since": None}
    assert (source(app)["etag"], source(app)["last_modified"]) == (host.etag, host.modified)

    assert fetch_feed_url(app.ctx, "acme") is None
    assert host.requests[1] == {"if_none_match": host.etag, "if_modified_since": host.modified}
    assert offers(app) == {"A-1": (5, 100), "A-2": (7, 250), "A-3": (0, 300)}
    assert runs(app) == 1
    with app.ctx.uow(read_only=True) as uow:
        from dropbridge.domain.model import AuditEvent

        actions = [e.action for e in uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-1] == "feed.not_modified"

    old_etag = host.etag
    host.body = csv_body([("A-1", 4, "1.00"), ("A-2", 7, "2.75"), ("A-3", 0, "3.00")])
    host.modified = "Tue, 05 Mar 2024 10:00:00 GMT"
    third = fetch_feed_url(app.ctx, "acme")
    assert host.requests[2]["if_none_match"] == old_etag
    assert (third.status, third.changed, third.unchanged, third.zeroed) == ("applied", 2, 1, 0)
    assert offers(app) == {"A-1": (4, 100), "A-2": (7, 275), "A-3": (0, 300)}
    assert (source(app)["etag"], source(app)["last_modified"]) == (host.etag, host.modified)
    assert runs(app) == 2


def test_a_quarantined_file_keeps_the_old_validators_and_changes_no_stock(app, host):
    url = f"{host.server.url}/feeds/stock.csv"
    add_supplier(app.ctx, "acme", "feed", "", {}, {"currency": "USD", "feed_source": {"url": url}})
    host.body = csv_body(ROWS)
    fetch_feed_url(app.ctx, "acme")
    good_etag = host.etag
    host.body = b"sku,qty,cost\n"  # truncated upstream
    out = fetch_feed_url(app.ctx, "acme")
    assert out.status == "quarantined"
    assert offers(app) == {"A-1": (5, 100), "A-2": (7, 250), "A-3": (0, 300)}
    assert source(app)["etag"] == good_etag
    # Next time the server is asked with the old validator, so the (still bad) file is fetched in full again.
    fetch_feed_url(app.ctx, "acme")
    assert host.requests[-1]["if_none_match"] == good_etag and runs(app) == 3


def test_due_feed_sources_follows_each_interval(app, host):
    url = f"{host.server.url}/feeds/stock.csv"
    add_supplier(app.ctx, "acme", "feed", "", {}, {"feed_source": {"url": url, "interval_seconds": 600}})
    add_supplier(app.ctx, "beta", "feed", "", {}, {"feed_source": {"url": url, "interval_seconds": 60}})
    add_supplier(app.ctx, "nofeed", "feed", "", {}, {})
    now = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
    assert due_feed_sources(app.ctx, now) == ["acme", "beta"]
    host.body = csv_body(ROWS)
    app.ctx.clock = lambda: now
    fetch_feed_url(app.ctx, "acme")
    fetch_feed_url(app.ctx, "beta")
    assert due_feed_sources(app.ctx, now + timedelta(seconds=59)) == []
    assert due_feed_sources(app.ctx, now + timedelta(seconds=60)) == ["beta"]
    assert due_feed_sources(app.ctx, now + timedelta(seconds=600)) == ["acme", "beta"]
