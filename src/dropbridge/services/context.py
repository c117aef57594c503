"""What every use case receives, typed by the ports it needs: the unit-of-work factory, the vault, the
connector registry, the feed codec and downloader, product images, the job queue's enqueue, the clock and the settings.
Built by bootstrap; tests build their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dropbridge.config import Settings
from dropbridge.domain.errors import ConfigurationError

from .connector_secrets import VaultSecretStore
from .feed_port import FeedCodec, FeedDownloader
from .image_port import ImageKit
from .ports import (
    Capability,
    ConnectorDirectory,
    ConnectorServices,
    ControlNumbers,
    SecretVault,
    UnitOfWorkFactory,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    uow: UnitOfWorkFactory
    vault: SecretVault
    connectors: ConnectorDirectory
    settings: Settings
    feeds: FeedCodec
    downloads: FeedDownloader  # feed URLs (the address policy and limits of the settings apply)
    images: ImageKit  # product images: download, process, store
    enqueue: Callable[[int, float], None] = lambda job_id, delay=0: None  # hands a job id to the queue
    enqueue_many: Callable[[list[int]], None] | None = None  # the same for many ids; None: one at a time
    clock: Callable[[], datetime] = utc_now
    actor: str = "system"
    control_numbers: ControlNumbers | None = None  # persisted numbers connectors must never reuse (EDI)
    alert_channels: Any = None  # email and webhook senders for alerts (bootstrap builds them)
    _cache: dict[tuple[str, int], Any] = field(default_factory=dict)

    def enqueue_all(self, job_ids: list[int]) -> None:
        if self.enqueue_many is not None:
            self.enqueue_many(job_ids)
        else:
            for job_id in job_ids:
                self.enqueue(job_id)

    def store_connector(self, store, capability: Capability | None = None) -> Any:
        """The store's connector (the Storefront protocol); with a capability beyond it (PRICES), refuses
        (ConfigurationError) a platform that does not declare it (services/ports.py STORE_PORTS)."""
        if capability is not None and not self.connectors.info("store", store.platform).has(capability):
            raise ConfigurationError(f"store {store.name!r} ({store.platform}) has no {capability.value} capability")
        return self._connector("store", store, store.platform)

    def supplier_connector(self, supplier, capability: Capability | None = None) -> Any:
        """The supplier's connector; with a capability, refuses (ConfigurationError) a kind that lacks it, so
        a caller gets exactly the protocol it asked for (services/ports.py SUPPLIER_PORTS)."""
        if capability is not None and not self.supplier_can(supplier, capability):
            raise ConfigurationError(f"supplier {supplier.name!r} ({supplier.kind}) has no {capability.value} "
                                     "capability")
        return self._connector("supplier", supplier, supplier.kind)

    def supplier_can(self, supplier, capability: Capability) -> bool:
        return self.connectors.info("supplier", supplier.kind).has(capability)

    def _connector(self, role: str, record, kind: str) -> Any:
        key = (role, record.id)
        if key not in self._cache:
            creds = self.vault.decrypt(f"{role}:{record.id}", record.credentials)
            config = dict(record.config or {})
            config.setdefault("timeout", self.settings.http_timeout_seconds)
            owner = f"{role}:{record.id}"
            services = ConnectorServices(owner=owner, control_numbers=self.control_numbers, clock=self.clock,
                                         secrets=VaultSecretStore(self, owner))
            self._cache[key] = self.connectors.build(role, kind, record.base_url, creds, config, services)
        return self._cache[key]

    def forget_connectors(self) -> None:
        """Drop cached connectors (after credentials or URLs change)."""
        self._cache.clear()
