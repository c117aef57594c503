"""HTTP calls to CJdropshipping API 2.0; transport and the reply envelope only (translation is mapping.py).

Every reply is `{code, result, message, data, requestId}`: success is code 200 with result true, whatever the
HTTP status (contract 2.1, 7.1), so a reply is judged by its code through one table (ERRORS). Every call
draws from the account's rate budget first (contract 2.2: 1 to 6 requests a second by user level)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from dropbridge.connectors.kit.budget import RateBudget
from dropbridge.connectors.kit.http import build_client, classify, retry_after_seconds
from dropbridge.domain.errors import (
    AuthExpired,
    ConfigurationError,
    ExternalError,
    PermanentError,
    RateLimited,
    RetryableError,
)

BASE_URL = "https://developers.cjdropshipping.com/api2.0/v1"
# https://developers.cjdropshipping.cn/en/api/api2/api/auth.html
GET_ACCESS_TOKEN = "/authentication/getAccessToken"  # once per 5 minutes
REFRESH_ACCESS_TOKEN = "/authentication/refreshAccessToken"  # 5 times a minute
# https://developers.cjdropshipping.cn/en/api/api2/api/product.html
PRODUCT_LIST = "/product/listV2"  # page 1..1000, size 1..100
PRODUCT_QUERY = "/product/query"
VARIANT_QUERY = "/product/variant/query"
VARIANT_BY_VID = "/product/variant/queryByVid"
# https://developers.cjdropshipping.cn/en/api/api2/api/storage.html
STOCK_BY_PID = "/product/stock/getInventoryByPid"
STOCK_BY_VID = "/product/stock/queryByVid"
# https://developers.cjdropshipping.cn/en/api/api2/api/logistic.html
FREIGHT = "/logistic/freightCalculate"
# https://developers.cjdropshipping.cn/en/api/api2/api/shopping.html
CREATE_ORDER = "/shopping/order/createOrderV2"
ORDER_DETAIL = "/shopping/order/getOrderDetail"
DELETE_ORDER = "/shopping/order/deleteOrder"
# https://developers.cjdropshipping.cn/en/api/api2/api/webhook.html
WEBHOOK_SET = "/webhook/set"

OK = 200
QPS_LIMIT = 1600200  # [C] "Too Many Requests, QPS limit is 1 time/1second", HTTP 429, no Retry-After
# One table from CJ's codes (https://developers.cjdropshipping.cn/en/api/api2/standard/ps-code.html) to what
# to do next; a code not here is the other side saying no to this request.
ERRORS: dict[int, type[ExternalError] | type[ConfigurationError]] = {
    1600000: RetryableError,  # system busy: retry (CJ: at most 3 times)
    1600001: AuthExpired,  # invalid API key or access token
    1600002: AuthExpired,  # access token empty
    1600003: AuthExpired,  # invalid refresh token
    1600030: AuthExpired,  # token invalidation failed
    1600004: ConfigurationError,  # authorization failed: check the CJ account
    1600005: ConfigurationError,  # API key is wrong
    1600006: ConfigurationError,  # developer account not found
    1600008: ConfigurationError,  # authorization failed
    QPS_LIMIT: RateLimited,
}


class CjError(PermanentError):
    """CJ refused a request (a code outside the table): `code` and CJ's `message` say why."""

    def __init__(self, message: str, *, code: int, status: int | None = None):
        super().__init__(message, status=status)
        self.code = code


class CjClient:
    def __init__(self, base_url: str, *, budget: RateBudget, timeout: float | httpx.Timeout | None = None,
                 transport: httpx.BaseTransport | None = None):
        self._http = build_client(base_url.rstrip("/") or BASE_URL, timeout=timeout, transport=transport,
                                  headers={"Content-Type": "application/json", "Accept": "application/json"})
        self._budget = budget
        self.calls = 0

    def call(self, method: str, path: str, *, what: str, token: str | None = None,
             params: dict[str, Any] | None = None, body: Any = None) -> Any:
        """One request; returns the envelope's `data`, or raises the class ERRORS names (RateLimited with
        the wait, AuthExpired carrying the code)."""
        self._budget.acquire()
        headers = {"CJ-Access-Token": token} if token else {}
        self.calls += 1
        try:
            response = self._http.request(method, path, params=params, headers=headers,
                                          content=None if body is None else json.dumps(body))
        except httpx.TimeoutException as exc:  # the request may have been acted on: the caller looks it up
            raise RetryableError(f"{what}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"{what}: {type(exc).__name__}: {exc}") from exc
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "code" not in envelope:
            if response.is_success:
                raise RetryableError(f"{what}: HTTP {response.status_code} without CJ's envelope")
            raise classify(response, what)  # a gateway's own error page: the HTTP status is all there is
        code = _code(envelope.get("code"))
        if code == OK and envelope.get("result") is not False:
            return envelope.get("data")
        message = str(envelope.get("message") or "")[:300]
        text = f"{what}: CJ {code}: {message} (HTTP {response.status_code}, request {envelope.get('requestId')})"
        cls = ERRORS.get(code)
        if cls is RateLimited:
            # No retry header is documented; CJ counts by the second, so a second is the wait unless told.
            wait = retry_after_seconds(response.headers.get("Retry-After")) or 1.0
            raise RateLimited(text, status=response.status_code, retry_after=max(1.0, wait))
        if cls is ConfigurationError:
            raise ConfigurationError(text)
        if cls is not None:
            error = cls(text, status=response.status_code)
            error.code = code  # type: ignore[attr-defined]
            raise error
        if response.status_code >= 500:
            raise RetryableError(text, status=response.status_code)
        raise CjError(text, code=code, status=response.status_code)

    def close(self) -> None:
        self._http.close()


def _code(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
