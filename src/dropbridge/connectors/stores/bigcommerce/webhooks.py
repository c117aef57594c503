"""Verifying BigCommerce webhooks (Standard Webhooks).

`webhook-signature` is a space-separated list of `v1,<base64(HMAC-SHA256(client secret,
"{webhook-id}.{webhook-timestamp}.{raw body}"))>`; the key is the raw UTF-8 client secret. A
`webhook-timestamp` further than `tolerance` from now (either way) is rejected, so a captured delivery
cannot be replayed later. The de-duplication key is the payload `hash`: BigCommerce puts the same hash on
both bodies when a hook fires twice for one event, and retries keep it too (they also keep
`webhook-id`, the fallback when a payload has no hash). The payload's `producer` must name our store:
one app's client secret signs the hooks of every store that installed it.
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

DEFAULT_TOLERANCE = timedelta(minutes=5)


def signature(client_secret: str, webhook_id: str, timestamp: str, raw_body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + raw_body
    return base64.b64encode(hmac.new(client_secret.encode(), signed, hashlib.sha256).digest()).decode()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def precheck(headers: Mapping[str, str]) -> None:
    """Before reading the body: a delivery without the signature headers is refused unread."""
    if not all(_header(headers, name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")):
        raise WebhookRejected("missing webhook-id, webhook-timestamp or webhook-signature")


def verify(
    headers: Mapping[str, str],
    raw_body: bytes,
    client_secret: str,
    *,
    store_hash: str | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> InboundEvent:
    webhook_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    given = _header(headers, "webhook-signature")
    if not webhook_id or not timestamp or not given:
        raise WebhookRejected("missing webhook-id, webhook-timestamp or webhook-signature")
    if not client_secret:
        raise WebhookRejected("no client secret configured")
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookRejected("unreadable webhook-timestamp") from None
    expected = signature(client_secret, webhook_id, timestamp, raw_body).encode()
    matched = False
    for candidate in given.split():
        version, _, sig = candidate.partition(",")
        # Compare every candidate: no early exit that would time which one matched.
        if version == "v1" and hmac.compare_digest(expected, sig.encode()):
            matched = True
    if not matched:
        raise WebhookRejected("bad webhook-signature")
    if abs(now() - sent_at) > tolerance:
        raise WebhookRejected(f"webhook-timestamp {sent_at.isoformat()} is outside the {tolerance} tolerance")
    try:
        payload = json.loads(raw_body)
    except ValueError:
        raise WebhookRejected("body is not JSON", status=400) from None
    if not isinstance(payload, dict) or "scope" not in payload:
        raise WebhookRejected("not a BigCommerce webhook payload", status=400)
    if store_hash and payload.get("producer") not in (None, f"stores/{store_hash}"):
        raise WebhookRejected(f"webhook for another store: {payload.get('producer')}")
    created = payload.get("created_at")
    occurred = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else sent_at
    return InboundEvent(
        event_id=str(payload.get("hash") or webhook_id),
        topic=str(payload["scope"]),
        payload=payload,
        occurred_at=occurred,
    )
