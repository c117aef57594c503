"""API bearer tokens: shown once at creation, stored only as a SHA-256 hash.

A token carries scopes (what it may do) and may be limited to named stores and suppliers (whose data it may
touch). `admin` implies every scope. Tokens made before scopes existed were full admin and stay so."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from dropbridge.domain import limits
from dropbridge.domain.errors import Conflict, DuplicateKey, NotFound, ValidationError
from dropbridge.domain.model import ApiToken

from .records import audit

PREFIX = "dbt_"
SCOPES = ("read", "orders:write", "feeds:write", "prices:write", "invoices:write", "admin")
# Every token was full admin before scopes: `token create NAME` keeps making such a token (scripts, the test
# suite and existing deployments rely on it); narrower tokens name their scopes.
DEFAULT_SCOPES = ("admin",)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Principal(str):
    """A valid token's name (it compares and prints as the name) with what the token may do: its scopes and,
    when it is limited, the stores and suppliers it may touch (None: every one)."""

    scopes: frozenset[str]
    stores: frozenset[str] | None
    suppliers: frozenset[str] | None

    def __new__(cls, name: str, scopes: Iterable[str], stores: Iterable[str] | None = None,
                suppliers: Iterable[str] | None = None) -> Principal:
        self = super().__new__(cls, name)
        restricted = stores is not None or suppliers is not None
        self.scopes = frozenset(scopes)
        self.stores = frozenset(stores or ()) if restricted else None
        self.suppliers = frozenset(suppliers or ()) if restricted else None
        return self

    @property
    def name(self) -> str:
        return str(self)

    @property
    def restricted(self) -> bool:
        return self.stores is not None or self.suppliers is not None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def may_use_store(self, name: str) -> bool:
        return not self.restricted or name in (self.stores or ())

    def may_use_supplier(self, name: str) -> bool:
        return not self.restricted or name in (self.suppliers or ())


def principal_of(token: ApiToken) -> Principal:
    return Principal(token.name, token.scopes or (), token.stores, token.suppliers)


def create_token(ctx, name: str, scopes: Iterable[str] = DEFAULT_SCOPES, stores: Iterable[str] = (),
                 suppliers: Iterable[str] = ()) -> str:
    """A new token (shown once). Names are unique: a second token with a taken name is a Conflict.
    Naming stores or suppliers limits the token to those; an unknown name is a ValidationError."""
    scopes, stores, suppliers = sorted(set(scopes)), sorted(set(stores)), sorted(set(suppliers))
    if not name or len(name) > limits.STORE_NAME_MAX:
        raise ValidationError(f"a token name has 1 to {limits.STORE_NAME_MAX} characters", "name")
    limits.check_text(name, "name", limits.STORE_NAME_MAX, code=True)
    if unknown := [s for s in scopes if s not in SCOPES]:
        raise ValidationError(f"unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}", "scope")
    if not scopes:
        raise ValidationError(f"a token needs at least one scope of {', '.join(SCOPES)}", "scope")
    token = PREFIX + secrets.token_urlsafe(32)
    restricted = bool(stores or suppliers)
    try:
        with ctx.uow() as uow:
            if uow.tokens.by_name(name) is not None:
                raise Conflict(f"a token named {name!r} already exists (revoke it first)")
            for store in stores:
                if uow.stores.by_name(store) is None:
                    raise ValidationError(f"no store named {store!r}", "store")
            for supplier in suppliers:
                if uow.suppliers.by_name(supplier) is None:
                    raise ValidationError(f"no supplier named {supplier!r}", "supplier")
            uow.add(ApiToken(name=name, token_hash=hash_token(token), created_at=ctx.clock(), scopes=scopes,
                             stores=stores if restricted else None, suppliers=suppliers if restricted else None))
            audit(uow, ctx, "token.created", f"token:{name}",
                  {"scopes": scopes, **({"stores": stores, "suppliers": suppliers} if restricted else {})})
            uow.commit()
    except DuplicateKey:  # created by someone else meanwhile (the unit of work translates the database's error)
        raise Conflict(f"a token named {name!r} already exists (revoke it first)") from None
    return token


def list_tokens(ctx) -> list[dict]:
    """Every token's name, scopes, limits and dates (never the token or its hash)."""
    with ctx.uow(read_only=True) as uow:
        return [{"name": t.name, "scopes": list(t.scopes or ()), "stores": t.stores, "suppliers": t.suppliers,
                 "created_at": t.created_at, "last_used_at": t.last_used_at} for t in uow.tokens.all()]


def revoke_token(ctx, name: str) -> None:
    """Delete the token named `name` (NotFound if there is none). API processes that remembered it stop
    accepting it within their cache's lifetime (5 seconds by default)."""
    with ctx.uow() as uow:
        token = uow.tokens.by_name(name)
        if token is None:
            raise NotFound(f"no token named {name!r}")
        uow.tokens.remove(token)
        audit(uow, ctx, "token.revoked", f"token:{name}")
        uow.commit()


class TokenCache:
    """Token hash -> Principal for tokens the database confirmed in the last `ttl` seconds, so a busy API does
    not pay a query per request. Only valid tokens are remembered (an unknown or removed token always goes
    to the database), keyed by hash (the cache never holds a usable token), at most `max_entries` of them.
    The price: a token deleted from the database keeps working in a running process for up to `ttl`
    seconds (5 by default); `forget()` drops everything at once."""

    def __init__(self, ttl: float = 5.0, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> Principal | None:
        with self._lock:
            hit = self._entries.get(token_hash)
            if hit is None:
                return None
            if hit[1] <= self._clock():
                del self._entries[token_hash]
                return None
            return hit[0]

    def put(self, token_hash: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[token_hash] = (principal, self._clock() + self.ttl)
            self._entries.move_to_end(token_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


def check_token(ctx, token: str, cache: TokenCache | None = None) -> Principal | None:
    """Whom the token speaks for if it is valid, else None. Work depends on the token's hash only, never on
    how close a guess comes to a real token (lookups are by exact hash, in the cache and in the database)."""
    if not token:
        return None
    token_hash = hash_token(token)
    if cache is not None and (principal := cache.get(token_hash)) is not None:
        return principal
    with ctx.uow(read_only=True) as uow:
        found = uow.tokens.by_hash(token_hash)
        principal = principal_of(found) if found else None
    if principal is not None and cache is not None:
        cache.put(token_hash, principal)
    return principal
