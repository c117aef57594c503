"""WooCommerce's error envelope (storefronts.md §2.8): `{"code", "message", "data": {"status", ...}}`,
for every error, unknown routes included (404 `rest_no_route`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

NO_ROUTE = "No route was found matching the URL and request method"


class WooError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.data = data

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self), "data": {"status": self.status, **self.data}}


def woo_json(obj: Any) -> Any:
    """Decimals become JSON numbers, as PHP floats do (shortest round-trip form)."""
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, dict):
        return {k: woo_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [woo_json(v) for v in obj]
    return obj


def as_json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(woo_json(obj), status, headers=headers)


def error(status: int, code: str, message: str, **data: Any) -> Response:
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}}, status)


def routing_error(request: Request, status: int, why: str) -> Response:
    """The kit's hook: WordPress answers an unknown path, a wrong method or a non-numeric id alike."""
    if status in (404, 405):
        return error(404, "rest_no_route", NO_ROUTE)
    return error(400, "rest_invalid_param", "Invalid parameter(s)")
