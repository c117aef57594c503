"""API bearer tokens: shown once at creation, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from dropbridge.domain.model import ApiToken

from .records import audit

PREFIX = "dbt_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(ctx, name: str) -> str:
    token = PREFIX + secrets.token_urlsafe(32)
    with ctx.uow() as uow:
        uow.add(ApiToken(name=name, token_hash=hash_token(token), created_at=ctx.clock()))
        audit(uow, ctx, "token.created", f"token:{name}")
        uow.commit()
    return token


class TokenCache:
    """Token hash -> name for tokens the database confirmed in the last `ttl` seconds, so a busy API does
    not pay a query per request. Only valid tokens are remembered (an unknown or removed token always goes
    to the database), keyed by hash (the cache never holds a usable token), at most `max_entries` of them.
    The price: a token deleted from the database keeps working in a running process for up to `ttl`
    seconds (5 by default); `forget()` drops everything at once."""

    def __init__(self, ttl: float = 5.0, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> str | None:
        with self._lock:
            hit = self._entries.get(token_hash)
            if hit is None:
                return None
            if hit[1] <= self._clock():
                del self._entries[token_hash]
                return None
            return hit[0]

    def put(self, token_hash: str, name: str) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[token_hash] = (name, self._clock() + self.ttl)
            self._entries.move_to_end(token_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


def check_token(ctx, token: str, cache: TokenCache | None = None) -> str | None:
    """The token's name if it is valid, else None. Work depends on the token's hash only, never on how
    close a guess comes to a real token (lookups are by exact hash, in the cache and in the database)."""
    if not token:
        return None
    token_hash = hash_token(token)
    if cache is not None and (name := cache.get(token_hash)) is not None:
        return name
    with ctx.uow(read_only=True) as uow:
        found = uow.tokens.by_hash(token_hash)
        name = found.name if found else None
    if name is not None and cache is not None:
        cache.put(token_hash, name)
    return name


def list_tokens(ctx) -> list[dict]:
    """Names and dates of the tokens; the tokens themselves were never stored."""
    with ctx.uow(read_only=True) as uow:
        return [{"id": i, "name": n, "created_at": c, "last_used_at": u} for i, n, c, u in uow.token_admin.all()]


def revoke_token(ctx, token_id: int) -> str:
    """Delete a token: API processes stop accepting it within their cache time (TokenCache.ttl)."""
    from dropbridge.domain.errors import NotFound

    with ctx.uow() as uow:
        name = uow.token_admin.delete(token_id)
        if name is None:
            raise NotFound(f"no API token {token_id}")
        audit(uow, ctx, "token.revoked", f"token:{name}", {"id": token_id})
        uow.commit()
    return name
