"""Signing and verifying a generic REST supplier's webhooks.

`X-Signature: sha256=<hex HMAC-SHA256(secret, f"{X-Timestamp}.".encode() + raw_body)>`; the timestamp
is unix seconds and must be within `tolerance` seconds of now, so a captured delivery cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from dropbridge.domain.errors import WebhookRejected

SIGNATURE_HEADER = "x-signature"
TIMESTAMP_HEADER = "x-timestamp"
EVENT_ID_HEADER = "x-event-id"
DEFAULT_TOLERANCE = 300.0


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: Starlette Headers or a plain dict in any case."""
    return {str(k).lower(): v for k, v in headers.items()}


def sign(secret: str, timestamp: int, raw_body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def precheck(headers: Mapping[str, str]) -> None:
    """Before reading the body: a delivery without signature and timestamp is refused unread."""
    h = lower_headers(headers)
    if not h.get(SIGNATURE_HEADER) or not h.get(TIMESTAMP_HEADER):
        raise WebhookRejected("missing X-Signature or X-Timestamp")


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    raw_body: bytes,
    now: datetime,
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, str]:
    """Raise WebhookRejected unless signature and timestamp hold; return the lower-cased headers."""
    h = lower_headers(headers)
    signature = h.get(SIGNATURE_HEADER)
    stamp = h.get(TIMESTAMP_HEADER)
    if not signature or not stamp:
        raise WebhookRejected("missing X-Signature or X-Timestamp")
    try:
        timestamp = int(stamp.strip())
    except ValueError:
        raise WebhookRejected(f"X-Timestamp is not unix seconds: {stamp[:40]!r}") from None
    age = now.timestamp() - timestamp
    if abs(age) > tolerance:
        raise WebhookRejected(f"timestamp {timestamp} is {age:.0f}s from now (tolerance {tolerance:.0f}s)")
    if not hmac.compare_digest(signature.strip().encode(), sign(secret, timestamp, raw_body).encode()):
        raise WebhookRejected("signature does not match")
    return h
