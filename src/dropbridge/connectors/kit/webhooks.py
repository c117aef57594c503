"""What every webhook verifier needs: headers looked up regardless of case, HMAC compared in constant time,
and a timestamp checked against a tolerance (replays of old deliveries refused)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from dropbridge.domain.errors import WebhookRejected


def header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def required_header(headers: Mapping[str, str], name: str) -> str:
    value = header(headers, name)
    if not value:
        raise WebhookRejected(f"missing {name} header")
    return value


def hmac_digest(secret: str | bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def check_hmac(given: str, secret: str | bytes, message: bytes, *, encoding: str = "hex",
               algorithm: str = "sha256") -> None:
    """Raise WebhookRejected unless `given` is the HMAC of `message` (hex or base64), compared in constant time."""
    digest = hmac_digest(secret, message, algorithm)
    expected = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise WebhookRejected("signature does not match")


def check_timestamp(sent_at: datetime, now: datetime | None = None, tolerance_seconds: float = 300) -> None:
    """Refuse a delivery signed too long ago (or too far in the future): a replay, or a clock gone wrong."""
    now = now or datetime.now(UTC)
    if abs((now - sent_at).total_seconds()) > tolerance_seconds:
        raise WebhookRejected(f"timestamp {sent_at.isoformat()} outside the {tolerance_seconds:.0f} s tolerance")
