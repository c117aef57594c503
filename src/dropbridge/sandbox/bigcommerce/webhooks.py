"""v3 webhooks (storefronts.md §3.2), delivered through the kit's sender.

Payloads are thin: `{scope, store_id, data: {type, id}, hash, created_at, producer}`; a duplicate fire
carries the same `hash`. Each delivery is signed the Standard Webhooks way, `webhook-id` (stable across
retries), `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256(client_secret,
"{id}.{timestamp}.{body}")>` (§3.2 [V]; the header names themselves are [U] in BigCommerce's docs), plus the
hook's custom `headers` (§3.2: send both). A non-2xx answer is retried after each of `retry_intervals`;
after the last the hook becomes `is_active: false`. `duplicate_deliveries` sends each event twice.
`store/order/created` also fires for incomplete (status 0) orders.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from .errors import BcError

# §3.2: 60 s ... 86400 s, about 48 h in all
REAL_RETRY_INTERVALS = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)


def sign(client_secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks v1 signature, keyed by the raw client-secret bytes."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(client_secret.encode(), signed, hashlib.sha256).digest()).decode()


def scope_matches(pattern: str, scope: str) -> bool:
    if pattern.endswith("/*"):
        return scope.startswith(pattern[:-1])
    return pattern == scope


class WebhooksMixin:
    # ---- in-process --------------------------------------------------------------------------

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """One row per attempt: {"hook_id", "scope", "webhook_id", "hash", "attempt", "status"}."""
        rows = []
        for d in self.sender.records():
            for n, attempt in enumerate(d["attempts"]):
                rows.append({"hook_id": d["hook_id"], "scope": d["scope"], "webhook_id": d["webhook_id"],
                             "hash": d["hash"], "attempt": n,
                             "status": attempt["outcome"] if isinstance(attempt["outcome"], int) else None})
        return rows

    def wait_deliveries(self, timeout: float = 5.0) -> None:
        if not self.sender.wait_idle(timeout):
            raise TimeoutError("webhook deliveries still scheduled")

    # ---- API ---------------------------------------------------------------------------------

    def _create_hook(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("scope") or not body.get("destination"):
            raise BcError(422, "JSON data is missing or invalid", {"scope": "required", "destination": "required"})
        now = int(time.time())
        same = [h for h in self.hooks.values() if h["scope"] == body["scope"]]
        if any(h["destination"] == body["destination"] for h in same):
            raise BcError(409, "A hook with this scope and destination already exists")
        if len(same) >= 10:  # §3.2: at most 10 per store, client and scope
            raise BcError(422, "Maximum of 10 hooks per scope reached")
        hook = {"id": self._next_id(), "client_id": self.client_id, "store_hash": self.store_hash,
                "scope": body["scope"], "destination": body["destination"],
                "is_active": bool(body.get("is_active", True)), "events_history_enabled": False,
                "headers": body.get("headers") or {}, "created_at": now, "updated_at": now}
        self.hooks[hook["id"]] = hook
        return copy.deepcopy(hook)

    def _update_hook(self, hook: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        for name in ("scope", "destination", "is_active", "headers", "events_history_enabled"):
            if name in body:
                hook[name] = body[name]
        hook["updated_at"] = int(time.time())
        return copy.deepcopy(hook)

    # ---- delivery ----------------------------------------------------------------------------

    def _fire(self, scope: str, data: dict[str, Any]) -> None:
        self._event_seq += 1
        digest = hashlib.sha1(f"{self.store_hash}|{self._event_seq}|{scope}|{json.dumps(data)}".encode()).hexdigest()
        payload = {"scope": scope, "store_id": self.store_id, "data": data, "hash": digest,
                   "created_at": int(time.time()), "producer": f"stores/{self.store_hash}"}
        body = json.dumps(payload, separators=(",", ":")).encode()
        for hook in self.hooks.values():
            if not hook["is_active"] or not scope_matches(hook["scope"], scope):
                continue
            for _ in range(2 if self.duplicate_deliveries else 1):
                webhook_id = f"msg_{uuid.uuid4().hex}"
                self.sender.send(hook["destination"], body, self._headers_for(hook["id"], webhook_id),
                                 wanted=self._still_active(hook["id"]), on_outcome=self._deactivate_after_last,
                                 retry_delays=self.retry_intervals, hook_id=hook["id"], scope=scope,
                                 webhook_id=webhook_id, hash=digest)

    def _headers_for(self, hook_id: int, webhook_id: str):
        def headers(body: bytes, attempt: int) -> dict[str, str]:
            with self._lock:
                custom = dict((self.hooks.get(hook_id) or {}).get("headers") or {})
            timestamp = int(time.time())
            return {**custom, "Content-Type": "application/json", "webhook-id": webhook_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign(self.client_secret, webhook_id, timestamp, body)}
        return headers

    def _still_active(self, hook_id: int):
        def wanted() -> bool:
            with self._lock:
                hook = self.hooks.get(hook_id)
                return bool(hook and hook["is_active"])
        return wanted

    def _deactivate_after_last(self, delivery: dict[str, Any], outcome: int | str) -> None:
        ok = isinstance(outcome, int) and 200 <= outcome < 300
        if not ok and len(delivery["attempts"]) > len(self.retry_intervals):
            with self._lock:
                hook = self.hooks.get(delivery["hook_id"])
                if hook is not None:
                    hook["is_active"] = False  # deactivated after the last retry; the app owner gets an email
