"""Secrets a connector obtains at run time (an access token, its refresh token), kept per connection in the
database, encrypted by the vault and bound to their owner like the credentials they were bought with. Every
process of a deployment shares them, so a platform that sells tokens only so often (CJdropshipping: one
`getAccessToken` per 5 minutes) is asked once, not once per worker or restart."""

from __future__ import annotations

from collections.abc import Callable

from .records import audit


class VaultSecretStore:
    """services/ports.py SecretStore for one connection ("supplier:7") and one secret name."""

    def __init__(self, ctx, owner: str, name: str = "runtime"):
        self._ctx, self.owner, self.name = ctx, owner, name

    @property
    def _bound_to(self) -> str:
        return f"{self.owner}/{self.name}"

    def load(self) -> dict:
        with self._ctx.uow(read_only=True) as uow:
            blob = uow.connector_secrets.get(self.owner, self.name)
        return self._ctx.vault.decrypt(self._bound_to, blob)

    def update(self, change: Callable[[dict], dict | None]) -> dict:
        with self._ctx.uow() as uow:
            now = self._ctx.clock()
            current = self._ctx.vault.decrypt(self._bound_to, uow.connector_secrets.lock(self.owner, self.name, now))
            new = change(dict(current))
            if new is None:
                uow.commit()  # ends the lock; nothing changed
                return current
            uow.connector_secrets.put(self.owner, self.name, self._ctx.vault.encrypt(self._bound_to, new), now)
            changed = sorted(k for k in set(new) | set(current) if new.get(k) != current.get(k))
            audit(uow, self._ctx, "connector.secrets_renewed", self.owner, {"fields": changed})  # names, never values
            uow.commit()
            return new

