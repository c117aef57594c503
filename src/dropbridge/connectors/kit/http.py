"""The one place that builds outbound HTTP clients and turns failures into our error classes.

Every call has an explicit timeout. Secrets never reach logs: headers named in REDACT are masked.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from dropbridge.domain.errors import (
    AuthExpired,
    ExternalError,
    PermanentError,
    RateLimited,
    RetryableError,
)
from dropbridge.services.redaction import redact_url

log = structlog.get_logger("dropbridge.http")

REDACT = {
    "authorization",
    "x-auth-token",
    "x-shopify-access-token",
    "x-api-key",
    "cj-access-token",
    "x-dropbridge-signature",
}
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

# One table from HTTP status to what to do next (convention 4).
STATUS_CLASS: dict[int, type[ExternalError]] = {
    401: AuthExpired,
    403: AuthExpired,
    408: RetryableError,
    409: PermanentError,
    425: RetryableError,
    429: RateLimited,
}


def build_client(
    base_url: str = "",
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    elif not isinstance(timeout, httpx.Timeout):
        timeout = httpx.Timeout(timeout, connect=min(5.0, timeout))
    return httpx.Client(
        base_url=base_url,
        headers=dict(headers or {}),
        timeout=timeout,
        auth=auth,
        transport=transport,
        follow_redirects=False,
    )


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in REDACT else v) for k, v in headers.items()}


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse Retry-After as seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def classify(response: httpx.Response, what: str, *, quote_body: bool = True) -> ExternalError:
    """The error class for a failed response. `quote_body=False` for fetches merchant data can steer (feed
    URLs): what a server we were pointed at answered never reaches an error, a log or an alert."""
    status = response.status_code
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    cls = STATUS_CLASS.get(status)
    if cls is None:
        cls = RetryableError if status >= 500 else PermanentError
    if not quote_body:
        return cls(f"{what}: HTTP {status}", status=status, retry_after=retry_after)
    body = response.text[:300]
    return cls(f"{what}: HTTP {status}: {body}", status=status, retry_after=retry_after)


def send(client: httpx.Client, method: str, url: str, *, what: str, accept: tuple[int, ...] = (),
         **kwargs: Any) -> httpx.Response:
    """Send one request; return a 2xx response (or one whose status the caller reads itself: `accept`, such as a
    batch's partial success) or raise a classified error.

    A timeout or a reset after the request left means the outcome is unknown: RetryableError,
    and the caller must look the write up before repeating it.
    """
    started = time.monotonic()
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise RetryableError(f"{what}: timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise RetryableError(f"{what}: {type(exc).__name__}: {exc}") from exc
    log.debug(
        "http",
        what=what,
        method=method,
        url=redact_url(str(response.request.url.copy_with(query=None))),
        status=response.status_code,
        ms=round((time.monotonic() - started) * 1000, 1),
    )
    if response.is_success or response.status_code in accept:
        return response
    raise classify(response, what)
