"""BigCommerce's error envelopes (storefronts.md §3.8), for every error, unknown routes and bad ids
included: v3 `{"status", "title", "type", "errors"}` (application/problem+json for validation), v2 a bare
array `[{"status", "message"}]`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
NOT_FOUND_V2 = "The requested resource was not found."
NOT_FOUND_V3 = "The requested resource was not found."


class BcError(Exception):
    def __init__(self, status: int, title: str, errors: dict[str, Any] | None = None):
        super().__init__(title)
        self.status = status
        self.title = title
        self.errors = errors or {}


def v3_error(status: int, title: str, errors: dict[str, Any] | None = None, headers=None) -> Response:
    body = {"status": status, "title": title, "type": ERROR_TYPE, "errors": errors or {}}
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def v2_error(status: int, message: str, headers=None) -> Response:
    return JSONResponse([{"status": status, "message": message}], status, headers=headers)


def is_v2(path: str) -> bool:
    return "/v2/" in path or path.endswith("/v2")


def respond(request: Request, exc: BcError) -> Response:
    if is_v2(request.url.path):
        return v2_error(exc.status, exc.title)
    return v3_error(exc.status, exc.title, exc.errors)


def routing_error(request: Request, status: int, why: str) -> Response:
    """The kit's hook: an unknown route or an id that is not a number is 404; a wrong method 405."""
    if status == 405:
        title = "The requested method is not allowed for this resource."
    elif status == 404:
        title = NOT_FOUND_V2
    else:
        title = "The request was not valid."
    return respond(request, BcError(status, title))
