"""API bearer tokens: shown once at creation, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

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


def check_token(ctx, token: str) -> str | None:
    """The token's name if it is valid, else None. Constant work whatever the input."""
    if not token:
        return None
    with ctx.uow(read_only=True) as uow:
        found = uow.tokens.by_hash(hash_token(token))
        return found.name if found else None
