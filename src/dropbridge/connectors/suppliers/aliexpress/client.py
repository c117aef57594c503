"""Signed calls to the AliExpress Open Platform gateway (IOP); no translation here (that is mapping.py).

Business methods go to `/sync` with the method name as the `method` parameter; system methods (token
renewal) to `/rest` + their path (shared/contracts/suppliers.md 3.1). Every parameter (system and business)
travels form-encoded in the POST body, as the official SDK sends them, signed as signing.py says. Errors in
the envelope are raised as our error classes (errors.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from dropbridge.connectors.kit.budget import RateBudget
from dropbridge.connectors.kit.http import build_client, send
from dropbridge.domain.errors import RetryableError

from . import errors
from .signing import SDK_VERSION, sign

# https://openservice.aliexpress.com/doc/doc.htm#/?docId=1388 (API endpoint URLs)
SYNC = "/sync"
REST = "/rest"


class IopClient:
    def __init__(self, base_url: str, app_key: str, app_secret: str, *, budget: RateBudget,
                 timeout: float | httpx.Timeout | None = None, transport: httpx.BaseTransport | None = None,
                 clock_ms: Callable[[], int] | None = None):
        self.app_key = app_key
        self._secret = app_secret
        self._budget = budget
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._http = build_client(base_url.rstrip("/"), headers={"Accept": "application/json"}, timeout=timeout,
                                  transport=transport)

    def signed_params(self, api: str, params: dict[str, Any], token: str | None) -> dict[str, str]:
        out = {"app_key": self.app_key, "sign_method": "sha256", "timestamp": str(self._clock_ms()),
               "partner_id": SDK_VERSION, "method": api, "simplify": "false", "format": "json"}
        if token:
            out["session"] = token
        out.update({k: str(v) for k, v in params.items() if v is not None})
        out["sign"] = sign(self._secret, api, out)
        return out

    def post(self, api: str, params: dict[str, Any], *, token: str | None, what: str) -> dict[str, Any]:
        """One signed call; the decoded body. Raises a classified error for an error envelope."""
        self._budget.acquire()
        url = REST + api if api.startswith("/") else SYNC
        response = send(self._http, "POST", url, what=what, data=self.signed_params(api, params, token))
        try:
            body = response.json()
        except ValueError:
            raise RetryableError(f"{what}: the gateway answered {response.text[:120]!r}, not JSON") from None
        if not isinstance(body, dict):
            raise RetryableError(f"{what}: the gateway answered {str(body)[:120]!r}")
        if isinstance(body.get("error_response"), dict):
            raise errors.from_error(body["error_response"], what, response.status_code)
        if api.startswith("/") and str(body.get("code", "0")) != "0":  # /rest answers errors flat
            raise errors.from_error(body, what, response.status_code)
        return body

    def close(self) -> None:
        self._http.close()
