"""HTTP to a headless store's backend: signed event POSTs, and the optional order list."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from dropbridge.connectors.kit import retry
from dropbridge.connectors.kit.http import build_client, send

from . import webhooks


class HeadlessClient:
    def __init__(
        self,
        event_url: str,
        secret: str,
        *,
        orders_url: str | None = None,
        api_token: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        clock: Callable[[], datetime],
        transport: httpx.BaseTransport | None = None,
        retry_policy: retry.RetryPolicy = retry.DEFAULT,
    ):
        self.retry = retry_policy
        self.event_url = event_url
        self.orders_url = orders_url
        self._secret = secret
        self._clock = clock
        headers = {"Accept": "application/json"}
        if api_token:
            headers["Authorization"] = f"Bearer {api_token}"
        self._http = build_client(headers=headers, timeout=timeout, transport=transport)

    def send_event(self, event_type: str, delivery_id: str, payload: Any) -> dict[str, Any]:
        # Sign the exact bytes we send: serialise once.
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(self._clock().timestamp())
        headers = webhooks.signed_headers(self._secret, event_type, delivery_id, raw, timestamp)
        # Safe to repeat: the store answers a repeated delivery id with its first result.
        response = retry.call(lambda: send(self._http, "POST", self.event_url, what=f"headless: {event_type}",
                                           content=raw, headers=headers), idempotent=True, policy=self.retry)
        return response.json() if response.content else {}

    def list_orders(self, cursor: str | None, since: datetime | None) -> dict[str, Any]:
        if not self.orders_url:
            return {"orders": [], "next_cursor": None}
        params: dict[str, str] = {}
        if cursor:
            params["cursor"] = cursor
        if since is not None:
            params["since"] = since.isoformat()
        return retry.call(lambda: send(self._http, "GET", self.orders_url, what="headless: list orders",
                                       params=params), idempotent=True, policy=self.retry).json()

    def close(self) -> None:
        self._http.close()
