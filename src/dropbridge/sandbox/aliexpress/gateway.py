"""What the IOP gateway does before a method runs, and the envelopes it answers in
(shared/contracts/suppliers.md 3.1 and 3.2; the emulator's own code, independent of the connector's, so a
signing mistake on either side shows).

- Parameters come from the query string and the form body alike (the SDK posts them all as a form; other
  clients put system parameters in the URL).
- `sign`: HMAC-SHA256 (`sign_method=sha256`) of the sorted `key+value` pairs (every parameter but `sign`),
  with the API path in front for a system (path-style) API, as uppercase hex; `sign_method=md5` (legacy TOP:
  MD5 of secret + pairs + secret) is accepted too.
- Business methods want the access token as `session` (the SDK) or `access_token` (many clients) [C].
- Errors answer with HTTP 200 and `{"error_response": {"type", "code", "msg", "sub_code", "sub_msg",
  "request_id"}}` on /sync; the /rest system paths answer flat `{"type", "code", "message", "request_id"}`.
  Error codes: IncompleteSignature, MissingParameter, InvalidApiPath, IllegalAccessToken, ApiCallLimit ("Api
  access frequency exceeds the limit. this ban will last N seconds", ds.product.get FAQ) [C].
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse

_request_ids = itertools.count(1)


def request_id() -> str:
    return f"2140e{int(time.time() * 1000):013d}{next(_request_ids) % 100000:05d}"


async def all_params(request: Request) -> dict[str, str]:
    """Query string and form body together (the body wins on a clash)."""
    params = dict(request.query_params)
    body = await request.body()
    if body:
        kind = request.headers.get("content-type", "")
        if "json" in kind:
            return params  # the gateway takes forms; a JSON body carries no parameters
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def expected_sign(secret: str, api: str, params: dict[str, str], method: str) -> str | None:
    pairs = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign")
    text = (api + pairs) if "/" in api else pairs
    if method == "sha256":
        return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    if method == "md5":
        return hashlib.md5(f"{secret}{text}{secret}".encode()).hexdigest().upper()
    return None


def signature_ok(secret: str, api: str, params: dict[str, str]) -> bool:
    wanted = expected_sign(secret, api, params, params.get("sign_method", ""))
    return wanted is not None and hmac.compare_digest(wanted, params.get("sign", "").upper())


class GatewayError(Exception):
    def __init__(self, code: str, msg: str, *, kind: str = "ISV", sub_code: str = "", sub_msg: str = "",
                 status: int = 200):
        super().__init__(msg)
        self.code, self.msg, self.kind, self.sub_code, self.sub_msg, self.status = \
            code, msg, kind, sub_code, sub_msg, status


def error_response(exc: GatewayError, *, rest: bool = False) -> JSONResponse:
    if rest:
        body: dict[str, Any] = {"type": exc.kind, "code": exc.code, "message": exc.msg, "request_id": request_id()}
    else:
        inner = {"type": exc.kind, "code": exc.code, "msg": exc.msg, "request_id": request_id()}
        if exc.sub_code:
            inner["sub_code"] = exc.sub_code
        if exc.sub_msg:
            inner["sub_msg"] = exc.sub_msg
        body = {"error_response": inner}
    return JSONResponse(body, exc.status)


def method_response(method: str, payload: dict[str, Any]) -> JSONResponse:
    """A /sync success: `{"<method with dots as underscores>_response": {..., "request_id"}}`."""
    key = method.replace(".", "_") + "_response"
    return JSONResponse({key: {**payload, "request_id": request_id()}})


def missing(name: str) -> GatewayError:
    return GatewayError("MissingParameter", f"The input parameter \u201c{name}\u201d that is mandatory for "
                                            "processing this request is not supplied.")


def throttled(seconds: float) -> GatewayError:
    return GatewayError("ApiCallLimit", "Api access frequency exceeds the limit. this ban will last "
                                        f"{max(1, round(seconds))} seconds")
