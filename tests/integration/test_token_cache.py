"""API tokens remembered in process: unknown tokens are always refused, and a removed token stops working
once the cache's time-to-live has passed."""

from __future__ import annotations

from sqlalchemy import delete

from dropbridge.services.tokens import TokenCache, check_token, create_token, hash_token
from dropbridge.storage import tables as t


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cached_token_expires_after_ttl_once_removed(app):
    clock = FakeClock()
    cache = TokenCache(ttl=5.0, clock=clock)
    token = create_token(app.ctx, "shop-frontend")
    assert check_token(app.ctx, token, cache) == "shop-frontend"
    assert cache.get(hash_token(token)) == "shop-frontend"

    with app.engine.begin() as conn:  # the token is revoked in the database
        conn.execute(delete(t.api_tokens).where(t.api_tokens.c.name == "shop-frontend"))
    clock.now += 4.9
    assert check_token(app.ctx, token, cache) == "shop-frontend"  # the documented revocation delay
    clock.now += 0.2
    assert check_token(app.ctx, token, cache) is None
    assert cache.get(hash_token(token)) is None
    assert check_token(app.ctx, token) is None


def test_unknown_and_empty_tokens_are_refused_and_not_remembered(app):
    cache = TokenCache(ttl=60.0)
    assert check_token(app.ctx, "dbt_not-a-real-token", cache) is None
    assert check_token(app.ctx, "", cache) is None
    assert cache._entries == {}
    token = create_token(app.ctx, "a")
    assert check_token(app.ctx, token + "x", cache) is None
    assert check_token(app.ctx, token, cache) == "a"


def test_cache_holds_hashes_only_and_is_bounded():
    clock = FakeClock()
    cache = TokenCache(ttl=5.0, max_entries=3, clock=clock)
    for i in range(5):
        cache.put(hash_token(f"t{i}"), f"n{i}")
    assert list(cache._entries) == [hash_token(f"t{i}") for i in (2, 3, 4)]
    assert all(len(k) == 64 for k in cache._entries)
    cache.forget()
    assert cache.get(hash_token("t4")) is None
    off = TokenCache(ttl=0)
    off.put(hash_token("t"), "n")
    assert off.get(hash_token("t")) is None
