"""The per-store request quota and authentication in front of every API call (storefronts.md §3.1, §3.6).

Every request costs one unit of a quota of `quota` per `window_ms`, shared by all callers; each answer
carries `X-Rate-Limit-Time-Window-Ms`, `-Time-Reset-Ms`, `-Requests-Quota` and `-Requests-Left`; over the
quota (or `throttle_next(n)`) it is 429 with those headers. Then `X-Auth-Token` (401) and the store hash
in the path (404). A pure ASGI wrapper: BaseHTTPMiddleware would add a delayed-ACK stall per call.
"""

from __future__ import annotations

import re
from typing import Any

API_PATH = re.compile(r"^/stores/([^/]+)/(v2|v3)(/.*)?$")


class Gate:
    def __init__(self, app: Any, emulator: Any):
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope, receive, send):
        match = API_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        denied, extra = self.emulator._gate(headers, match.group(1), match.group(2))
        if denied is not None:
            return await denied(scope, receive, send)

        async def stamped(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k.lower().encode(), v.encode()) for k, v in extra.items()
                ]
            await send(message)

        return await self.app(scope, receive, stamped)
