"""The feed URL downloader (connectors/kit/feed_download.py) through httpx's MockTransport: conditional
requests, validators, the size limit and the address policy read from the settings at each download, and
errors that never quote the server's answer."""

from __future__ import annotations

import io
from types import SimpleNamespace

import httpx
import pytest

from dropbridge.connectors.kit.feed_download import HttpFeedDownloader
from dropbridge.domain.errors import ConfigurationError, RetryableError
from dropbridge.services.feed_port import Downloaded

PUBLIC = "https://93.184.216.34/feeds/stock.csv"  # a public address literal: no name to resolve
WHAT = "feed https://93.184.216.34/feeds/stock.csv"


def settings(**overrides):
    values = {"http_timeout_seconds": 5.0, "feed_max_bytes": 1 << 20, "private_hosts_allowed": False}
    return SimpleNamespace(**{**values, **overrides})


def test_a_conditional_get_304_writes_nothing_and_a_200_streams_the_body_with_its_validators():
    seen = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")))
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, content=b"sku,qty\nA,1\n", headers={"ETag": '"v1"', "Last-Modified": "Mon"})

    downloader = HttpFeedDownloader(settings(), transport=httpx.MockTransport(serve))
    body = io.BytesIO()
    assert downloader.download(PUBLIC, body, what=WHAT) == Downloaded(False, '"v1"', "Mon", 12)
    assert body.getvalue() == b"sku,qty\nA,1\n"
    again = io.BytesIO()
    assert downloader.download(PUBLIC, again, what=WHAT, etag='"v1"', last_modified="Mon") == Downloaded(True)
    assert again.getvalue() == b""
    assert seen == [(None, None), ('"v1"', "Mon")]


def test_the_size_limit_and_the_address_policy_are_read_from_the_settings_at_each_download():
    conf = settings(feed_max_bytes=4)
    ten_bytes = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 10))
    downloader = HttpFeedDownloader(conf, transport=ten_bytes)
    with pytest.raises(ConfigurationError, match=r"^feed https://93\.184\.216\.34/feeds/stock\.csv: larger than the "):
        downloader.download(PUBLIC, io.BytesIO(), what=WHAT)
    conf.feed_max_bytes = 100
    assert downloader.download(PUBLIC, io.BytesIO(), what=WHAT).size == 10

    private = "http://127.0.0.1:9/stock.csv"
    with pytest.raises(ConfigurationError) as exc:
        downloader.download(private, io.BytesIO(), what="feed x")
    assert str(exc.value) == ("feed x: not a public address: 127.0.0.1 is 127.0.0.1 (DROPBRIDGE_ALLOW_PRIVATE_HOSTS "
                              "allows private and loopback addresses)")
    conf.private_hosts_allowed = True
    assert downloader.download(private, io.BytesIO(), what="feed x").size == 10


def test_failures_are_classified_and_never_quote_the_answer():
    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            return httpx.Response(503, text="SECRET stack trace")
        if request.url.path == "/slow":
            raise httpx.ReadTimeout("slow", request=request)
        raise httpx.ConnectError("SECRET refused", request=request)

    downloader = HttpFeedDownloader(settings(), transport=httpx.MockTransport(serve))
    cases = {"/down": "feed: HTTP 503", "/slow": "feed: timed out (ReadTimeout)", "/gone": "feed: ConnectError"}
    for path, message in cases.items():
        with pytest.raises(RetryableError) as exc:
            downloader.download(f"https://93.184.216.34{path}", io.BytesIO(), what="feed")
        assert str(exc.value) == message
