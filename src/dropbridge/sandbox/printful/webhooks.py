"""Printful's v2 webhooks as the emulator sends them (contract 1.9): one configuration per store (default
URL, per-event URLs, a public key and a secret key shown once), events as {type, occurred_at, retries,
store_id, data}, signed in `x-pf-webhook-signature` (hex HMAC-SHA256 of the raw body) with the config's
public key in `x-pf-webhook-public-key`. Deliveries that fail are retried with `retries` counting up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dropbridge.sandbox.kit import WebhookSender

SIGNATURE_HEADER = "x-pf-webhook-signature"
PUBLIC_KEY_HEADER = "x-pf-webhook-public-key"
EVENTS = ("shipment_sent", "shipment_returned", "shipment_out_of_stock", "order_created", "order_updated",
          "order_failed", "order_canceled", "catalog_stock_updated", "catalog_price_changed", "order_put_hold",
          "order_put_hold_approval", "order_remove_hold", "mockup_task_finished")


def new_keys() -> tuple[str, str]:
    """(public key, secret key): base64 and hex, the shapes of the published examples."""
    return base64.b64encode(secrets.token_bytes(9)).decode(), secrets.token_hex(64)


def signing_key(secret_key: str, encoding: str) -> bytes:
    """contract 1.9 [C]: community verifiers hex-decode `secret_key`; `encoding` "text" uses it as typed."""
    return bytes.fromhex(secret_key) if encoding == "hex" else secret_key.encode()


def sign(secret_key: str, raw_body: bytes, encoding: str = "hex") -> str:
    return hmac.new(signing_key(secret_key, encoding), raw_body, hashlib.sha256).hexdigest()


@dataclass
class WebhookConfig:
    default_url: str | None
    public_key: str
    secret_key: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # type -> {"url"?, "params"?}
    expires_at: str | None = None

    def url_for(self, event: str) -> str | None:
        if event not in self.events:
            return None
        return self.events[event].get("url") or self.default_url

    def products_watched(self) -> set[int] | None:
        """catalog_stock_updated fires only for the products named in its params."""
        params = self.events.get("catalog_stock_updated", {}).get("params") or []
        ids = {int(p["id"]) for param in params if param.get("name") == "products" for p in param.get("value", [])}
        return ids

    def describe(self, with_secret: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"default_url": self.default_url, "expires_at": self.expires_at,
                               "events": [{"type": t, **({"url": c["url"]} if c.get("url") else {}),
                                           **({"params": c["params"]} if c.get("params") else {})}
                                          for t, c in self.events.items()],
                               "public_key": self.public_key}
        if with_secret:
            out["secret_key"] = self.secret_key
        return out


class PrintfulSender(WebhookSender):
    """The kit's sender, but each attempt's body is built anew: Printful counts `retries` in the event."""

    def _attempt(self, delivery: dict[str, Any]) -> None:
        rebuild: Callable[[int], bytes] | None = delivery.get("rebuild")
        if rebuild is not None:
            delivery["body"] = rebuild(len(delivery["attempts"]))
        super()._attempt(delivery)


def event_body(event: str, store_id: int, data: Any, occurred_at: datetime) -> Callable[[int], bytes]:
    stamp = occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def build(retries: int) -> bytes:
        return json.dumps({"type": event, "occurred_at": stamp, "retries": retries, "store_id": store_id,
                           "data": data}, separators=(",", ":")).encode()
    return build
