"""The access token of one AliExpress account: used until it is about to expire or is refused, then renewed
once with the refresh token (/auth/token/refresh, shared/contracts/suppliers.md 3.1), however many threads
notice at the same moment. The new pair is handed to `save` so the next process starts from it (AliExpress
rotates the refresh token on renewal)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from .errors import RefreshRejected
from .mapping import TokenSet

log = structlog.get_logger("dropbridge.aliexpress")

RENEW_BEFORE = timedelta(minutes=30)


class Tokens:
    def __init__(self, access_token: str, refresh_token: str | None, expires_at: datetime | None, *,
                 renew: Callable[[str], TokenSet], clock: Callable[[], datetime],
                 save: Callable[[dict], None] | None = None, renew_before: timedelta = RENEW_BEFORE):
        self._access, self._refresh, self._expires = access_token, refresh_token, expires_at
        self._renew, self._clock, self._save, self._before = renew, clock, save, renew_before
        self._lock = threading.Lock()
        self._lifetime: timedelta | None = None  # of the last token we renewed
        self.renewals = 0

    def current(self) -> str:
        """The token to call with, renewed first when it expires within `renew_before` (or within half its
        lifetime, for tokens that live less than twice that), where it can be."""
        with self._lock:
            if self._expires is not None and self._refresh and self._expires - self._clock() < self._margin():
                self._renew_locked()
            return self._access

    def _margin(self) -> timedelta:
        return min(self._before, self._lifetime / 2) if self._lifetime else self._before

    def renew(self, refused: str) -> str:
        """The platform refused `refused`: renew, unless another thread already has."""
        with self._lock:
            if self._access == refused:
                self._renew_locked()
            return self._access

    def _renew_locked(self) -> None:
        if not self._refresh:
            raise RefreshRejected("aliexpress: the access token expired and there is no refresh_token: authorize "
                                  "the app again and give dropbridge the new access_token and refresh_token")
        fresh = self._renew(self._refresh)
        self._access, self._refresh, self._expires = fresh.access_token, fresh.refresh_token, fresh.expires_at
        self._lifetime = fresh.expires_at - self._clock() if fresh.expires_at else None
        self.renewals += 1
        if self._save is not None:
            new = {"access_token": fresh.access_token}
            if fresh.refresh_token:
                new["refresh_token"] = fresh.refresh_token
            if fresh.expires_at is not None:
                new["access_token_expires_at"] = fresh.expires_at.isoformat()
            try:
                self._save(new)
            except Exception as exc:  # noqa: BLE001 - the renewed token still works in this process
                log.warning("could not store the renewed aliexpress token", error=str(exc))
