"""Connector for AliExpress dropshipping (the AliExpress Open Platform's DS methods, IOP signing).

The API is described in shared/contracts/suppliers.md section 3 and emulated by
`dropbridge.sandbox.aliexpress` (`dropbridge sandbox run aliexpress`)."""

from dropbridge.connectors.registry import ConnectorSpec
from dropbridge.services.ports import Capability

from .config import AliExpressConfig
from .connector import AliExpressSupplier, from_config

SPEC = ConnectorSpec(
    name="aliexpress", role="supplier", config_model=AliExpressConfig, factory=from_config,
    capabilities=frozenset({Capability.CATALOG, Capability.STOCK, Capability.ORDERS, Capability.TRACKING,
                            Capability.SHIPPING_QUOTE}),
    credentials=("app_key", "app_secret", "access_token"),
    optional_credentials=("refresh_token", "access_token_expires_at"),
    wants_services=True,
    summary="AliExpress dropshipping: SKUs, stock and prices per ship-to country, freight quotes, orders "
            "(unpaid until paid or auto-pay), tracking; cannot be asked whether an order landed",
    emulator="aliexpress", implementation=AliExpressSupplier,
)

__all__ = ["SPEC", "AliExpressSupplier", "from_config"]
