"""Access tokens (storefronts.md §1.1): the client-credentials grant issues tokens that expire after
`token_lifetime` ([S] 24 h); `static_tokens` (legacy custom apps' `shpat_...`) never do. An unknown or
expired token is answered 401 with the body §1.1 gives."""

from __future__ import annotations

import secrets


class TokensMixin:
    def grant_token(self) -> str:
        with self._lock:
            token = "shpat_" + secrets.token_hex(16)
            self.tokens[token] = self.clock() + self.token_lifetime
            self.stats["token_grants"] += 1
            return token

    def expire_tokens(self) -> None:
        """Make every issued (non-static) token expired, as if its lifetime had passed."""
        with self._lock:
            for token in self.tokens:
                self.tokens[token] = self.clock() - 1

    def _token_ok(self, token: str | None) -> bool:
        if not token:
            return False
        if token in self.static_tokens:
            return True
        expires = self.tokens.get(token)
        return expires is not None and self.clock() < expires
