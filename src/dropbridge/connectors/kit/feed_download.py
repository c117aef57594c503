"""Feed URLs over HTTP: the service layer's FeedDownloader (services/feed_port.py).

A feed URL is merchant data, so the fetch follows the one address policy (addresses.py: public addresses only
unless DROPBRIDGE_ALLOW_PRIVATE_HOSTS, every redirect hop checked), streams the body to the caller's file
(never held in memory, cut off past DROPBRIDGE_FEED_MAX_BYTES) and never quotes what the server answered.
Settings are read at each download, so a changed setting applies to the next fetch.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import httpx

from dropbridge.domain.errors import ConfigurationError, RetryableError
from dropbridge.services.feed_port import Downloaded

from .addresses import AddressPolicy, AddressRefused, open_checked
from .http import build_client, classify

CHUNK = 1 << 20


class HttpFeedDownloader:
    """`settings`: the deployment's Settings (address policy, `http_timeout_seconds`, `feed_max_bytes`);
    `transport`: an httpx transport for tests."""

    def __init__(self, settings: Any, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self.transport = transport

    def download(self, url: str, dest: BinaryIO, *, what: str, etag: str | None = None,
                 last_modified: str | None = None) -> Downloaded:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        timeout = getattr(self.settings, "http_timeout_seconds", None)
        max_bytes = getattr(self.settings, "feed_max_bytes", None)
        policy = AddressPolicy.from_settings(self.settings)
        with build_client(timeout=timeout, transport=self.transport) as client:
            try:
                with open_checked(client, url, policy, headers=headers) as resp:
                    if resp.status_code == 304:
                        return Downloaded(not_modified=True)
                    if not resp.is_success:
                        raise classify(resp, what, quote_body=False)
                    size = 0
                    for chunk in resp.iter_bytes(CHUNK):
                        size += len(chunk)
                        if max_bytes and size > max_bytes:  # the decompressed size is checked again by the reader
                            raise ConfigurationError(f"{what}: larger than the {max_bytes // (1024 * 1024)} MiB "
                                                     "limit (DROPBRIDGE_FEED_MAX_BYTES)")
                        dest.write(chunk)
                    return Downloaded(not_modified=False, etag=resp.headers.get("ETag"),
                                      last_modified=resp.headers.get("Last-Modified"), size=size)
            except AddressRefused as exc:
                raise ConfigurationError(f"{what}: {exc} (DROPBRIDGE_ALLOW_PRIVATE_HOSTS allows private and "
                                         "loopback addresses)") from None
            except httpx.TimeoutException as exc:
                raise RetryableError(f"{what}: timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise RetryableError(f"{what}: {type(exc).__name__}") from exc
