"""The access token: bought with the API key, kept encrypted in the deployment's SecretStore (so every
process shares one, and a restart does not buy another), refreshed before it expires, and never asked for
more often than CJ allows (contract 2.1, 2.2): `getAccessToken` once per 5 minutes, `refreshAccessToken` 5
times a minute, counted across processes in the store itself (a call is claimed there before it is made).

Access tokens live 15 days, refresh tokens 180. A token CJ refuses mid-run (1600001) is dropped: the store
may already hold the one another process got; otherwise it is refreshed, and if the refresh token is refused
too, a new one is bought."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from dropbridge.domain.errors import AuthExpired, RateLimited
from dropbridge.services.ports import SecretStore

from . import mapping
from .client import GET_ACCESS_TOKEN, REFRESH_ACCESS_TOKEN, CjClient

GET_INTERVAL = timedelta(minutes=5)
REFRESH_WINDOW, REFRESH_CALLS = timedelta(minutes=1), 5


def _iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class TokenKeeper:
    def __init__(self, client: CjClient, api_key: str, store: SecretStore, *, clock: Callable[[], datetime],
                 refresh_before: timedelta = timedelta(days=2)):
        self._client, self._api_key, self._store = client, api_key, store
        self._clock, self._refresh_before = clock, refresh_before
        self._key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16]  # a token bought with another key is no use
        self._lock = threading.Lock()
        self._current: dict | None = None
        self._refused: str | None = None  # the token CJ last refused
        self.bought = self.refreshed = 0  # calls made by this process (tests and the bench read them)

    def token(self) -> str:
        with self._lock:
            if self._current is None or not self._fresh(self._current):
                self._current = self._obtain(refused=self._refused)
            return self._current["access_token"]

    def refused(self, token: str) -> None:
        """CJ refused `token`: the next call gets another (stored by another process, refreshed, or new);
        never that one again, even when getting another has to wait."""
        with self._lock:
            self._refused = token
            if self._current is not None and self._current["access_token"] == token:
                self._current = None
                self._current = self._obtain(refused=token)

    # ---- internals --------------------------------------------------------------------------------------

    def _ours(self, stored: dict) -> bool:
        return stored.get("key") == self._key_id and bool(stored.get("access_token"))

    def _fresh(self, data: dict) -> bool:
        expires = _iso(data.get("access_expires"))
        return expires is None or expires - self._clock() > self._refresh_before

    def _usable(self, data: dict) -> bool:
        expires = _iso(data.get("access_expires"))
        return expires is None or expires > self._clock()

    def _obtain(self, refused: str | None) -> dict:
        plan: dict = {}

        def decide(stored: dict) -> dict | None:
            """Under the store's lock: use what is stored, or claim the one call that will replace it."""
            now = self._clock()
            if self._ours(stored) and stored["access_token"] != refused and self._fresh(stored):
                plan["use"] = stored
                return None
            refresh_expires = _iso(stored.get("refresh_expires"))
            can_refresh = (self._ours(stored) and stored.get("refresh_token") and not stored.get("refresh_refused")
                           and (refresh_expires is None or refresh_expires > now))
            if can_refresh:
                recent = [t for t in stored.get("refresh_calls", []) if now - _iso(t) < REFRESH_WINDOW]
                if len(recent) < REFRESH_CALLS:
                    plan["refresh"] = stored["refresh_token"]
                    return {**stored, "refresh_calls": [*recent, now.isoformat()]}
            last = _iso(stored.get("bought_at"))
            if last is not None and now - last < GET_INTERVAL:
                if self._ours(stored) and stored["access_token"] != refused and self._usable(stored):
                    plan["use"] = stored  # near expiry but still good: use it until a refresh is allowed
                    return None
                plan["wait"] = (GET_INTERVAL - (now - last)).total_seconds()
                return None
            plan["buy"] = True
            return {**stored, "bought_at": now.isoformat()}

        self._store.update(decide)
        if "use" in plan:
            return plan["use"]
        if "wait" in plan:
            raise RateLimited(f"CJ access token: getAccessToken was called less than 5 minutes ago; next in "
                              f"{plan['wait']:.0f} s", retry_after=plan["wait"])
        if "refresh" in plan:
            try:
                data = self._client.call("POST", REFRESH_ACCESS_TOKEN, what="cj: refresh access token",
                                         body={"refreshToken": plan["refresh"]})
                self.refreshed += 1
                return self._keep(mapping.token_from_json(data))
            except AuthExpired:  # the refresh token is refused too: buy a new one (if allowed now)
                self._store.update(lambda s: {**s, "refresh_refused": True} if s.get("refresh_token") ==
                                   plan["refresh"] else None)
                return self._obtain(refused)
        data = self._client.call("POST", GET_ACCESS_TOKEN, what="cj: get access token",
                                 body={"apiKey": self._api_key})
        self.bought += 1
        return self._keep(mapping.token_from_json(data))

    def _keep(self, token: dict) -> dict:
        """Store a token we just got, unless another process stored a later one meanwhile (then use that)."""
        now = self._clock()
        mine = {**token, "key": self._key_id, "issued_at": now.isoformat()}

        def merge(stored: dict) -> dict | None:
            if self._ours(stored) and (_iso(stored.get("issued_at")) or now) > now:
                return None
            keep = {k: stored[k] for k in ("bought_at", "refresh_calls") if k in stored}
            return {**keep, **mine}

        kept = self._store.update(merge)
        return kept if self._ours(kept) else mine
