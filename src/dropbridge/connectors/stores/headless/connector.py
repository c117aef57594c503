"""`HeadlessStore`: the Storefront protocol for a headless store that receives our signed events.

Every write is one signed POST whose `X-Dropbridge-Delivery` header is our idempotency key, so a
retry after a timeout is answered by the store with its original result instead of a second effect.
Orders come to us through our own REST API (or, optionally, the store's order list and signed events).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from dropbridge.connectors.kit import retry
from dropbridge.domain.errors import ConfigurationError, ValidationError, WebhookRejected
from dropbridge.services.ports import (
    ExternalOrder,
    Fulfillment,
    InboundEvent,
    Page,
    PriceUpdate,
    ProductDraft,
    PublishedProduct,
    PushResult,
    StockUpdate,
)

from . import mapping, webhooks
from .client import HeadlessClient

STOCK_BATCH = 500  # the store's documented maximum per stock.updated (and prices.updated) call
ORDER_TOPICS = {"order.created": False, "order.cancelled": True}  # topic -> cancelled


class HeadlessStore:
    platform = "headless"

    def __init__(
        self,
        event_url: str,
        secret: str,
        *,
        orders_url: str | None = None,
        api_token: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        webhook_tolerance: float = webhooks.DEFAULT_TOLERANCE,
        clock: Callable[[], datetime] | None = None,
        transport: httpx.BaseTransport | None = None,
        retry_policy: retry.RetryPolicy = retry.DEFAULT,
    ):
        if not secret:
            raise ConfigurationError("headless store needs a webhook_secret")
        self._clock = clock or (lambda: datetime.now(UTC))
        self._secret = secret
        self.webhook_tolerance = webhook_tolerance
        self.client = HeadlessClient(
            event_url,
            secret,
            orders_url=orders_url,
            api_token=api_token,
            timeout=timeout,
            clock=self._clock,
            transport=transport,
            retry_policy=retry_policy,
        )

    # ---- inbound -----------------------------------------------------------------------------

    def webhook_body_limit(self, headers: Mapping[str, str]) -> int | None:
        webhooks.precheck(headers)
        return None

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        delivery, topic, timestamp = webhooks.verify(
            self._secret, headers, raw_body, self._clock(), self.webhook_tolerance
        )
        try:
            payload = json.loads(raw_body)
        except ValueError:
            raise WebhookRejected("body is not JSON", status=400) from None
        return InboundEvent(
            event_id=delivery,
            topic=topic,
            payload=payload,
            occurred_at=datetime.fromtimestamp(timestamp, UTC),
        )

    def order_from_event(self, event: InboundEvent) -> ExternalOrder | None:
        if event.topic not in ORDER_TOPICS:
            return None
        return mapping.order_from_payload(event.payload, cancelled=ORDER_TOPICS[event.topic])

    def fetch_orders(self, cursor: str | None = None, since: datetime | None = None) -> Page[ExternalOrder]:
        """The store's order list when configured (`orders_url`); headless stores usually push instead."""
        if not self.client.orders_url:
            return Page(items=[])
        body = self.client.list_orders(cursor, since)
        orders = []
        for i, raw in enumerate(body.get("orders") or []):
            try:
                orders.append(mapping.order_from_payload(raw))
            except ValidationError as exc:
                # Loud, not skipped: a silently dropped order is a customer who never gets a parcel.
                raise ValidationError(f"orders[{i}]: {exc}", field=f"orders[{i}].{exc.field}") from exc
        return Page(items=orders, next_cursor=body.get("next_cursor") or None)

    # ---- outbound ----------------------------------------------------------------------------

    def push_stock(self, updates: list[StockUpdate], idempotency_key: str) -> PushResult:
        """One call per 500 updates, keyed f"{key}:{n}" (n from 1) so a repeated push re-applies nothing."""
        return self._send_batches("stock.updated", updates, idempotency_key, mapping.stock_batch_to_json)

    def push_prices(self, updates: list[PriceUpdate], idempotency_key: str) -> PushResult:
        """`prices.updated`, one call per 500 updates, keyed like stock."""
        return self._send_batches("prices.updated", updates, idempotency_key, mapping.price_batch_to_json)

    def _send_batches(self, topic: str, updates: list, idempotency_key: str, to_json) -> PushResult:
        calls = applied = 0
        for start in range(0, len(updates), STOCK_BATCH):
            calls += 1
            result = self.client.send_event(topic, f"{idempotency_key}:{calls}",
                                            to_json(updates[start : start + STOCK_BATCH]))
            applied += int(result.get("applied", 0))
        return PushResult(calls=calls, applied=applied)

    def push_fulfillment(self, fulfillment: Fulfillment, idempotency_key: str) -> str:
        result = self.client.send_event(
            "fulfillment.created", idempotency_key, mapping.fulfillment_to_json(fulfillment)
        )
        return str(result["fulfillment_id"])

    def publish_product(self, product: ProductDraft, idempotency_key: str) -> PublishedProduct:
        result = self.client.send_event("product.published", idempotency_key, mapping.product_to_json(product))
        return mapping.published_from_json(result)

    def subscribe_webhooks(self, uri: str) -> list[str]:
        """Nothing to subscribe: a headless store posts its orders to our API."""
        return []

    def close(self) -> None:
        self.client.close()


def from_config(base_url: str, credentials: dict[str, Any], config: dict[str, Any]) -> HeadlessStore:
    """Registry entry. base_url: the store's event URL; credentials: "webhook_secret", "api_token"
    (optional, for orders_url); config: "orders_url", "timeout", "webhook_tolerance" (all optional)."""
    secret = credentials.get("webhook_secret")
    if not secret:
        raise ConfigurationError("headless store needs credentials['webhook_secret']")
    timeout = config.get("timeout")
    return HeadlessStore(
        base_url,
        secret,
        orders_url=config.get("orders_url") or None,
        api_token=credentials.get("api_token"),
        timeout=float(timeout) if timeout is not None else None,
        webhook_tolerance=float(config.get("webhook_tolerance", webhooks.DEFAULT_TOLERANCE)),
    )
