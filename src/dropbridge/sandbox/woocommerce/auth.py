"""WooCommerce REST authentication, as `WC_REST_Authentication` does it (storefronts.md §2.1).

- Only when WordPress sees TLS (`is_ssl()`; the emulator's `ssl` setting, as a site served on https or
  behind a proxy that sets HTTPS=on) does it read `?consumer_key=&consumer_secret=` (first) or HTTP Basic.
  A wrong secret there is 401 "Consumer secret is invalid."; an unknown key falls through.
- Then, over http or https alike, OAuth 1.0a one-legged: the five `oauth_*` parameters from the query
  string, a form body or an `Authorization: OAuth ...` header; HMAC-SHA1 or HMAC-SHA256 keyed with
  `consumer_secret&`; the base string `METHOD&enc(url)&enc(sorted params)` where the url's scheme is the
  one WordPress believes (https only with TLS), its host the site's, and the params every query and form
  parameter; a timestamp within 15 minutes; a nonce used once per key.
- No credentials at all is not an error here: the route's permission check answers 401 then.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote_plus

from .errors import WooError

OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
VALID_WINDOW = 15 * 60  # seconds either side of now, for timestamps and remembered nonces
_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')


@dataclass
class ApiKey:
    consumer_key: str
    consumer_secret: str
    permissions: str  # read | write | read_write
    nonces: dict[str, float] = field(default_factory=dict)  # nonce -> timestamp


def _rfc3986(text: str) -> str:
    return quote(text, safe="-._~")


def _auth_error(message: str) -> WooError:
    return WooError(401, "woocommerce_rest_authentication_error", message)


class Authenticator:
    def __init__(self, keys: dict[str, ApiKey], *, ssl: Callable[[], bool], clock: Callable[[], float] = time.time):
        self.keys = keys
        self.ssl = ssl
        self.clock = clock
        self._lock = threading.Lock()

    def authenticate(self, method: str, scheme_host: str, path: str, query: str, headers: dict[str, str],
                     form: dict[str, str]) -> ApiKey | None:
        """The key the request authenticates as, None when it carries no credentials WooCommerce reads;
        raises WooError for credentials that are wrong. `scheme_host` is the site's "host[:port]"."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        if self.ssl():
            key = self._basic(params, headers)
            if key is not None:
                return key
        return self._oauth(method, scheme_host, path, params, headers, form)

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication-over-https
    def _basic(self, params: dict[str, str], headers: dict[str, str]) -> ApiKey | None:
        ck = cs = ""
        if params.get("consumer_key") and params.get("consumer_secret"):
            ck, cs = params["consumer_key"], params["consumer_secret"]
        if not ck:
            header = headers.get("authorization", "")
            if header[:6].lower() == "basic ":
                try:
                    ck, _, cs = base64.b64decode(header[6:].strip()).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    ck = cs = ""
        if not ck or not cs:
            return None
        key = self.keys.get(ck)
        if key is None:
            return None  # falls through to OAuth, which finds no parameters
        if not hmac.compare_digest(key.consumer_secret, cs):
            raise _auth_error("Consumer secret is invalid.")
        return key

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication-over-http
    def _oauth(self, method: str, host: str, path: str, params: dict[str, str], headers: dict[str, str],
               form: dict[str, str]) -> ApiKey | None:
        given = {**params, **form}
        header = headers.get("authorization", "").strip()
        if header.startswith("OAuth "):
            for m in _HEADER_PARAM.finditer(header):
                given[m.group(1)] = unquote_plus(m.group(3) if m.group(3) else m.group(4))
        missing = [p for p in OAUTH_PARAMS if not given.get(p)]
        if len(missing) == len(OAUTH_PARAMS):
            return None
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            raise WooError(401, "woocommerce_rest_authentication_missing_parameter",
                           f"Missing OAuth {noun} {', '.join(missing)}")
        key = self.keys.get(given["oauth_consumer_key"])
        if key is None:
            raise _auth_error("Consumer key is invalid.")
        signature = given.pop("oauth_signature").replace(" ", "+")
        url = ("https" if self.ssl() else "http") + "://" + host + path
        pairs = sorted((_rfc3986(k), _rfc3986(v)) for k, v in given.items())
        normalized = "&".join(f"{k}={v}" for k, v in pairs)
        base = f"{method.upper()}&{_rfc3986(url)}&{_rfc3986(normalized)}"
        algorithm = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}.get(given["oauth_signature_method"])
        if algorithm is None:
            raise _auth_error("Invalid signature - signature method is invalid.")
        expected = base64.b64encode(hmac.new(f"{key.consumer_secret}&".encode(), base.encode(), algorithm).digest())
        if not hmac.compare_digest(expected.decode(), signature):
            raise _auth_error("Invalid signature - provided signature does not match.")
        self._check_timestamp_and_nonce(key, given["oauth_timestamp"], given["oauth_nonce"])
        return key

    def _check_timestamp_and_nonce(self, key: ApiKey, timestamp: str, nonce: str) -> None:
        now = self.clock()
        try:
            when = int(timestamp)
        except ValueError:
            when = 0
        if when < now - VALID_WINDOW or when > now + VALID_WINDOW:
            raise _auth_error("Invalid timestamp.")
        with self._lock:
            if nonce in key.nonces:
                raise _auth_error("Invalid nonce - nonce has already been used.")
            key.nonces[nonce] = when
            for old, at in list(key.nonces.items()):
                if at < now - VALID_WINDOW:
                    del key.nonces[old]
