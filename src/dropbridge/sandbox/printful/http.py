"""Printful's envelopes, errors and rate limits, as the emulator answers them (contract 1.2, 1.3)."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from fastapi.responses import JSONResponse, Response

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
           409: "Conflict", 429: "TooManyRequests", 430: "InvalidJson", 431: "InvalidParameter"}


def v1(result: Any, status: int = 200, paging: dict | None = None, headers: dict | None = None) -> JSONResponse:
    """v1 success: {"code": 200, "result": ..., "paging"?} (1.2); `code` equals the HTTP status."""
    body: dict[str, Any] = {"code": status, "result": result}
    if paging is not None:
        body["paging"] = paging
    return JSONResponse(body, status, headers=headers)


def v2(data: Any, *, paging: dict | None = None, links: dict | None = None, extra: dict | None = None,
       status: int = 200) -> JSONResponse:
    """v2 success: {"data": ..., "paging"?, "_links"?} (1.2)."""
    body: dict[str, Any] = {"data": data}
    if paging is not None:
        body["paging"] = paging
    body.update(extra or {})
    if links is not None:
        body["_links"] = links
    return JSONResponse(body, status)


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    """The error envelope of both versions' 4xx answers in the published documents:
    {"code", "result": message, "error": {"reason", "message"}} (1.2: v2's 400/401/404 keep this shape)."""
    reason: Any = status if status in (403, 409) else REASONS.get(status, "BadRequest")  # 403/409: an integer there
    return JSONResponse({"code": status, "result": message, "error": {"reason": reason, "message": message}},
                        status, headers=headers)


def problem(status: int, title: str, detail: str, instance: str = "") -> JSONResponse:
    """v2 5xx: RFC 7807 ProblemDetails (1.2)."""
    return JSONResponse({"type": "https://developers.printful.com/docs/v2-beta/#section/Errors", "status": status,
                         "title": title, "details": detail, "instance": instance}, status)  # the documents
    # give these bodies as application/json


def server_error(path: str, status: int, message: str) -> Response:
    return problem(status, "Internal Server Error", message, path) if path.startswith("/v2/") \
        else error(status, message)


def paging(total: int, offset: int, limit: int) -> dict[str, int]:
    return {"total": total, "offset": offset, "limit": limit}


def page_links(base: str, path: str, total: int, offset: int, limit: int, query: str = "",
               previous: bool = True) -> dict[str, dict]:
    """HATEOAS links of a v2 list: self, first, last, and next/previous where they exist (`previous`: the
    list's schema has that link)."""
    def href(at: int) -> dict[str, str]:
        return {"href": f"{base}{path}?limit={limit}&offset={at}{query}"}
    links = {"self": href(offset)}
    last = max(0, (math.ceil(total / limit) - 1) * limit) if limit else 0
    if total > limit:
        links["first"] = href(0)
        links["last"] = href(last)
    if offset + limit < total:
        links["next"] = href(offset + limit)
    if offset > 0 and previous:
        links["previous"] = href(max(0, offset - limit))
    return links


class Bucket:
    """The v2 leaky (token) bucket (1.3): `limit` tokens, refilled at limit/window per second; an emptied bucket
    answers 429 with Retry-After. `lockout`: once refused, refuse everything for that many seconds (the
    catalog's and shipping rates' 60 s lockout)."""

    def __init__(self, limit: int, window: float = 60.0, lockout: float = 0.0):
        self.limit, self.window, self.lockout = limit, window, lockout
        self.rate = limit / window
        self._tokens = float(limit)
        self._at = time.monotonic()
        self._locked_until = 0.0
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, dict[str, str], float]:
        """(allowed, X-Ratelimit-* headers, seconds to wait when refused)."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.limit, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if now < self._locked_until:
                allowed, wait = False, self._locked_until - now
            elif self._tokens >= 1:
                self._tokens -= 1
                allowed, wait = True, 0.0
            else:
                allowed, wait = False, (1 - self._tokens) / self.rate
                if self.lockout:
                    self._locked_until = now + self.lockout
                    wait = self.lockout
            reset = (self.limit - self._tokens) / self.rate
            headers = {"X-Ratelimit-Policy": f"{self.limit};w={self.window:g};", "X-Ratelimit-Limit": str(self.limit),
                       "X-Ratelimit-Remaining": str(int(self._tokens)), "X-Ratelimit-Reset": f"{reset:.1f}"}
            return allowed, headers, wait
