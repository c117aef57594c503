"""How we authenticate to WooCommerce (storefronts.md §2.1).

WooCommerce reads HTTP Basic and `?consumer_key=&consumer_secret=` only when WordPress sees TLS
(`is_ssl()`); otherwise it requires OAuth 1.0a one-legged signatures, and it checks them against the
address it believes it has, scheme included. So:

- `auto` (default): Basic over https, OAuth 1.0a over http;
- `basic`: Basic always (a site that sees TLS although we reach it over http);
- `query`: keys in the query string, for https servers that strip the Authorization header;
- `oauth1`: OAuth 1.0a always, signed for the `http://` address: a site behind a TLS-terminating proxy
  that does not tell WordPress about TLS ignores Basic and signs its side with http.

Signing is oauthlib's (RFC 5849), with WooCommerce's choices: no token, key `consumer_secret&`,
parameters in the Authorization header, query parameters included in the signature, HMAC-SHA256.
"""

from __future__ import annotations

from collections.abc import Generator
from urllib.parse import urlsplit, urlunsplit

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER, Client

from dropbridge.domain.errors import ConfigurationError

AUTH_MODES = ("auto", "basic", "query", "oauth1")
FORM = "application/x-www-form-urlencoded"


class WooCommerceOAuth1(httpx.Auth):
    """Signs every request (each retry with a fresh nonce and timestamp). `sign_as_http` signs the
    request's address with the http scheme, as WordPress behind a TLS-terminating proxy computes it."""

    def __init__(self, consumer_key: str, consumer_secret: str, *, sign_as_http: bool = False,
                 signature_method: str = SIGNATURE_HMAC_SHA256):
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.sign_as_http = sign_as_http
        self.signature_method = signature_method

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = str(request.url)
        if self.sign_as_http:
            parts = urlsplit(url)
            host = parts.netloc[:-4] if parts.scheme == "https" and parts.netloc.endswith(":443") else parts.netloc
            url = urlunsplit(("http", host, parts.path, parts.query, parts.fragment))
        client = Client(self.consumer_key, client_secret=self.consumer_secret,
                        signature_method=self.signature_method, signature_type=SIGNATURE_TYPE_AUTH_HEADER)
        # A form body's fields are signed too; a JSON body is not (§2.1: "the body is not signed").
        is_form = request.headers.get("content-type", "").startswith(FORM)
        body = request.content.decode() if is_form and request.content else None
        _, headers, _ = client.sign(url, http_method=request.method, body=body,
                                    headers={"Content-Type": FORM} if body is not None else None)
        request.headers["Authorization"] = headers["Authorization"]
        yield request


def client_auth(mode: str, base_url: str, consumer_key: str, consumer_secret: str) -> httpx.Auth | tuple | None:
    """The httpx auth for a mode; None for `query` (the keys go in the query string)."""
    if mode not in AUTH_MODES:
        raise ConfigurationError(f"woocommerce auth must be one of {', '.join(AUTH_MODES)}, not {mode!r}")
    if mode == "auto":
        mode = "basic" if urlsplit(base_url).scheme == "https" else "oauth1"
        if mode == "oauth1":
            return WooCommerceOAuth1(consumer_key, consumer_secret)
    if mode == "basic":
        return (consumer_key, consumer_secret)
    if mode == "oauth1":
        return WooCommerceOAuth1(consumer_key, consumer_secret, sign_as_http=True)
    return None
