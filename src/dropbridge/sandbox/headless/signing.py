"""Signed events both ways: `X-Dropbridge-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.".encode()
+ raw_body)>` with `X-Dropbridge-Timestamp` (unix seconds, 300 s tolerance) and `X-Dropbridge-Delivery`
(the idempotency key) and `X-Dropbridge-Event` (the event type)."""

from __future__ import annotations

import hashlib
import hmac

TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
