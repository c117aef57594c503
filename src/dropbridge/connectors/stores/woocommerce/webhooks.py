"""Verifying WooCommerce webhooks.

WooCommerce signs `X-WC-Webhook-Signature = base64(HMAC-SHA256(webhook secret, raw body))` and sends
no timestamp header. Its `X-WC-Webhook-Delivery-ID` is a hash of (webhook id, send time): unique per
send, useless for de-duplication. WooCommerce never retries, and builds the body when it sends it (the
resource's current state), so the de-duplication key is

    "{X-WC-Webhook-ID}:{resource}:{resource id}:{sha256(raw body)}"

Same subscription and same bytes means the same information: a replayed or duplicated delivery maps to
the key already stored and is dropped downstream, while a delivery that carries a newer state (even
within the same second of `date_modified_gmt`) gets its own key. As a second guard against replaying
captured deliveries, a body whose `date_modified_gmt` is older than `max_age` is rejected (the periodic
pull picks up anything a legitimately late delivery would have carried).

The unsigned ping WooCommerce posts when a webhook is created (form body `webhook_id=<id>`, no X-WC
headers) is accepted as a "ping" event that carries nothing, so receivers answer it 200.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dropbridge.domain.errors import WebhookRejected
from dropbridge.services.ports import InboundEvent

from .mapping import parse_gmt

PING_BODY = re.compile(rb"^webhook_id=(\d+)$")
PING_MAX_BYTES = 64  # "webhook_id=<digits>" and some whitespace
DEFAULT_MAX_AGE = timedelta(hours=1)


def signature(secret: str, raw_body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def precheck(headers: Mapping[str, str]) -> int | None:
    """Before reading the body: a signed delivery may use the server's limit; an unsigned request can only be
    the creation ping, a few bytes (anything else unsigned is refused unread)."""
    if _header(headers, "X-WC-Webhook-Signature") is not None:
        return None
    if _header(headers, "X-WC-Webhook-Topic") is None:
        return PING_MAX_BYTES
    raise WebhookRejected("missing X-WC-Webhook-Signature")


def verify(
    headers: Mapping[str, str],
    raw_body: bytes,
    secret: str,
    *,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> InboundEvent:
    given = _header(headers, "X-WC-Webhook-Signature")
    if given is None:
        ping = PING_BODY.match(raw_body.strip())
        if ping and _header(headers, "X-WC-Webhook-Topic") is None:
            return InboundEvent(event_id=f"ping:{ping.group(1).decode()}", topic="ping", payload=None, keep=False)
        raise WebhookRejected("missing X-WC-Webhook-Signature")
    if not secret:
        raise WebhookRejected("no webhook secret configured")
    if not hmac.compare_digest(signature(secret, raw_body).encode(), given.strip().encode()):
        raise WebhookRejected("bad X-WC-Webhook-Signature")
    topic = _header(headers, "X-WC-Webhook-Topic") or ""
    webhook_id = _header(headers, "X-WC-Webhook-ID") or ""
    if not topic or not webhook_id:
        raise WebhookRejected("missing X-WC-Webhook-Topic or X-WC-Webhook-ID", status=400)
    try:
        payload = json.loads(raw_body, parse_float=Decimal)
    except ValueError:
        raise WebhookRejected("body is not JSON", status=400) from None
    resource = topic.split(".", 1)[0]
    resource_id = ""
    modified = None
    if isinstance(payload, dict):
        resource_id = str(payload.get("id") or payload.get("arg") or "")
        try:
            modified = parse_gmt(payload.get("date_modified_gmt"))
        except (TypeError, ValueError):
            raise WebhookRejected("unreadable date_modified_gmt", status=400) from None
    if max_age is not None and modified is not None and now() - modified > max_age:
        raise WebhookRejected(f"stale delivery: {resource} {resource_id} last modified {modified.isoformat()}")
    digest = hashlib.sha256(raw_body).hexdigest()
    return InboundEvent(
        event_id=f"{webhook_id}:{resource}:{resource_id}:{digest}",
        topic=topic,
        payload=payload,
        occurred_at=modified,
    )
