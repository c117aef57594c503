"""Connector for CJdropshipping API 2.0 (contract: ../shared/contracts/suppliers.md section 2).

Emulated by `dropbridge.sandbox.cjdropshipping` (`dropbridge sandbox run cjdropshipping`)."""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import Capability

from .config import CjConfig
from .connector import CjSupplier, from_config

SPEC = ConnectorSpec(
    name="cjdropshipping", role="supplier", config_model=CjConfig, factory=from_config,
    capabilities=frozenset({Capability.CATALOG, Capability.STOCK, Capability.ORDERS, Capability.CANCEL,
                            Capability.TRACKING, Capability.SHIPPING_QUOTE, Capability.INVOICES,
                            Capability.WEBHOOKS}),
    credentials=("api_key",), optional_credentials=("webhook_secret",), needs_url=False, wants_services=True,
    summary="CJdropshipping API 2.0: catalog with stock per warehouse, freight quotes, orders by our reference "
            "(paid from balance or left for the merchant), tracking, webhooks by a secret in the callback URL",
    emulator="cjdropshipping", implementation=CjSupplier,
)

__all__ = ["SPEC", "CjSupplier", "from_config"]
