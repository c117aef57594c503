"""Verify Shopify webhook deliveries.

https://shopify.dev/docs/apps/build/webhooks/verify-deliveries : X-Shopify-Hmac-Sha256 is
base64(HMAC-SHA256(app client secret, raw body)), compared in constant time.
https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates : X-Shopify-Event-Id is the same on
every delivery of one event (and on each subscription's copy), so it is our de-duplication key.

Staleness. Retries resend the original body and the original X-Shopify-Triggered-At, for up to 4 hours
(8 retries; https://shopify.dev/changelog/updates-to-webhook-retry-mechanism). The default window is
24 hours: it must exceed that retry horizon with room for our own downtime and clock skew, since a
rejected retry is an order we only recover through the periodic pull (and repeated failures make
Shopify delete the subscription); and it bounds how long a captured delivery could be replayed, which the
event-id de-duplication (kept at least that long) absorbs anyway. Timestamps more than 5 minutes in the
future are rejected as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from dropbridge.domain.errors import WebhookRejected
from dropbridge.services.ports import InboundEvent

DEFAULT_MAX_AGE = timedelta(hours=24)
DEFAULT_FUTURE_SKEW = timedelta(minutes=5)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def expected_signature(secret: str, raw_body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def precheck(headers: Mapping[str, str]) -> None:
    """Before reading the body: a delivery without a signature is refused unread."""
    if not _header(headers, "X-Shopify-Hmac-Sha256"):
        raise WebhookRejected("missing X-Shopify-Hmac-Sha256", status=401)


def verify(
    headers: Mapping[str, str],
    raw_body: bytes,
    secrets: list[str],
    *,
    shop_domain: str | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    future_skew: timedelta = DEFAULT_FUTURE_SKEW,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> InboundEvent:
    """Return the verified event or raise WebhookRejected (401 bad signature, 400 malformed or stale).

    `secrets` lists every key that may sign (during a client-secret rotation Shopify takes up to an hour
    to switch), newest first.
    """
    signature = _header(headers, "X-Shopify-Hmac-Sha256")
    if not signature:
        raise WebhookRejected("missing X-Shopify-Hmac-Sha256", status=401)
    usable = [s for s in secrets if s]
    if not usable:
        raise WebhookRejected("no webhook secret configured", status=401)
    given = signature.strip().encode()
    if not any(hmac.compare_digest(expected_signature(s, raw_body).encode(), given) for s in usable):
        raise WebhookRejected("X-Shopify-Hmac-Sha256 does not match the body", status=401)
    # Only signed deliveries reach this point; the checks below are about freshness and identity.
    domain = _header(headers, "X-Shopify-Shop-Domain")
    if shop_domain and (domain or "").lower() != shop_domain.lower():
        # One app secret signs for every shop the app is installed on.
        raise WebhookRejected(f"delivery for shop {domain!r}, expected {shop_domain!r}", status=401)
    topic = _header(headers, "X-Shopify-Topic")
    if not topic:
        raise WebhookRejected("missing X-Shopify-Topic", status=400)
    event_id = _header(headers, "X-Shopify-Event-Id") or _header(headers, "X-Shopify-Webhook-Id")
    if not event_id:
        raise WebhookRejected("missing X-Shopify-Event-Id", status=400)
    triggered_raw = _header(headers, "X-Shopify-Triggered-At")
    if not triggered_raw:
        raise WebhookRejected("missing X-Shopify-Triggered-At", status=400)
    try:
        triggered = datetime.fromisoformat(triggered_raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRejected(f"unreadable X-Shopify-Triggered-At {triggered_raw!r}", status=400) from None
    if triggered.tzinfo is None:
        triggered = triggered.replace(tzinfo=UTC)
    current = now()
    if triggered < current - max_age:
        raise WebhookRejected(f"stale delivery: triggered at {triggered_raw}, older than {max_age}", status=400)
    if triggered > current + future_skew:
        raise WebhookRejected(f"delivery triggered in the future ({triggered_raw})", status=400)
    try:
        payload = json.loads(raw_body)
    except ValueError:
        raise WebhookRejected("body is not JSON", status=400) from None
    return InboundEvent(event_id=event_id, topic=topic, payload=payload, occurred_at=triggered.astimezone(UTC))
