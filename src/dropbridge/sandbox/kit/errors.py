"""Errors in the emulated platform's own envelope, never FastAPI's `{"detail": ...}`.

A real platform matches routes by pattern (WooCommerce's `products/(?P<id>[\\d]+)`), so a path that is
not one of its routes, or whose id is not a number, is "no such route" there: 404 in its envelope. A
method a route does not take is 404 on WordPress and 405 elsewhere; each emulator says which. Query and
body validation stays in the emulators' own code, which answers in the envelope itself.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

# (request, HTTP status, why) -> the platform's error response
ErrorResponder = Callable[[Request, int, str], Response]


def install_error_envelope(app: FastAPI, respond: ErrorResponder, *, method_not_allowed: int = 405) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def routing_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return respond(request, method_not_allowed, "method not allowed")
        return respond(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        # Path parameters that fail their type are routes the platform does not have.
        if any(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
            return respond(request, 404, "no route")
        return respond(request, 400, "invalid request")
