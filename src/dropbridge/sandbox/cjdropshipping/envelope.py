"""CJ's reply envelope on every route, unknown ones included (contract 2.1): `{code, result, message, data,
requestId}`, success being code 200 with result true whatever the HTTP status says."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse

OK = 200
SYSTEM_BUSY = 1600000
INVALID_TOKEN = 1600001  # "Invalid API key or access token"
TOKEN_EMPTY = 1600002
INVALID_REFRESH = 1600003
WRONG_API_KEY = 1600005
PARAM_ERROR = 1600100  # the docs' own error example (product.html): "Param error"
TOO_MANY = 1600200  # [C] "Too Many Requests, QPS limit is 1 time/1second", seen with HTTP 429
# [U] codes the contract does not list: this emulator's choice, named so tests say which they mean.
OUT_OF_STOCK = 1603001
ORDER_STATE = 1603002
NOT_FOUND = 1603003
BALANCE = 1603004


def ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": OK, "result": True, "message": "Success", "data": data,
                         "requestId": str(uuid.uuid4())})


def error(code: int, message: str, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "result": False, "message": message, "data": None,
                         "requestId": str(uuid.uuid4())}, status_code=status, headers=headers)
