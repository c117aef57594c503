"""The signature scheme of dropbridge's headless events, both ways.

`X-Dropbridge-Signature: sha256=<hex HMAC-SHA256(secret, f"{X-Dropbridge-Timestamp}.".encode() + body)>`,
timestamp in unix seconds; `X-Dropbridge-Delivery` is the idempotency key / event id and
`X-Dropbridge-Event` the type. A receiver rejects timestamps more than `tolerance` seconds from now.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from dropbridge.domain.errors import WebhookRejected

EVENT_HEADER = "X-Dropbridge-Event"
DELIVERY_HEADER = "X-Dropbridge-Delivery"
TIMESTAMP_HEADER = "X-Dropbridge-Timestamp"
SIGNATURE_HEADER = "X-Dropbridge-Signature"
DEFAULT_TOLERANCE = 300.0


def sign(secret: str, timestamp: int, raw_body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, event_type: str, delivery_id: str, raw_body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        EVENT_HEADER: event_type,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, raw_body),
    }


def precheck(headers: Mapping[str, str]) -> None:
    """Before reading the body: a delivery without signature and timestamp is refused unread."""
    h = {str(k).lower() for k, v in headers.items() if v}
    if SIGNATURE_HEADER.lower() not in h or TIMESTAMP_HEADER.lower() not in h:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")


def verify(
    secret: str,
    headers: Mapping[str, str],
    raw_body: bytes,
    now: datetime,
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[str, str, int]:
    """Raise WebhookRejected unless the event is fresh and signed; return (event id, type, timestamp)."""
    h = {str(k).lower(): v for k, v in headers.items()}  # any Mapping, any header case
    signature = h.get(SIGNATURE_HEADER.lower())
    stamp = h.get(TIMESTAMP_HEADER.lower())
    if not signature or not stamp:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    try:
        timestamp = int(stamp.strip())
    except ValueError:
        raise WebhookRejected(f"{TIMESTAMP_HEADER} is not unix seconds: {stamp[:40]!r}") from None
    age = now.timestamp() - timestamp
    if abs(age) > tolerance:
        raise WebhookRejected(f"timestamp {timestamp} is {age:.0f}s from now (tolerance {tolerance:.0f}s)")
    if not hmac.compare_digest(signature.strip().encode(), sign(secret, timestamp, raw_body).encode()):
        raise WebhookRejected("signature does not match")
    delivery = (h.get(DELIVERY_HEADER.lower()) or "").strip()
    event_type = (h.get(EVENT_HEADER.lower()) or "").strip()
    if not delivery or not event_type:
        raise WebhookRejected(f"missing {DELIVERY_HEADER} or {EVENT_HEADER}", status=400)
    return delivery, event_type, timestamp
