"""Webhook subscriptions and deliveries (storefronts.md §1.2).

Each event is delivered once per subscription to its topic, all with the same `X-Shopify-Event-Id`;
`X-Shopify-Webhook-Id` stays the same across retries of one (subscription, event) unless
`webhook_id_stable_across_retries` is off ([U]). The body is serialised once and retries resend it with
the original `X-Shopify-Triggered-At` (§1.2, §4). The HMAC is re-computed per attempt with the client
secret of the moment. `webhook_duplicates` sends extra identical copies, as Shopify sometimes does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from .graphql import GraphQLError
from .values import _connection, _iso_utc, _uerr, gid, gid_number, sort_keyed

# WebhookSubscriptionTopic enum -> X-Shopify-Topic (§1.2)
TOPICS = {
    "ORDERS_CREATE": "orders/create",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_UPDATED": "orders/updated",
    "ORDERS_CANCELLED": "orders/cancelled",
    "REFUNDS_CREATE": "refunds/create",
    "ORDERS_FULFILLED": "orders/fulfilled",
    "ORDERS_PARTIALLY_FULFILLED": "orders/partially_fulfilled",
    "APP_UNINSTALLED": "app/uninstalled",
    "INVENTORY_LEVELS_UPDATE": "inventory_levels/update",
}


def sign_webhook(secret: str, raw_body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body, keyed by the app client secret."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


class WebhooksMixin:
    def _m_webhook_create(self, a: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"__typename": "WebhookSubscriptionCreatePayload", "webhookSubscription": None,
                                   "userErrors": []}
        topic = a.get("topic")
        sub = a.get("webhookSubscription") or {}
        if topic not in TOPICS:
            raise GraphQLError(f"Argument 'topic' on Field 'webhookSubscriptionCreate' has an invalid value "
                               f"({topic}). Expected type 'WebhookSubscriptionTopic!'.", "argumentLiteralsIncompatible")
        if "uri" in sub and self.request_version < "2025-10":
            raise GraphQLError("InputObject 'WebhookSubscriptionInput' doesn't accept argument 'uri'",
                               "argumentNotAccepted")
        uri = sub.get("uri") or sub.get("callbackUrl")
        if not uri or not re.match(r"^(https?://|pubsub://|arn:aws:events:)", str(uri)):
            payload["userErrors"] = [_uerr(["webhookSubscription", "callbackUrl"], "Address is invalid")]
            return payload
        if any(s["topic"] == topic and s["uri"] == uri for s in self.subscriptions.values()):
            payload["userErrors"] = [_uerr(["webhookSubscription", "callbackUrl"],
                                           "Address for this topic has already been taken")]
            return payload
        sid = gid("WebhookSubscription", self._new_id())
        self.subscriptions[sid] = {"id": sid, "topic": topic, "uri": uri, "format": sub.get("format", "JSON"),
                                   "createdAt": _iso_utc(datetime.now(UTC))}
        payload["webhookSubscription"] = self._subscription_obj(sid)
        return payload

    def _m_webhook_delete(self, a: dict[str, Any]) -> dict[str, Any]:
        sid = a.get("id")
        if self.subscriptions.pop(sid, None) is None:
            return {"__typename": "WebhookSubscriptionDeletePayload", "deletedWebhookSubscriptionId": None,
                    "userErrors": [_uerr(["id"], "Webhook subscription does not exist")]}
        return {"__typename": "WebhookSubscriptionDeletePayload", "deletedWebhookSubscriptionId": sid,
                "userErrors": []}

    def _subscription_obj(self, sid: str) -> dict[str, Any] | None:
        s = self.subscriptions.get(sid)
        if s is None:
            return None
        obj = {"__typename": "WebhookSubscription", "__implements": ("Node",), "id": s["id"], "topic": s["topic"],
               "callbackUrl": s["uri"], "format": s["format"], "createdAt": s["createdAt"],
               "updatedAt": s["createdAt"], "includeFields": [], "metafieldNamespaces": [], "filter": None,
               "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": s["uri"]}}
        if self.request_version >= "2025-10":  # §1.2: `uri` from 2025-10
            obj["uri"] = s["uri"]
        return obj

    def _q_subscriptions(self, a: dict[str, Any]) -> dict[str, Any]:
        keys = {"ID": lambda s: 0, "CREATED_AT": lambda s: s["createdAt"]}
        keyed = sort_keyed(list(self.subscriptions.values()), a, keys, "webhookSubscriptions",
                           lambda s: gid_number(s["id"]))
        return _connection([(k, self._subscription_obj(s["id"])) for k, s in keyed], a,
                           "WebhookSubscriptionConnection", self.max_page)

    def subscribe(self, topic: str, uri: str) -> str:
        """In-process subscription (as if made through the API)."""
        with self._lock:
            sid = gid("WebhookSubscription", self._new_id())
            self.subscriptions[sid] = {"id": sid, "topic": topic, "uri": uri, "format": "JSON",
                                       "createdAt": _iso_utc(datetime.now(UTC))}
            return sid

    def _emit(self, topic: str, resource: dict[str, Any]) -> None:
        """Queue one event's deliveries: one per subscription, all with the same Event-Id."""
        subs = [s for s in self.subscriptions.values() if s["topic"] == topic and s["uri"].startswith("http")]
        if not subs:
            return
        event_id = str(uuid.uuid4())
        triggered = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = json.dumps(resource, separators=(",", ":")).encode()  # serialized once: retries resend it
        for sub in subs:
            for copy_no in range(1 + self.webhook_duplicates):
                webhook_id = str(uuid.uuid4())
                self.sender.send(sub["uri"], body, self._headers_for(TOPICS[topic], event_id, webhook_id, triggered),
                                 event_id=event_id, subscription=sub["id"], uri=sub["uri"], topic=TOPICS[topic],
                                 webhook_id=webhook_id, triggered_at=triggered, copy=copy_no)

    def _headers_for(self, topic: str, event_id: str, webhook_id: str, triggered: str):
        def headers(body: bytes, attempt: int) -> dict[str, str]:
            wid = webhook_id if (attempt == 0 or self.webhook_id_stable_across_retries) else str(uuid.uuid4())
            return {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign_webhook(self.client_secret, body),
                "X-Shopify-Shop-Domain": self.domain,
                "X-Shopify-API-Version": self.api_version,
                "X-Shopify-Webhook-Id": wid,
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered,
            }
        return headers

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery: subscription, uri, topic, event_id, webhook_id, triggered_at, copy, attempts
        (each {at, outcome, headers}), done, gave_up."""
        return self.sender.records()
