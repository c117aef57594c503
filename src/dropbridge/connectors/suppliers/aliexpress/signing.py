"""Request signing of the AliExpress Open Platform (IOP), as the official IOP SDK does it
(`iop-sdk-python-20220609`, `sign()`; shared/contracts/suppliers.md 3.1):

1. every parameter except `sign` (system and business alike, `method` included), nulls dropped;
2. sorted by key (ASCII);
3. `key + value` concatenated with no separator;
4. for a system (REST, path-style) API such as `/auth/token/refresh`, the API path in front;
5. HMAC-SHA256 keyed with the app secret, written as uppercase hex.

The legacy TOP scheme (`sign_method=md5`: uppercase MD5 of secret + the same string + secret) is here too:
the gateway still accepts it, so the emulator verifies both; dropbridge itself signs with sha256."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

SDK_VERSION = "iop-sdk-python-20220609"  # what the official SDK sends as partner_id
SIGN_METHODS = ("sha256", "md5")


def string_to_sign(api: str, params: Mapping[str, Any]) -> str:
    body = "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign" and params[key] is not None)
    return api + body if "/" in api else body


def sign(secret: str, api: str, params: Mapping[str, Any], method: str = "sha256") -> str:
    """The `sign` value for `params` sent to `api` (a method name such as aliexpress.ds.product.get, or a
    system path such as /auth/token/refresh)."""
    text = string_to_sign(api, params)
    if method == "sha256":
        return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    if method == "md5":
        return hashlib.md5(f"{secret}{text}{secret}".encode()).hexdigest().upper()
    raise ValueError(f"unknown sign_method {method!r}; one of {', '.join(SIGN_METHODS)}")


def verify(secret: str, api: str, params: Mapping[str, Any]) -> bool:
    """True when `params["sign"]` is what `secret` makes of them (constant-time compare)."""
    given = str(params.get("sign") or "")
    method = str(params.get("sign_method") or "")
    if not given or method not in SIGN_METHODS:
        return False
    return hmac.compare_digest(given.upper().encode(), sign(secret, api, params, method).encode())
