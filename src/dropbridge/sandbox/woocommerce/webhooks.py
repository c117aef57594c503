"""WooCommerce webhooks (storefronts.md §2.2), delivered through the kit's sender.

- A new active webhook is pinged with an unsigned form body `webhook_id=<id>` (no X-WC headers).
- Deliveries are asynchronous and coalesced per (webhook, resource) while one is pending; the body is
  the resource's JSON built when it is sent (its current state); `*.deleted` topics send `{"id": ...}`.
- Headers `X-WC-Webhook-Source`, `-Topic`, `-Resource`, `-Event`, `-Signature` (base64 HMAC-SHA256 of
  the body with the webhook's secret), `-ID`, `-Delivery-ID` (a hash of id and send time, unique per send).
- No retries. HTTP 200-302 is success and resets `failure_count`; anything else counts a failure, and
  after more than `max_delivery_failures` the webhook becomes `disabled`.
- Deleting a webhook needs `force=true`: webhooks cannot be trashed (501 otherwise).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from typing import Any

from .errors import WooError, woo_json
from .shapes import now, wp_date

TOPICS = {f"{r}.{e}" for r in ("order", "product") for e in ("created", "updated", "deleted", "restored")}
# https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-webhook.php
TOPIC_HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded", "woocommerce_delete_order_refund"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}
USER_AGENT = "WooCommerce/9.0.0 Hookshot (WordPress/6.5)"


def sign(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body, keyed by the webhook secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WebhooksMixin:
    # ---- in-process --------------------------------------------------------------------------

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every send, pings included: {"webhook_id", "topic", "status", "resource_id", "delivery_id"}."""
        out = []
        for d in self.sender.records():
            if d["dropped"] or not d["attempts"]:
                continue
            attempt = d["attempts"][-1]
            out.append({"webhook_id": d["webhook_id"], "topic": d["topic"],
                        "status": attempt["outcome"] if isinstance(attempt["outcome"], int) else None,
                        "resource_id": d["resource_id"],
                        "delivery_id": attempt["headers"].get("X-WC-Webhook-Delivery-ID")})
        return out

    def wait_deliveries(self, timeout: float = 5.0) -> None:
        """Block until no delivery is queued or pending."""
        if not self.sender.wait_idle(timeout):
            raise TimeoutError("webhook deliveries still pending")

    # ---- API ---------------------------------------------------------------------------------

    def _hook_view(self, hook: dict[str, Any], base: str | None = None) -> dict[str, Any]:
        api = f"{(base or self.site_url).rstrip('/')}/wp-json/wc/v3"
        view = {k: copy.deepcopy(v) for k, v in hook.items() if k not in ("secret", "failure_count")}
        view["_links"] = {"self": [{"href": f"{api}/webhooks/{hook['id']}"}],
                          "collection": [{"href": f"{api}/webhooks"}]}
        return view

    def _create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        topic = body.get("topic")
        if topic not in TOPICS and not str(topic or "").startswith("action."):
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): topic",
                           params={"topic": "Webhook topic unknown."})
        if not body.get("delivery_url"):
            raise WooError(400, "rest_missing_callback_param", "Missing parameter(s): delivery_url",
                           params=["delivery_url"])
        self._hook_seq += 1
        stamp = wp_date(now())
        resource, _, event = str(topic).partition(".")
        hook = {
            "id": self._hook_seq, "name": body.get("name") or f"Webhook created on {stamp}",
            "status": body.get("status", "active"), "topic": topic, "resource": resource, "event": event,
            "hooks": list(TOPIC_HOOKS.get(topic, [event] if resource == "action" else [])),
            "delivery_url": body["delivery_url"],
            "secret": body.get("secret") or hashlib.sha256(b"user-1").hexdigest(),  # §2.2: derived from the user
            "failure_count": 0, "date_created": stamp, "date_created_gmt": stamp, "date_modified": stamp,
            "date_modified_gmt": stamp,
        }
        self.webhooks[hook["id"]] = hook
        if self.send_ping and hook["status"] == "active":
            self.sender.send(hook["delivery_url"], f"webhook_id={hook['id']}".encode(),
                             lambda body, attempt: {"Content-Type": "application/x-www-form-urlencoded",
                                                    "User-Agent": USER_AGENT},
                             retry_delays=(), webhook_id=hook["id"], topic="ping", resource_id=None)
        return hook

    def _update_webhook(self, hook: dict[str, Any], body: dict[str, Any]) -> None:
        for name in ("name", "delivery_url", "secret"):
            if body.get(name):
                hook[name] = body[name]
        if "status" in body:
            if body["status"] not in ("active", "paused", "disabled"):
                raise WooError(400, "rest_invalid_param", "Invalid parameter(s): status",
                               params={"status": "status is not one of active, paused, disabled."})
            hook["status"] = body["status"]
            if body["status"] == "active":
                hook["failure_count"] = 0
        hook["date_modified"] = hook["date_modified_gmt"] = wp_date(now())

    def _delete_webhook(self, hook_id: int, force: bool) -> dict[str, Any]:
        if not force:
            raise WooError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
        hook = self.webhooks.pop(hook_id, None)
        if hook is None:
            raise WooError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        return hook

    # ---- delivery ----------------------------------------------------------------------------

    def _trigger(self, resource: str, event: str, resource_id: int) -> None:
        topic = f"{resource}.{event}"
        for hook in self.webhooks.values():
            if hook["status"] != "active" or hook["topic"] != topic:
                continue
            key = (hook["id"], resource_id)
            if key in self._pending:
                continue  # coalesced: the pending delivery will carry the current state
            self._pending.add(key)
            self.sender.send(hook["delivery_url"], self._payload(hook["id"], resource_id),
                             self._signed_headers(hook["id"]), delay=self.delivery_delay,
                             on_outcome=self._count_failures, webhook_id=hook["id"], topic=topic,
                             resource_id=resource_id)

    def _payload(self, hook_id: int, resource_id: int):
        def build() -> bytes | None:
            with self._lock:
                self._pending.discard((hook_id, resource_id))
                hook = self.webhooks.get(hook_id)
                if hook is None or hook["status"] != "active":
                    return None
                resource, _, event = hook["topic"].partition(".")
                if event == "deleted":
                    payload: Any = {"id": resource_id}
                elif resource == "order":
                    order = self.orders.get(resource_id)
                    if order is None:
                        return None
                    payload = self._order_view(order)
                else:
                    product = self.products.get(resource_id)
                    if product is None:
                        return None
                    payload = self._product_view(product)
                return json.dumps(woo_json(payload), separators=(",", ":"), ensure_ascii=False).encode()
        return build

    def _signed_headers(self, hook_id: int):
        def headers(body: bytes, attempt: int) -> dict[str, str]:
            with self._lock:
                hook = self.webhooks[hook_id]
                resource, _, event = hook["topic"].partition(".")
                return {
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    "X-WC-Webhook-Source": self.site_url,
                    "X-WC-Webhook-Topic": hook["topic"],
                    "X-WC-Webhook-Resource": resource,
                    "X-WC-Webhook-Event": event,
                    "X-WC-Webhook-Signature": sign(hook["secret"], body),
                    "X-WC-Webhook-ID": str(hook_id),
                    "X-WC-Webhook-Delivery-ID": hashlib.md5(f"{hook_id}{time.time_ns()}".encode()).hexdigest(),
                }
        return headers

    def _count_failures(self, delivery: dict[str, Any], outcome: int | str) -> None:
        with self._lock:
            hook = self.webhooks.get(delivery["webhook_id"])
            if hook is None:
                return
            if isinstance(outcome, int) and 200 <= outcome <= 302:
                hook["failure_count"] = 0
            else:
                hook["failure_count"] += 1
                if hook["failure_count"] > self.max_delivery_failures:
                    hook["status"] = "disabled"
