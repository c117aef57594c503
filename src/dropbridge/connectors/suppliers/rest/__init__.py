"""Connector for a generic REST dropship supplier.

The API is documented in `dropbridge.sandbox.rest_supplier`, which also emulates it.
"""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import Capability

from .config import RestConfig
from .connector import RestSupplier, from_config

SPEC = ConnectorSpec(
    name="rest", role="supplier", config_model=RestConfig, factory=from_config,
    capabilities=frozenset({Capability.CATALOG, Capability.STOCK, Capability.ORDERS, Capability.CANCEL,
                            Capability.TRACKING, Capability.WEBHOOKS}),
    offers_by_feed=True, credentials=("api_key",), optional_credentials=("webhook_secret",),
    summary="dropbridge's generic REST supplier API (orders by reference, shipping webhooks); stock by feed files",
    emulator="rest", implementation=RestSupplier,
)

__all__ = ["SPEC", "RestSupplier", "from_config"]
