"""Verifying Printful's v2 webhooks (contract 1.9): `x-pf-webhook-signature` is the hex HMAC-SHA256 of the raw
body under the configuration's secret key, `x-pf-webhook-public-key` names the configuration.

Whether the secret keys the HMAC as typed or hex-decoded is not documented; independent verifiers decode it
(contract [C]), so that is tried first and the text form second, unless the merchant fixed one. v1 webhooks
carry no signature and are refused. Deliveries are retried for up to 1024 minutes with the same
`occurred_at`, so no timestamp tolerance applies: a replay is a duplicate of a stored event instead."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from dropbridge.connectors.kit.webhooks import check_hmac, header, required_header
from dropbridge.domain.errors import WebhookRejected

SIGNATURE_HEADER = "x-pf-webhook-signature"
PUBLIC_KEY_HEADER = "x-pf-webhook-public-key"


def signing_keys(secret: str, encoding: str | None) -> list[bytes]:
    keys = []
    if encoding in (None, "hex"):
        try:
            keys.append(bytes.fromhex(secret))
        except ValueError:
            if encoding == "hex":
                raise WebhookRejected("webhook_secret is not hex, but webhook_key_encoding says it is") from None
    if encoding in (None, "text"):
        keys.append(secret.encode())
    return keys


def verify(secret: str, headers: Mapping[str, str], raw_body: bytes, *, public_key: str | None = None,
           encoding: str | None = None) -> None:
    signature = required_header(headers, SIGNATURE_HEADER)
    if public_key is not None and header(headers, PUBLIC_KEY_HEADER) != public_key:
        raise WebhookRejected("event is signed for another webhook configuration (public key differs)")
    for key in signing_keys(secret, encoding):
        try:
            check_hmac(signature.lower(), key, raw_body)
            return
        except WebhookRejected:
            continue
    raise WebhookRejected("signature does not match")


def event_id(payload: dict[str, Any]) -> str:
    """Printful's events carry no id; every delivery of one event has the same type, time, store and data
    (only `retries` counts up), so those identify it."""
    stable = {k: payload.get(k) for k in ("type", "occurred_at", "store_id", "data")}
    digest = hashlib.sha256(json.dumps(stable, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"{payload.get('type')}:{digest[:40]}"
