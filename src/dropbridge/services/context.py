"""What every use case receives: the unit-of-work factory, the clock, the vault, the connector
registry and the job queue. Built by bootstrap; tests build their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dropbridge.services.ports import Storefront, Supplier


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    uow: Callable[..., Any]  # UnitOfWorkFactory: `with ctx.uow() as uow:`
    vault: Any  # dropbridge.secrets.Vault
    build_store: Callable[[Any, dict], Storefront]  # (Store record, decrypted credentials) -> connector
    build_supplier: Callable[[Any, dict], Supplier]
    enqueue: Callable[[int], None] = lambda job_id: None  # hands a job id to the queue after commit
    enqueue_many: Callable[[list[int]], None] | None = None  # the same for many ids; None: one at a time
    clock: Callable[[], datetime] = utc_now
    settings: Any = None
    actor: str = "system"
    alert_channels: Any = None  # email and webhook senders for alerts (bootstrap builds them)
    _connectors: dict[tuple[str, int], Any] = field(default_factory=dict)

    def enqueue_all(self, job_ids: list[int]) -> None:
        if self.enqueue_many is not None:
            self.enqueue_many(job_ids)
        else:
            for job_id in job_ids:
                self.enqueue(job_id)

    def store_connector(self, store) -> Storefront:
        key = ("store", store.id)
        if key not in self._connectors:
            creds = self.vault.decrypt(f"store:{store.id}", store.credentials)
            self._connectors[key] = self.build_store(store, creds)
        return self._connectors[key]

    def supplier_connector(self, supplier) -> Supplier:
        key = ("supplier", supplier.id)
        if key not in self._connectors:
            creds = self.vault.decrypt(f"supplier:{supplier.id}", supplier.credentials)
            self._connectors[key] = self.build_supplier(supplier, creds)
        return self._connectors[key]

    def forget_connectors(self) -> None:
        """Drop cached connectors (after credentials or URLs change)."""
        self._connectors.clear()
