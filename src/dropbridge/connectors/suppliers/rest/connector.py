"""`RestSupplier`: the Supplier protocol over a generic REST dropship API.

Exactly-once: `place_order` sends our idempotency key as `reference`; after a timeout the caller asks
`find_order(reference)` before any retry, because this API does not de-duplicate references itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from dropbridge.domain.errors import ConfigurationError, OutOfStock, PermanentError, WebhookRejected
from dropbridge.services.ports import (
    Fact,
    InboundEvent,
    PlacedOrder,
    ShipmentReported,
    SupplierOrderRequest,
    TrackingUpdate,
)

from . import mapping, webhooks
from .client import RestSupplierClient

SHIPPED = "order.shipped"


def _error_body(exc: Exception) -> dict[str, Any]:
    """The vendor error envelope, recovered from the message http.classify builds ("...: HTTP n: body")."""
    _, sep, body = str(exc).partition(f"HTTP {getattr(exc, 'status', '')}: ")
    if not sep:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


class RestSupplier:
    kind = "rest"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        webhook_secret: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        webhook_tolerance: float = webhooks.DEFAULT_TOLERANCE,
        clock: Callable[[], datetime] | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.client = RestSupplierClient(base_url, api_key, timeout=timeout, transport=transport)
        self.webhook_secret = webhook_secret
        self.webhook_tolerance = webhook_tolerance
        self._clock = clock or (lambda: datetime.now(UTC))

    def place_order(self, request: SupplierOrderRequest) -> PlacedOrder:
        try:
            order = self.client.create_order(mapping.order_request_to_json(request))
        except PermanentError as exc:
            # In this API a 409 on POST /orders is always a stock refusal.
            if exc.status == 409:
                error = _error_body(exc)
                sku = error.get("sku")
                raise OutOfStock(
                    f"supplier refused {request.reference}: {error.get('message') or 'out of stock'}"
                    + (f" (sku {sku})" if sku else ""),
                    status=409,
                ) from exc
            raise
        return mapping.placed_order_from_json(order)

    def find_order(self, reference: str) -> PlacedOrder | None:
        orders = self.client.orders_by_reference(reference)
        return mapping.placed_order_from_json(orders[0]) if orders else None

    def fetch_tracking(self, external_order_id: str, reference: str) -> list[TrackingUpdate]:
        return mapping.tracking_from_order(self.client.get_order(external_order_id), reference)

    def cancel_order(self, external_order_id: str) -> PlacedOrder:
        """Cancel before shipping; a shipped order raises PermanentError (409)."""
        return mapping.placed_order_from_json(self.client.cancel_order(external_order_id))

    def webhook_body_limit(self, headers: Mapping[str, str]) -> int | None:
        webhooks.precheck(headers)
        return None

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        if not self.webhook_secret:
            raise ConfigurationError("rest supplier has no webhook_secret configured")
        h = webhooks.verify_signature(
            self.webhook_secret, headers, raw_body, self._clock(), self.webhook_tolerance
        )
        try:
            payload = json.loads(raw_body)
        except ValueError:
            raise WebhookRejected("body is not JSON", status=400) from None
        if not isinstance(payload, dict) or not payload.get("type"):
            raise WebhookRejected("body is not an event object", status=400)
        event_id = str(payload.get("event_id") or h.get(webhooks.EVENT_ID_HEADER) or "")
        if not event_id:
            raise WebhookRejected("event has no id", status=400)
        return InboundEvent(
            event_id=event_id,
            topic=str(payload["type"]),
            payload=payload,
            occurred_at=mapping.parse_time(payload.get("created_at")),
        )

    def tracking_from_event(self, event: InboundEvent) -> list[TrackingUpdate]:
        order = event.payload.get("order") if isinstance(event.payload, dict) else None
        if event.topic != SHIPPED or not isinstance(order, dict):
            return []
        return mapping.tracking_from_order(order)

    def facts_from_event(self, event: InboundEvent) -> list[Fact]:
        return [ShipmentReported(update) for update in self.tracking_from_event(event)]

    def close(self) -> None:
        self.client.close()


def from_config(base_url: str, credentials: dict[str, Any], config: dict[str, Any]) -> RestSupplier:
    """Registry entry. credentials: "api_key", "webhook_secret" (optional);
    config: "timeout" seconds, "webhook_tolerance" seconds (both optional)."""
    api_key = credentials.get("api_key")
    if not api_key:
        raise ConfigurationError("rest supplier needs credentials['api_key']")
    timeout = config.get("timeout")
    return RestSupplier(
        base_url,
        api_key,
        webhook_secret=credentials.get("webhook_secret"),
        timeout=float(timeout) if timeout is not None else None,
        webhook_tolerance=float(config.get("webhook_tolerance", webhooks.DEFAULT_TOLERANCE)),
    )
