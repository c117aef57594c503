"""`dropbridge sync feed SUPPLIER URL`: a conditional fetch; the second run is answered 304."""

from __future__ import annotations

import hashlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dropbridge.sandbox.kit.server import start_server

from .test_cli import cli  # noqa: F401 - the fixture

FEED = b"sku,qty,cost\nA,5,1.00\nB,7,2.00\n"


def feed(request: Request) -> Response:
    etag = '"' + hashlib.sha256(FEED).hexdigest()[:16] + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(FEED, media_type="text/csv", headers={"ETag": etag})


def test_sync_feed_from_url_then_not_modified(cli):  # noqa: F811
    server = start_server(Starlette(routes=[Route("/feed.csv", feed)]))
    try:
        cli("supplier", "add", "acme", "--kind", "feed", "--config",
            '{"currency": "USD"}')
        allow = {"DROPBRIDGE_ALLOW_PRIVATE_HOSTS": "true"}  # the server listens on 127.0.0.1
        first = cli("sync", "feed", "acme", f"{server.url}/feed.csv", extra_env=allow).stdout
        assert "applied - read 2, changed 2" in first
        second = cli("sync", "feed", "acme", f"{server.url}/feed.csv", extra_env=allow).stdout
        assert "not modified" in second
    finally:
        server.stop()
